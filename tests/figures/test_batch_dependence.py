"""Smoke test of figures/batch_dependence.py at --quick."""

import pandas as pd

from figures import batch_dependence


def test_batch_dependence_quick(tmp_path):
    assert batch_dependence.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "batch_dependence.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "batch_dependence.parquet")
    assert {"normalizer", "M", "noise"} <= set(df.columns)
