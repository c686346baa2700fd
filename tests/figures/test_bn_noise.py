"""Smoke test of figures/bn_noise.py at --quick size: files written, data consistent."""

import numpy as np
import pandas as pd

from figures import bn_noise
from regnorm.batch_noise import standardization_error
from tests.tolerances import assert_allclose_rounding


def test_bn_noise_quick(tmp_path, capsys):
    assert bn_noise.main(["--quick", "--out", str(tmp_path), "--seed", "3"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"wrote {tmp_path / 'bn_noise_c1.parquet'}" in err
    png = tmp_path / "bn_noise.png"
    assert png.stat().st_size > 20_000
    c1 = pd.read_parquet(tmp_path / "bn_noise_c1.parquet")
    c3 = pd.read_parquet(tmp_path / "bn_noise_c3.parquet")
    assert set(c1.M) == set(bn_noise.M_GRID) and (c1.stderr > 0).all()
    exact = [
        standardization_error(int(m), inside=bool(i), ddof=int(d))
        for m, i, d in zip(c1.M, c1.inside, c1.ddof, strict=True)
    ]
    assert_allclose_rounding(c1.exact, exact)
    # every C1 point within 5 standard errors of the exact value
    assert np.all(np.abs(c1.estimate - c1.exact) <= 5 * c1.stderr)
    # uniform input never takes |z| > sqrt(3): no conditional error there
    uni = c3[c3.distribution == "uniform"]
    assert uni.z.max() <= np.sqrt(3) and len(c3.distribution.unique()) == 4
