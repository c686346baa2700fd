"""Smoke test of figures/proxy_norm_depth.py at --quick."""

import pandas as pd

from figures import proxy_norm_depth


def test_proxy_norm_depth_quick(tmp_path):
    assert proxy_norm_depth.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "proxy_norm_depth.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "proxy_norm_depth.parquet")
    assert set(df.norm) == {"BN", "LN", "IN", "GN", "LN+PN", "GN+PN"}
