"""figures/bn_noise.py: its command line, and a --quick run (files written, data consistent)."""

import numpy as np
import pandas as pd

from figures import bn_noise
from regnorm.batch_noise import standardization_error
from simulations.batch_noise import M_GRID
from tests.tolerances import assert_allclose_rounding


def test_main_parses_then_runs(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_run(out, **kw):
        calls.append((out, kw))
        return [out / "bn_noise.png"]

    monkeypatch.setattr(bn_noise, "run", fake_run)
    assert bn_noise.main(["--quick", "--out", str(tmp_path), "--seed", "3"]) == 0
    # typed arguments, not argv strings
    assert calls == [(tmp_path, {"quick": True, "seed": 3, "executor": None})]
    out, err = capsys.readouterr()
    assert out == "" and f"wrote {tmp_path / 'bn_noise.png'}" in err


def test_bn_noise_quick(tmp_path):
    paths = bn_noise.run(tmp_path, quick=True, seed=3)
    names = ("bn_noise_c1.parquet", "bn_noise_c3.parquet", "bn_noise.png")
    assert paths == [tmp_path / n for n in names]
    png = tmp_path / "bn_noise.png"
    assert png.stat().st_size > 20_000
    c1 = pd.read_parquet(tmp_path / "bn_noise_c1.parquet")
    c3 = pd.read_parquet(tmp_path / "bn_noise_c3.parquet")
    assert set(c1.M) == set(M_GRID) and (c1.stderr > 0).all()
    exact = [
        standardization_error(int(m), inside=bool(i), ddof=int(d))
        for m, i, d in zip(c1.M, c1.inside, c1.ddof, strict=True)
    ]
    assert_allclose_rounding(c1.exact, exact)
    # every C1 point within 5 standard errors of the exact value
    assert np.all(np.abs(c1.estimate - c1.exact) <= 5 * c1.stderr)
    # the exact x-outside curves start at M = 4 far above the C1 panel: their values listed
    fig = bn_noise.plot(c1, c3)
    text = "\n".join(t.get_text() for t in fig.axes[0].texts)
    for ddof in (0, 1):
        start = 4 * standardization_error(4, inside=False, ddof=ddof)
        assert start > bn_noise.C1_TOP
        assert f"x outside, ddof={ddof}: exact {start:.3g} at M=4" in text
    # uniform input never takes |z| > sqrt(3): no conditional error there
    uni = c3[c3.distribution == "uniform"]
    assert uni.z.max() <= np.sqrt(3) and len(c3.distribution.unique()) == 4
    # and the legend says why its curves end there
    labels = fig.axes[2].get_legend_handles_labels()[1]
    assert any("uniform" in lab and "√3" in lab for lab in labels), labels
