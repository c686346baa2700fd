"""Smoke tests of the C9-C12 and C15/C16 figure scripts at --quick (slow: ~10-25 s each)."""

import importlib

import pandas as pd
import pytest

SCRIPTS = [
    "regularization_bn_pn",
    "regularization_mean_variance",
    "regularization_batch_size",
    "regularization_dropout",
    "switchable_weights",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_figure_quick(name, tmp_path, capsys):
    mod = importlib.import_module(f"figures.{name}")
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / f"{name}.parquet")
    assert {"seed_index", "test_loss", "gap"} <= set(df.columns)
    assert df["test_loss"].notna().all()
    out = capsys.readouterr().out
    assert "verdict" in out
