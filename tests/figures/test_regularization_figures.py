"""Smoke tests of the C9-C12 and C15/C16 figure scripts at --quick (the two > 5 s are slow)."""

import importlib
import re

import pandas as pd
import pytest

from figures import switchable_weights

SCRIPTS = {
    "regularization_bn_pn": {"gap", "train_loss"},
    "regularization_mean_variance": {"gap", "method"},
    "regularization_batch_size": {"gamma2_1", "gamma2_2", "open_layer"},
    "regularization_dropout": {"gap", "label"},
    "switchable_weights": {"mean_bn_1", "var_bn_1", "rho_1"},
}
SLOW = {"regularization_bn_pn", "regularization_dropout"}


def _all_text(fig) -> list[str]:
    texts = [t.get_text() for t in fig.texts] + [fig.get_suptitle()]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in ax.texts + ax.get_yticklabels()]
        texts += ax.get_legend_handles_labels()[1]
    return texts


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SCRIPTS]
)
def test_figure_quick(name, tmp_path, capsys, monkeypatch):
    mod = importlib.import_module(f"figures.{name}")
    common = importlib.import_module("figures.common")
    figures = []
    save = common.save_figure

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    # the figures of shared runs draw and save through figures.common.draw_shared_run
    monkeypatch.setattr(common, "save_figure", keep)
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / f"{name}.parquet")
    assert {"rep", "test_loss"} | SCRIPTS[name] <= set(df.columns)
    assert df["test_loss"].notna().all()
    # a figure script judges no claim (regnorm verify does): nothing on stdout
    out, err = capsys.readouterr()
    assert out == "" and "verdict" not in err and err.splitlines()[-1].startswith("wrote ")
    (fig,) = figures
    assert all(ax.get_ylabel() for ax in fig.axes), [ax.get_title() for ax in fig.axes]
    text = _all_text(fig)
    # names a reader knows, typeset: no plain-text gamma^2, no code names, no negative zero
    plain = re.compile(r"(?<!\\)gamma\^2|rho1|-0\.0\b")
    assert not [t for t in text if plain.search(t)], text
    if name.startswith("regularization_"):
        # the paired differences (or slopes) that the verdicts judge are drawn
        assert any(ax.get_title().startswith("what the verdicts judge") for ax in fig.axes)


def test_run_returns_the_files_it_writes(tmp_path):
    """The command line calls ``run`` directly: typed arguments in, the paths written out."""
    # seed 0 at --quick: the shared run of test_figure_quick, not trained again
    paths = switchable_weights.run(tmp_path / "out", quick=True, seed=0)
    assert paths == [tmp_path / "out" / f"switchable_weights.{ext}" for ext in ("png", "parquet")]
    assert all(p.stat().st_size > 0 for p in paths)
    assert pd.read_parquet(paths[1]).attrs["settings"]["repetitions"] >= 2


@pytest.mark.parametrize(
    ("x", "text"), [(-0.04, "0.0"), (0.04, "0.0"), (-0.0, "0.0"), (-0.06, "-0.1"), (4.26, "4.3")]
)
def test_signed_never_prints_a_negative_zero(x, text):
    assert switchable_weights.signed(x) == text
