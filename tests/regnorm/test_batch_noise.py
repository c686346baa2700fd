"""Closed forms of C1-C3 (regnorm.batch_noise): exact against mpmath at 50 digits, against
an independent brute-force Monte-Carlo (full batches), and their bad inputs."""

import math

import mpmath as mp
import numpy as np
import pytest

from regnorm.batch_noise import (
    batch_statistics_law,
    conditional_error,
    expected_batch_std,
    gaussian_conditional_error,
    standardization_error,
    standardization_error_asymptotic,
)
from tests.tolerances import (
    assert_allclose_quadrature,
    assert_allclose_rounding,
    assert_z_exceeds,
    assert_z_within,
)

# M = 10^7 is in the range; 17/18 straddle the switch to the series (x = (M-1)/2 = 8).
M_VALUES = [2, 3, 4, 5, 6, 10, 16, 17, 18, 32, 100, 1000, 10**5, 10**7]


def _mp_expected_std(M, d):
    M = mp.mpf(M)
    return mp.sqrt(2 / (M - d)) * mp.exp(mp.loggamma(M / 2) - mp.loggamma((M - 1) / 2))


def _mp_error(M, d, inside):
    """The C1 error at 50 digits from its definition in chi moments (see the docstring)."""
    M = mp.mpf(M)
    if inside:
        return 1 + (M - d) / M - 2 * (M - d) / M * _mp_expected_std(M, d)
    if M <= 3:
        return mp.inf
    inv_s = mp.sqrt((M - d) / 2) * mp.exp(mp.loggamma((M - 2) / 2) - mp.loggamma((M - 1) / 2))
    inv_s2 = (M - d) / (M - 3)
    return 1 - 2 * inv_s + (1 + 1 / M) * inv_s2


@pytest.fixture(scope="module", autouse=True)
def _mp_precision():
    with mp.workdps(50):
        yield


@pytest.mark.parametrize("ddof", [0, 1])
def test_expected_batch_std_matches_mpmath(ddof):
    got = expected_batch_std(np.array(M_VALUES), ddof=ddof)
    want = [float(_mp_expected_std(m, ddof)) for m in M_VALUES]
    assert_allclose_rounding(got, want)


@pytest.mark.parametrize("inside", [True, False])
@pytest.mark.parametrize("ddof", [0, 1])
def test_standardization_error_matches_mpmath_without_cancellation(inside, ddof):
    # At M = 10^7 the error is 1.5e-7 = 2 - 2 E[sigma_B]: a naive difference would keep only
    # ~8 digits; full relative precision here shows there is no cancellation.
    got = standardization_error(np.array(M_VALUES), inside=inside, ddof=ddof)
    want = np.array([float(_mp_error(m, ddof, inside)) for m in M_VALUES])
    finite = np.isfinite(want)
    assert_allclose_rounding(got[finite], want[finite])
    assert np.all(np.isinf(got[~finite])) and np.all(np.isposinf(got[~finite]))
    if not inside:
        assert list(np.array(M_VALUES)[~finite]) == [2, 3]  # E[1/sigma_B^2] = inf for M <= 3


def test_inside_biased_is_two_minus_two_expected_std():
    M = np.array([2, 7, 32, 500])
    assert_allclose_rounding(standardization_error(M), 2 - 2 * expected_batch_std(M), ops=4)


def test_expected_std_small_m_closed_form():
    # E[sigma_B] for M = 2: |x1 - x2|/2 with x1 - x2 ~ N(0, 2): sqrt(2) sqrt(2/pi) / 2
    assert_allclose_rounding(expected_batch_std(2), 1 / math.sqrt(math.pi))
    assert_allclose_rounding(expected_batch_std(2, ddof=1), math.sqrt(2 / math.pi))


# Second-order coefficients c2 of eps = 3/(2M) + c2/M^2 + O(1/M^3), from sympy series of the
# chi-moment formulas (series of r(x) = -1/(8x) + 1/(192 x^3) + ...): inside 7/16 (ddof 0),
# -1/16 (ddof 1); outside 119/16 (ddof 0), 79/16 (ddof 1).
SECOND_ORDER = {(True, 0): 7 / 16, (True, 1): -1 / 16, (False, 0): 119 / 16, (False, 1): 79 / 16}


@pytest.mark.parametrize(("inside", "ddof"), list(SECOND_ORDER))
def test_leading_terms_of_the_1_over_m_series(inside, ddof):
    M = np.array([10**4, 10**5, 10**6])
    e = standardization_error(M, inside=inside, ddof=ddof)
    rem = M**2 * (e - standardization_error_asymptotic(M))
    # the next term is O(1/M): |rem - c2| shrinks like 1/M (a few hundred / M here)
    assert np.all(np.abs(rem - SECOND_ORDER[inside, ddof]) < 300.0 / M)
    assert standardization_error_asymptotic(32) == 0.046875


def _brute_force_error(M, ddof, inside, batches, rng):
    """Full batches of M normals: independent of the closed forms and of simulations/."""
    a = rng.standard_normal((batches, M))
    mu = a.mean(axis=1, keepdims=True)
    s = a.std(axis=1, ddof=ddof, keepdims=True)
    if inside:
        e = (((a - mu) / s - a) ** 2).mean(axis=1)
    else:
        x = rng.standard_normal((batches, 1))
        e = (((x - mu) / s - x) ** 2)[:, 0]
    return e.mean(), e.std(ddof=1) / math.sqrt(batches)


