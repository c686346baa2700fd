"""Smoke tests of the C9-C12 and C15/C16 figure scripts at --quick (the two > 5 s are slow)."""

import importlib

import pandas as pd
import pytest

SCRIPTS = {
    "regularization_bn_pn": {"gap", "train_loss"},
    "regularization_mean_variance": {"gap", "method"},
    "regularization_batch_size": {"gamma2_1", "gamma2_2", "open_layer"},
    "regularization_dropout": {"gap", "label"},
    "switchable_weights": {"mean_bn_1", "var_bn_1", "rho_1"},
}
SLOW = {"regularization_bn_pn", "regularization_dropout"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SCRIPTS]
)
def test_figure_quick(name, tmp_path, capsys):
    mod = importlib.import_module(f"figures.{name}")
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / f"{name}.parquet")
    assert {"seed_index", "test_loss"} | SCRIPTS[name] <= set(df.columns)
    assert df["test_loss"].notna().all()
    # a figure script judges no claim (regnorm verify does): nothing on stdout
    out, err = capsys.readouterr()
    assert out == "" and "verdict" not in err and err.splitlines()[-1].startswith("wrote ")
