"""Smoke test of figures/batch_dependence.py at --quick, and that it draws what its data says."""

import pandas as pd

from figures import batch_dependence
from simulations.normalizer_family import batch_dependence_noise


def test_batch_dependence_quick(tmp_path):
    assert batch_dependence.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "batch_dependence.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "batch_dependence.parquet")
    assert {"normalizer", "M", "noise"} <= set(df.columns)


def test_the_figure_reads_the_sample_shape_and_settings_from_the_data():
    df = batch_dependence_noise(["BN", "LN"], Ms=(2, 4), repetitions=2, batches=1, seed=0)
    df.attrs["settings"] = dict(df.attrs["settings"], sample_shape=(8, 2, 2), ghost_batch=2)
    fig = batch_dependence.plot(df)
    ax = fig.axes[0]
    assert "(M, 8, 2, 2)" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("m = M H W = 4M" in t for t in labels), labels
    assert "ghost BN exact: BN's at min(M, 2)" in labels
