"""The C1 error's next term 7/(16 M^2) by Monte-Carlo (simulations.batch_noise.next_order), at
tiny sizes on NumPy and on array-api-strict's device1."""

import math

import mpmath
import numpy as np
import pandas as pd
import pytest

from regnorm.seeding import generator
from simulations.batch_noise import (
    NEXT_TERM,
    c1_next_order,
    error_variance,
    next_order_fit,
    trials_for_stderr,
)
from simulations.batch_noise.engine import power_sums, variance_from_sums
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within

STRICT = "array_api_strict:device1"


def _exact_y(M):
    """``M^2 (eps(M) - 3/(2M))`` at 40 digits from the Gamma functions themselves."""
    with mpmath.workdps(40):
        M = mpmath.mpf(M)
        es = mpmath.sqrt(2 / M) * mpmath.exp(mpmath.loggamma(M / 2) - mpmath.loggamma((M - 1) / 2))
        return float(M * M * (2 - 2 * es) - 3 * M / 2)


def test_the_series_of_the_exact_error():
    # y(M) = 7/16 + 9/(64 M) + O(1/M^2): at M = 10^5 the rest is below 1e-9
    assert abs(_exact_y(10**5) - NEXT_TERM - 9 / (64 * 10**5)) < 1e-9
    assert NEXT_TERM == 7 / 16


@pytest.mark.parametrize("backend", [None, STRICT])
def test_estimates_agree_with_the_exact_value_and_resolve_the_next_term(backend):
    df = c1_next_order(Ms=(8, 16), trials=(1_000_000, 400_000), backend=backend, seed=3)
    assert df["M"].tolist() == [8, 16] and df["trials"].tolist() == [1_000_000, 400_000]
    for row in df.itertuples():
        assert_allclose_rounding(row.exact, _exact_y(row.M), ops=row.M**2)
        assert_z_within(row.estimate, row.stderr, row.exact)
        assert_z_within(row.z_exact, 1.0, 0.0)
        # negative controls: no next term at all (the leading term alone), and a wrong one
        assert_z_exceeds(row.estimate, row.stderr, 0.0)
    assert_z_exceeds(df.estimate[0], df.stderr[0], 9 / 16)
    assert df.attrs["settings"]["backend"] == ("numpy" if backend is None else STRICT)


def test_strict_device_gives_numpys_estimates():
    # NumPy's own draws on the device; the reductions differ in order only. y = M^2 mean - 1.5M
    # loses the leading 1.5M, so the comparison is of M^2 mean, the quantity summed.
    a = c1_next_order(Ms=(4, 32), trials=300_000, seed=5)
    b = c1_next_order(Ms=(4, 32), trials=300_000, seed=5, backend=STRICT)
    ops = 10 * math.log2(300_000)
    assert_allclose_rounding(b.estimate + 1.5 * b.M, a.estimate + 1.5 * a.M, ops=ops)
    assert_allclose_rounding(b.stderr, a.stderr, ops=ops)
    assert b.attrs["settings"] == {**a.attrs["settings"], "backend": STRICT}


def test_same_seed_same_numbers_and_the_block_defines_the_streams():
    a = c1_next_order(Ms=(8,), trials=5000, seed=1)
    pd.testing.assert_frame_equal(a, c1_next_order(Ms=(8,), trials=5000, seed=1))
    assert c1_next_order(Ms=(8,), trials=5000, seed=2).estimate[0] != a.estimate[0]
    other = c1_next_order(Ms=(8,), trials=5000, seed=1, block=1000)
    assert other.estimate[0] != a.estimate[0]
    assert other.attrs["settings"]["block"] == 1000


def test_error_variance_against_direct_batches():
    # M e = (sqrt(S) - sqrt(M))^2 + Z^2, drawn directly; its sample variance (delta-method
    # standard error from the fourth moment) against the closed form
    M, n = 8, 400_000
    g = generator(11, 0)
    Z = g.standard_normal(n)
    S = g.chisquare(M - 1, n)
    Me = (np.sqrt(S) - math.sqrt(M)) ** 2 + Z * Z
    var = variance_from_sums(power_sums(Me - 1.5, 4))
    assert_z_within(var.value, var.stderr, error_variance(M))
    # negative control: Var(Z^2) taken as 1 instead of 2
    assert_z_exceeds(var.value, var.stderr, error_variance(M) - 1.0)


