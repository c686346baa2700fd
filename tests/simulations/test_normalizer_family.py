"""The normalizer-family measurements (C14, C17-C22) at quick sizes."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.claims import CheckContext
from regnorm.normalizers import KernelNorm, SwitchableNorm
from simulations import normalizer_family as nf
from simulations.checks import normalizer_family as checks
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within


def test_bn_noise_exact_limits():
    # leading term of the 1/m series is 3/(2m): relative gap O(1/m)
    m = np.array([1e3, 1e5])
    rel = np.abs(nf.bn_noise_exact(m) * 2 * m / 3 - 1)
    assert rel[1] < rel[0] < 1e-2
    # m = 2: E[sigma_B] = sqrt(2/2) Gamma(1)/Gamma(1/2) = 1/sqrt(pi)
    assert_allclose_rounding(nf.bn_noise_exact(2), 2 - 2 / np.sqrt(np.pi))
    with pytest.raises(ValueError, match="m must be >= 2"):
        nf.bn_noise_exact(1)


def test_batch_dependence_noise_bn_matches_c1_and_rejects_wrong_batch_size():
    df = nf.batch_dependence_noise(["BN", "LN"], Ms=(4,), repetitions=8, batches=10, seed=3)
    s = nf.summarize(df, ["normalizer", "M"], "noise").set_index("normalizer")
    bn = s.loc["batch_norm"]
    assert_z_within(bn["mean"], bn["stderr"], nf.bn_noise_exact(4 * 16))
    # negative control: the noise of half the batch size is rejected
    assert_z_exceeds(bn["mean"], bn["stderr"], nf.bn_noise_exact(2 * 16))
    assert s.loc["layer_norm", "mean"] < nf.ROUNDING_NOISE


def test_batch_dependence_noise_is_reproducible_and_validates():
    a = nf.batch_dependence_noise(["SN"], Ms=(2,), repetitions=2, batches=2, seed=5)
    b = nf.batch_dependence_noise(["SN"], Ms=(2,), repetitions=2, batches=2, seed=5)
    np.testing.assert_array_equal(a["noise"], b["noise"])
    with pytest.raises(ValueError, match="normalizer='XN' is not a normalizer"):
        nf.batch_dependence_noise(["XN"])
    with pytest.raises(ValueError, match="normalizer 'batch_norm_mean' is not measured here"):
        nf.batch_dependence_noise(["batch_norm_mean"])
    with pytest.raises(ValueError, match="norm='XN' is not a block here"):
        nf.proxy_norm_depth_profile(["XN"])


def test_any_spelling_of_a_normalizer_gives_the_same_numbers():
    kw = dict(Ms=(2,), repetitions=2, batches=2, seed=5)
    a = nf.batch_dependence_noise(["BN", "kernel_norm"], **kw)
    b = nf.batch_dependence_noise(["BatchNorm", "KN"], **kw)
    assert (
        list(a["normalizer"]) == list(b["normalizer"]) == ["batch_norm"] * 2 + ["kernel_norm"] * 2
    )
    np.testing.assert_array_equal(a["noise"], b["noise"])


def test_proxy_norm_depth_profile_table():
    df = nf.proxy_norm_depth_profile(
        ["BN", "IN"], depth=3, width=4, size=4, batch=4, repetitions=2, seed=1
    )
    assert set(df.columns) == {"norm", "depth", "metric", "rep", "value"}
    assert sorted(df.depth.unique()) == [1, 2, 3]
    bn = df[(df.norm == "BN") & (df.metric == "channel_sq_mean")]["value"]
    assert float(bn.max()) < 1e-25  # BN's channel means are 0 by construction


@pytest.mark.parametrize("claim_id", ["C14", "C17", "C18", "C19", "C20", "C21", "C22"])
def test_checks_run_quick_and_nothing_deviates(claim_id):
    (check,) = [c for c in checks.CHECKS if c.id == claim_id]
    records = list(check(CheckContext(quick=True, seed=0)))
    assert records
    assert all(r.id == claim_id for r in records)
    assert [r for r in records if r.verdict == "deviates"] == []


def test_same_numbers_on_local_processes():
    kw = dict(Ms=(2, 4), repetitions=2, batches=2, seed=7)
    a = nf.batch_dependence_noise(["BN", "SN"], **kw)
    b = nf.batch_dependence_noise(["BN", "SN"], executor="processes:2", **kw)
    np.testing.assert_array_equal(a["noise"].to_numpy(), b["noise"].to_numpy())


def test_unit_moments_check_every_unit():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((5, 3, 10))
    y = (y - y.mean(axis=(0, 2), keepdims=True)) / y.std(axis=(0, 2), keepdims=True)
    recs = list(checks.unit_moment_records("C17", {}, y, (0, 2)))
    assert [r.verdict for r in recs] == ["holds", "holds"] and recs[0].params["units"] == 3
    # One unit at variance 1, the others below: the largest variance alone would pass.
    y[:, 1:] *= np.sqrt(0.5)
    recs = list(checks.unit_moment_records("C17", {}, y, (0, 2)))
    assert float(np.max(y.var(axis=(0, 2)))) == pytest.approx(1.0)
    assert [r.verdict for r in recs] == ["holds", "deviates"]


def test_kernel_norm_dropout_statistics_against_the_window_reference():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6))
    layer = KernelNorm(3, stride=2, padding=1, dropout=0.4, rng=11)
    got = layer.forward(x, training=True)
    assert_allclose_rounding(got, nf.kernel_norm_reference(x, 3, 2, 1, 0.4, 11, layer.eps), ops=100)
    # negative controls: other masks, and no dropout, give other outputs
    assert np.abs(got - nf.kernel_norm_reference(x, 3, 2, 1, 0.4, 12, layer.eps)).max() > 0.1
    assert np.abs(got - nf.kernel_norm_reference(x, 3, 2, 1, 0.0, 11, layer.eps)).max() > 0.1


def test_sn_noise_factor():
    sn = SwitchableNorm(4)
    assert nf.sn_noise_factor(sn) == pytest.approx(1 / 9, rel=1e-12)  # equal weights
    sn.params["mean_logits"] = np.array([-1e3, -1e3, 0.0])
    sn.params["var_logits"] = np.array([-1e3, -1e3, 0.0])
    assert nf.sn_noise_factor(sn) == pytest.approx(1.0, rel=1e-12)  # SN is BN


def test_sn_noise_reference_uses_population_statistics():
    # SN's noise against SN with the population BN statistics is 1/9 of BN's (first order;
    # the second-order term is about 2% at m = 32): a reference that uses the running
    # averages just moved by the batch gives about 0.094 x BN's, rejected here.
    df = nf.batch_dependence_noise(["SN"], Ms=(2,), repetitions=16, batches=25, seed=2)
    s = nf.summarize(df, ["normalizer", "M"], "noise").iloc[0]
    predicted = nf.sn_noise_factor(SwitchableNorm(8)) * nf.bn_noise_exact(2 * 16)
    assert_z_within(s["mean"], s["stderr"], predicted)
    assert_z_exceeds(s["mean"], s["stderr"], 0.094 * nf.bn_noise_exact(2 * 16))
