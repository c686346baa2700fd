"""C1: the derived exact batch-standardization errors, their 1/M series, and regnorm's code."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special

from derivations import batch_noise as D
from tests.derivations.high_precision import evaluate
from tests.tolerances import assert_allclose_rounding, rounding_rtol

M = D.M


@pytest.fixture(scope="module")
def res():
    return D.derive()


@pytest.fixture(scope="module")
def batch_sizes():
    # Random batch sizes where float64 gammaln differences keep ~14 digits.
    rng = np.random.default_rng(20261123)
    return np.unique(np.concatenate([[4, 5, 32], rng.integers(4, 300, size=12)]))


def test_inside_error_is_two_minus_two_expected_std(res):
    assert sp.simplify(res["error_inside"] - (2 - 2 * res["expected_batch_std"])) == 0
    mu, sig = sp.symbols("mu_B sigma_B", real=True)
    assert sp.expand(res["per_batch_error"] - ((1 - sig) ** 2 + mu**2)) == 0


def test_series_leading_term_is_three_over_two_M(res):
    # sympy itself: the limit of M * exact error (not a number substituted in).
    for key in ("error_inside", "error_inside_ddof1"):
        assert sp.limit(M * res[key + "_series"], M, sp.oo) == sp.Rational(3, 2)
    assert res["leading_term"] == sp.Rational(3, 2)
    series = res["error_inside_series"]
    assert series.coeff(M, -1) == sp.Rational(3, 2)
    assert series.coeff(M, -2) == sp.Rational(7, 16)
    assert series.coeff(M, -3) == sp.Rational(9, 64)


@pytest.mark.parametrize(
    "key", ["error_inside", "error_inside_ddof1", "error_outside", "error_outside_ddof1"]
)
def test_series_matches_exact_to_its_order(res, key):
    """The remainder after the 1/M^4 term scales like 1/M^5 (checked at 50 digits)."""
    exact, series = res[key], res[key + "_series"]
    assert _remainder_is_order_five(exact - series)
    # A wrong series (last coefficient off by one unit) leaves a 1/M^4 remainder instead.
    assert not _remainder_is_order_five(exact - series - 1 / M**4)


def _remainder_is_order_five(remainder: sp.Expr) -> bool:
    """M^5 * remainder is the same at M = 2000 and 4000 up to its O(1/M) drift."""
    f = sp.lambdify(M, remainder * M**5, modules="mpmath")
    with mpmath.workdps(60):
        r1, r2 = float(f(mpmath.mpf(2000))), float(f(mpmath.mpf(4000)))
    return r1 != 0 and abs(r2 - r1) <= 2e-3 * abs(r1)


def test_moments_match_chi_quadrature(batch_sizes):
    """The chi-distribution moments against direct quadrature (an independent route)."""
    res = D.derive()
    for m in batch_sizes[:6]:
        k = int(m) - 1

        def pdf(t, k=k):
            return np.exp(
                (k - 1) * np.log(t) - t**2 / 2 - (k / 2 - 1) * np.log(2) - special.gammaln(k / 2)
            )

        es = integrate.quad(lambda t: t * pdf(t), 0, np.inf, epsabs=0, epsrel=1e-13)[0] / np.sqrt(m)
        einv2 = integrate.quad(lambda t: pdf(t) / t**2, 0, np.inf, epsabs=0, epsrel=1e-13)[0] * m
        ref = evaluate(res["expected_batch_std"], (M,), [[m]])[0]
        ref_inv2 = evaluate(res["expected_inverse_variance"], (M,), [[m]])[0]
        np.testing.assert_allclose(es, ref, rtol=1e-11)  # quad's own accuracy, not rounding
        np.testing.assert_allclose(einv2, ref_inv2, rtol=1e-11)


def test_expected_batch_std_matches_regnorm(res, batch_sizes):
    bn = pytest.importorskip("regnorm.batch_noise")
    for ddof, key in ((0, "expected_batch_std"), (1, "expected_batch_std_ddof1")):
        ref = evaluate(res[key], (M,), batch_sizes[:, None])
        got = bn.expected_batch_std(batch_sizes, ddof=ddof)
        assert_allclose_rounding(got, ref, ops=10)


@pytest.mark.parametrize(
    "inside, ddof, key",
    [
        (True, 0, "error_inside"),
        (True, 1, "error_inside_ddof1"),
        (False, 0, "error_outside"),
        (False, 1, "error_outside_ddof1"),
    ],
)
def test_standardization_error_matches_regnorm(res, batch_sizes, inside, ddof, key):
    bn = pytest.importorskip("regnorm.batch_noise")
    ref = evaluate(res[key], (M,), batch_sizes[:, None])
    got = np.asarray(bn.standardization_error(batch_sizes, inside=inside, ddof=ddof), float)
    # The error is a difference of O(1) terms (2 - 2 E[sigma_B]): rounding error is absolute,
    # of the size of those terms, so the tolerance is an absolute one of that size.
    assert_allclose_rounding(got, ref, ops=10, atol=4 * rounding_rtol(ops=10))


def test_asymptotic_matches_leading_term(res, batch_sizes):
    bn = pytest.importorskip("regnorm.batch_noise")
    got = bn.standardization_error_asymptotic(batch_sizes)
    ref = evaluate(res["leading_term"] / M, (M,), batch_sizes[:, None])
    assert_allclose_rounding(got, ref)


def test_negative_control_leading_term_is_not_the_exact_error(res, batch_sizes):
    """3/(2M) itself fails the exact comparison that the derived expression passes."""
    ref = evaluate(res["error_inside"], (M,), batch_sizes[:, None])
    wrong = 1.5 / batch_sizes
    with pytest.raises(AssertionError):
        assert_allclose_rounding(wrong, ref, ops=10, atol=4 * rounding_rtol(ops=10))
