"""C22 for the small-batch normalizers: ghost BN, synchronized BN, batch renormalization and
RMS norm, against what THEORY §1's law of the batch statistics predicts for each."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.batch_noise import batch_renorm_noise, standardization_error
from simulations import normalizer_family as nf
from tests.tolerances import assert_z_exceeds, assert_z_within


def test_batch_renorm_noise_against_sampled_batch_statistics():
    """Independent check of the closed form: draw sigma_B and mu_B from their exact laws
    (M sigma_B^2 ~ chi2(M-1), mu_B ~ N(0, 1/M)) and average the clipped deviations."""
    rng = np.random.default_rng(0)
    n = 400_000
    for m, r, d in [(32, 1.1, 0.1), (128, 1.05, 0.05), (16, 1.5, 0.3)]:
        s = np.sqrt(rng.chisquare(m - 1, n) / m)
        mu = rng.standard_normal(n) / np.sqrt(m)
        v = (s - np.clip(s, 1 / r, r)) ** 2 + (mu - np.clip(mu, -d, d)) ** 2
        assert_z_within(
            v.mean(), v.std(ddof=1) / np.sqrt(n), batch_renorm_noise(m, r_max=r, d_max=d)
        )
    # negative control: BN's law is far from BRN's
    assert_z_exceeds(v.mean(), v.std(ddof=1) / np.sqrt(n), standardization_error(16))


def test_batch_renorm_noise_limits():
    ms = np.array([2, 32, 1024])
    np.testing.assert_allclose(
        batch_renorm_noise(ms, r_max=1.0, d_max=0.0), standardization_error(ms), rtol=1e-11
    )
    # the paper's clips at 512 values: only the far tails of sigma_B act (about 3e-153)
    assert 0.0 <= batch_renorm_noise(512, r_max=3.0, d_max=5.0) < 1e-100
    with pytest.raises(ValueError, match="r_max"):
        batch_renorm_noise(8, r_max=0.5, d_max=0.0)
    with pytest.raises(TypeError, match="M must be an integer"):
        batch_renorm_noise(8.0, r_max=1.0, d_max=0.0)


def test_predictions_of_the_small_batch_normalizers():
    hw = nf.SAMPLE_SHAPE[1] * nf.SAMPLE_SHAPE[2]
    for M in (2, 4, 8, 64):
        bn = float(standardization_error(M * hw))
        assert nf.noise_prediction("SyncBN", M) == bn
        assert nf.noise_prediction("GhostBN", M) == float(standardization_error(min(M, 4) * hw))
    assert nf.noise_prediction("RMSNorm", 8) is None


@pytest.mark.parametrize("name", ["ghost_batch_norm", "sync_batch_norm", "batch_renorm"])
def test_measured_noise_agrees_with_the_prediction(name):
    df = nf.batch_dependence_noise([name], Ms=(2, 16), repetitions=8, batches=10, seed=3)
    s = nf.summarize(df, ["normalizer", "M"], "noise")
    for row in s.itertuples():
        assert_z_within(row.mean, row.stderr, nf.noise_prediction(name, row.M))
    if name == "ghost_batch_norm":  # negative control: at M = 16 it is not BN's noise at M = 16
        row = s[s.M == 16].iloc[0]
        assert_z_exceeds(row["mean"], row["stderr"], nf.noise_prediction("batch_norm", 16))


def test_rms_norm_is_batch_free():
    df = nf.batch_dependence_noise(["rms_norm"], Ms=(2, 8), repetitions=2, batches=3, seed=1)
    assert float(df["noise"].max()) < 1e-24
