"""Smoke test of figures/proxy_norm_depth.py at --quick, and how it shows its exact zeros."""

import pandas as pd

from figures import proxy_norm_depth
from simulations.normalizer_family import summarize

#: (panel, normalizer) whose statistic the normalization sets to 0: IN fixes each instance's
#: mean and std, BN each channel's mean
ZEROS = {(0, "BN"), (0, "IN"), (1, "IN"), (2, "IN")}


def test_proxy_norm_depth_quick(tmp_path):
    paths = proxy_norm_depth.run(tmp_path, quick=True)
    assert paths == [tmp_path / "proxy_norm_depth.parquet", tmp_path / "proxy_norm_depth.png"]
    assert (tmp_path / "proxy_norm_depth.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "proxy_norm_depth.parquet")
    assert set(df.norm) == {"BN", "LN", "IN", "GN", "LN+PN", "GN+PN"}
    cfg = dict(width=16, size=8, batch=16, repetitions=3)
    fig = proxy_norm_depth.plot(summarize(df, ["norm", "metric", "depth"], "value"), cfg)
    for k, ax in enumerate(fig.axes):
        marked = {
            norm
            for norm, (color, _) in proxy_norm_depth.STYLES.items()
            for line in ax.get_lines()
            if line.get_marker() == "v" and line.get_color() == color
        }
        expected = {norm for panel, norm in ZEROS if panel == k}
        assert marked == expected, (k, marked)
        note = " ".join(t.get_text() for t in ax.texts)
        assert all(n in note for n in expected) and "0 (by construction" in note
    # GroupNorm(4, C) in the simulation: the title states it
    assert "4 groups of 4 channels" in fig._suptitle.get_text()