# Outside the batch the per-batch error has a finite variance only for M >= 6
# (it needs E[1/sigma_B^4]); we test there.
@pytest.mark.parametrize("M", [6, 32])
@pytest.mark.parametrize("inside", [True, False])
@pytest.mark.parametrize("ddof", [0, 1])
def test_exact_error_against_brute_force_monte_carlo(M, inside, ddof):
    rng = np.random.default_rng([3, M, int(inside), ddof])
    est, se = _brute_force_error(M, ddof, inside, 100_000, rng)
    assert_z_within(est, se, standardization_error(M, inside=inside, ddof=ddof))


def test_conventions_are_distinguishable_at_small_m():
    """Negative control: at M = 6 the Monte-Carlo rejects the other conventions' values."""
    rng = np.random.default_rng(11)
    est, se = _brute_force_error(6, 0, True, 100_000, rng)
    assert_z_exceeds(est, se, standardization_error(6, inside=True, ddof=1))
    assert_z_exceeds(est, se, standardization_error(6, inside=False, ddof=0))
    assert_z_exceeds(est, se, standardization_error_asymptotic(6))


def test_batch_statistics_law_values():
    law = batch_statistics_law(32, sigma=2.0, rho=3.0)
    assert law.mean_variance == 4.0 / 32
    assert law.std_mean == 2.0
    assert law.std_variance == 5.0 * 4.0 / (4 * 32)
    v = batch_statistics_law(np.array([4, 8]))
    np.testing.assert_array_equal(v.std_variance, [2 / 16, 2 / 32])


def test_conditional_error_values_from_theory():
    # THEORY.md C3: at M = 32, Gaussian, |z| = 2 the prediction is M * error = 3.05
    assert_allclose_rounding(32 * conditional_error(2.0, 32), 2 + 1 + 3 / 64)
    # averaged over z ~ N(0,1) (E z^2 = 1): (rho + 2)/(4M) + (1 + 3(rho + 2)/(4M))/M
    got = conditional_error(1.0, 10, rho=-1.2, gamma=3.0)
    assert_allclose_rounding(got, 9 * 0.02 + 0.9 * (1 + 0.06))


def test_gaussian_conditional_error_averages_to_outside_error():
    # the conditional error is a quadratic in z, so 3 Gauss-Hermite nodes integrate it exactly
    nodes, weights = np.polynomial.hermite_e.hermegauss(3)
    weights = weights / weights.sum()
    for M in (4, 6, 32, 10**6):
        for ddof in (0, 1):
            avg = np.sum(weights * gaussian_conditional_error(nodes, M, ddof=ddof))
            assert_allclose_rounding(avg, standardization_error(M, inside=False, ddof=ddof), ops=16)
    assert np.isinf(gaussian_conditional_error(0.5, 3))


@pytest.mark.parametrize("M", [8, 32])
def test_gaussian_conditional_error_against_monte_carlo(M):
    rng = np.random.default_rng([5, M])
    a = rng.standard_normal((200_000, M))
    mu, s = a.mean(axis=1), a.std(axis=1)
    for z in (0.0, 2.0):
        e = ((z - mu) / s - z) ** 2
        se = e.std(ddof=1) / math.sqrt(e.size)
        assert_z_within(e.mean(), se, gaussian_conditional_error(z, M))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: standardization_error(1), ValueError, "M must be an integer >= 2.*got 1"),
        (lambda: standardization_error(np.array([4, 0])), ValueError, "got 0"),
        (lambda: standardization_error(32.0), TypeError, "M must be an integer"),
        (lambda: standardization_error(np.array([2.5])), TypeError, "M must be an integer"),
        (lambda: expected_batch_std(True), TypeError, "M must be an integer"),
        (lambda: expected_batch_std(8, ddof=2), ValueError, "ddof=2 is not allowed"),
        (lambda: standardization_error(8, inside="yes"), TypeError, "inside must be"),
        (lambda: standardization_error_asymptotic(1), ValueError, "M must be"),
        (lambda: batch_statistics_law(8, rho=math.inf), ValueError, "rho must be a finite"),
        (lambda: batch_statistics_law(8, rho=-3.0), ValueError, "rho must be a number >= -2"),
        (lambda: batch_statistics_law(8, sigma=0.0), ValueError, "sigma must be a number > 0"),
        (lambda: conditional_error(math.nan, 8), ValueError, "z must be finite"),
        (lambda: gaussian_conditional_error(1.0, 1), ValueError, "M must be"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_docstring_examples():
    import doctest

    import regnorm.batch_noise
    import regnorm.gamma_decay

    for mod in (regnorm.batch_noise, regnorm.gamma_decay):
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("ddof", [0, 1])
def test_inside_conditional_error_averages_to_c1(ddof):
    """The quadrature for x inside the batch, averaged over z ~ N(0,1) (Gauss-Hermite, exact
    for this smooth integrand), must give the closed-form C1 error."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    weights = weights / weights.sum()
    for M in (4, 8, 1024):
        avg = np.sum(weights * gaussian_conditional_error(nodes, M, ddof=ddof, inside=True))
        assert_allclose_quadrature(avg, standardization_error(M, inside=True, ddof=ddof))


@pytest.mark.parametrize("M", [2, 3, 8, 32])
def test_inside_conditional_error_against_brute_force(M):
    rng = np.random.default_rng([7, M])
    a = rng.standard_normal((200_000, M))
    for z in (0.5, 2.0):
        a[:, 0] = z  # condition on one member's value
        mu, s = a.mean(axis=1), a.std(axis=1)
        e = ((z - mu) / s - z) ** 2
        se = e.std(ddof=1) / math.sqrt(e.size)
        assert_z_within(e.mean(), se, gaussian_conditional_error(z, M, inside=True))
    # negative control: THEORY's observation at M = 32, z = 2 (2.54 measured vs 3.05)
    if M == 32:
        assert_z_exceeds(e.mean(), se, conditional_error(2.0, 32))