@pytest.mark.parametrize("M", [4, 64])
def test_error_variance_against_high_precision(M):
    with mpmath.workdps(40):
        m = mpmath.mpf(M)
        q = (
            m
            * mpmath.sqrt(2 / m)
            * mpmath.exp(mpmath.loggamma(m / 2) - mpmath.loggamma((m - 1) / 2))
        )
        exact = float(4 * m * m - 2 * m - 4 * q * q - 4 * q)
    # 4M^2 cancels down to about 5/2: a relative error of M^2 roundings
    assert_allclose_rounding(error_variance(M), exact, ops=M**4)


def test_trials_for_stderr_gives_that_standard_error():
    target = 0.05
    T = trials_for_stderr(16, target)
    se = c1_next_order(Ms=(16,), trials=T, seed=4).stderr[0]
    # the sample sd of T values has relative sd sqrt((kappa - 1)/(4T)); kappa <= 15, that of
    # a chi2_1 (the excess kurtosis of a sum of independent terms is at most the largest)
    assert abs(se / target - 1.0) <= 5 * math.sqrt(14 / (4 * T))


def test_fit_recovers_the_limit_from_the_series():
    Ms = np.array([64, 256, 1024])
    se = np.array([0.01, 0.01, 0.01])
    y = NEXT_TERM + 9 / (64 * Ms)  # the series to this order: the fit is exact
    df = pd.DataFrame({"M": Ms, "estimate": y, "stderr": se, "exact": y, "z_exact": 0.0})
    fit = next_order_fit(df)
    assert_allclose_rounding(fit["intercept"], NEXT_TERM, ops=100)
    assert abs(fit["z"]) < 1e-6 and fit["holds"] and fit["resolved"] and fit["per_M_holds"]
    assert fit["chi2_dof"] == 1 and fit["chi2"] < 1e-12
    # an offset of 10 intercept standard errors is rejected
    off = next_order_fit(df.assign(estimate=y + 10 * fit["stderr"]))
    assert not off["holds"] and off["z"] == pytest.approx(10.0)
    # standard errors too large to see the term: not resolved
    assert not next_order_fit(df.assign(stderr=se * 100))["resolved"]


def test_fit_of_monte_carlo_estimates():
    df = c1_next_order(Ms=(4, 8, 16), trials=(200_000, 800_000, 3_200_000), seed=7)
    fit = next_order_fit(df)
    assert fit["holds"] and fit["per_M_holds"]
    assert abs(fit["model_bias"]) < 0.1 * fit["stderr"]  # the 1/M^2 terms the fit leaves out
    assert 0.0 <= fit["chi2_p"] <= 1.0


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: c1_next_order(Ms=()), ValueError, "Ms must be a non-empty sequence"),
        (lambda: c1_next_order(Ms=64), ValueError, "Ms must be a non-empty sequence"),
        (lambda: c1_next_order(Ms=(8, 8)), ValueError, "Ms must be distinct"),
        (lambda: c1_next_order(Ms=(1,)), ValueError, "M must be an integer >= 2"),
        (lambda: c1_next_order(Ms=(8, 16), trials=(100,)), ValueError, "trials has 1 entries"),
        (lambda: c1_next_order(Ms=(8,), trials=1), ValueError, "trials must be"),
        (lambda: c1_next_order(Ms=(8,), block=0), ValueError, "block must be"),
        (lambda: c1_next_order(Ms=(8,), seed=-1), ValueError, "seed must be"),
        (lambda: c1_next_order(Ms=(8,), backend="tpu"), ValueError, "backend='tpu'"),
        (lambda: trials_for_stderr(64, 0.0), ValueError, "stderr must be"),
        (
            lambda: next_order_fit(c1_next_order(Ms=(8,), trials=100)),
            ValueError,
            "two M or more",
        ),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
