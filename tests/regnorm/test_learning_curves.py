"""C5-C7 closed forms: mpmath, limits, the optimum, the inverse, bad input."""

import math

import mpmath
import numpy as np
import pytest
from scipy import optimize

from regnorm import learning_curves as lc
from tests.tolerances import assert_allclose_rounding


def _eps_wn_mp(alpha, zeta, delta2):
    """delta^2 d(zeta G)/dzeta - zeta^2 dG/dzeta with mpmath derivatives at 60 digits."""
    with mpmath.workdps(60):
        a, d2 = mpmath.mpf(alpha), mpmath.mpf(delta2)

        def g(z):
            return (1 - a - z + mpmath.sqrt((1 - a - z) ** 2 + 4 * z)) / (2 * z)

        z = mpmath.mpf(zeta)
        return d2 * mpmath.diff(lambda t: t * g(t), z) - z**2 * mpmath.diff(g, z)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.999999, 1.0, 1.000001, 1.5, 3.0])
@pytest.mark.parametrize("delta2", [0.0, 0.25, 2.0])
def test_eps_wn_matches_mpmath(alpha, delta2):
    zetas = np.array([1e-13, 1e-6, 1 / 64, 0.25, 5.0])
    want = np.array([float(_eps_wn_mp(alpha, z, delta2)) for z in zetas])
    assert_allclose_rounding(lc.eps_wn(alpha, zetas, delta2), want, ops=64, atol=1e-15)


@pytest.mark.parametrize("delta2", [0.0, 0.25, 1.0])
def test_zeta_to_zero_recovers_c5(delta2):
    alphas = np.array([0.1, 0.5, 0.9, 1.1, 2.0, 3.0])
    assert_allclose_rounding(lc.eps_wn(alphas, 0.0, delta2), lc.eps_sgd(alphas, delta2), ops=8)
    # and continuously: zeta = 1e-10 is within 1e-8 of the limit away from alpha = 1
    np.testing.assert_allclose(
        lc.eps_wn(alphas, 1e-10, delta2), lc.eps_sgd(alphas, delta2), rtol=1e-7, atol=1e-12
    )


def test_eps_sgd_values_and_erratum():
    # against the exact finite-N mean (inverse-Wishart moments) at N = 1e7, O(1/N) away
    N = 10**7
    for a in (0.5, 3.0):
        exact = lc.finite_n_pinv(N, round(a * N), 0.25)
        assert lc.eps_sgd(a, 0.25) == pytest.approx(exact, rel=1e-5)
    # the article's delta^2/(1-alpha) for alpha > 1 is negative: impossible for an error
    assert 0.25 / (1 - 3.0) < 0 < lc.eps_sgd(3.0, 0.25)
    # alpha = 1 is infinite by the mathematics (documented), and 0 without noise
    assert lc.eps_sgd(1.0, 0.25) == math.inf and lc.eps_wn(1.0, 0.0, 0.25) == math.inf
    assert lc.eps_sgd(1.0, 0.0) == 0.0 and lc.eps_wn(1.0, 0.0, 0.0) == 0.0


def test_finite_n_pinv_has_no_mean_next_to_p_equal_n():
    """The inverse-Wishart mean exists only for |P - N| >= 2 (and diverges as P -> N +- 2)."""
    assert [lc.finite_n_pinv(100, P, 0.25) for P in (99, 100, 101)] == [math.inf] * 3
    assert 0.0 < lc.finite_n_pinv(100, 102, 0.25) < math.inf
    assert_allclose_rounding(lc.finite_n_pinv(100, 50, 0.0), 0.5, ops=2)  # noise-free: 1 - P/N


def test_candidate_zetas_differ_by_the_loss_to_ridge_scale_and_the_mu_b_term():
    """alpha zeta_loss maps the loss scale to the ridge scale; the centred candidates are three
    times the uncentred ones (C4's mu_B term)."""
    z = lc.candidate_zetas(2.5, 16)
    assert_allclose_rounding(z["half_M"], 1 / 32)
    assert_allclose_rounding(z["alpha_half_M"], 2.5 * z["half_M"], ops=2)
    assert_allclose_rounding(z["three_half_M"], 3 * z["half_M"], ops=2)
    assert_allclose_rounding(z["alpha_three_half_M"], 3 * z["alpha_half_M"], ops=2)


def test_large_zeta_limit_is_teacher_norm():
    # zeta -> inf shrinks v to 0: error -> ||w*||^2 = 1
    assert lc.eps_wn([0.5, 2.0], 1e9, 0.25) == pytest.approx([1.0, 1.0], abs=1e-8)


@pytest.mark.parametrize("alpha", [0.1, 0.7, 1.0, 1.3, 3.0])
@pytest.mark.parametrize("delta2", [0.05, 0.25, 1.0])
def test_argmin_is_delta2_numerically(alpha, delta2):
    res = optimize.minimize_scalar(
        lambda z: lc.eps_wn(alpha, z, delta2),
        bounds=(1e-6, 10.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert res.x == pytest.approx(delta2, rel=1e-4)
    # optimal_zeta against the numerical minimizer, not against the formula it returns
    assert lc.optimal_zeta(alpha, delta2) == pytest.approx(res.x, rel=1e-4)


def test_optimal_zeta_broadcasts_and_is_a_minimum_of_eps_wn():
    alphas = np.array([0.5, 1.0, 2.0])
    out = lc.optimal_zeta(alphas, 0.25)
    assert out.shape == (3,)
    # a minimum of the curve itself: a step either way (0.1%) raises the error
    best = lc.eps_wn(alphas, out, 0.25)
    assert np.all(lc.eps_wn(alphas, out * 1.001, 0.25) > best)
    assert np.all(lc.eps_wn(alphas, out * 0.999, 0.25) > best)


def test_effective_zeta_inverts_eps_wn():
    alphas = np.array([0.2, 0.9, 1.0, 1.4, 3.0])
    for zeta in [1 / 64, 3 / 64, 0.2]:
        e = lc.eps_wn(alphas, zeta, 0.25)
        np.testing.assert_allclose(lc.effective_zeta(e, alphas, 0.25), zeta, rtol=1e-9)
    assert lc.effective_zeta(10.0, 2.0, 0.25) == 0.0  # worse than pseudo-inverse
    assert math.isnan(lc.effective_zeta(0.01, 2.0, 0.25))  # better than the optimum


def test_vectorized_over_alpha_and_zeta():
    out = lc.eps_wn(np.linspace(0.1, 3, 5)[:, None], np.array([0.0, 0.1, 0.25]), 0.25)
    assert out.shape == (5, 3) and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: lc.eps_sgd(0.0, 0.25), "alpha must be > 0"),
        (lambda: lc.eps_sgd(-1.0, 0.25), "alpha must be > 0"),
        (lambda: lc.eps_sgd(0.5, -0.1), "delta2 must be >= 0"),
        (lambda: lc.eps_wn(0.5, -0.1, 0.25), "zeta must be >= 0"),
        (lambda: lc.eps_wn(0.5, 0.1, -0.25), "delta2 must be >= 0"),
        (lambda: lc.optimal_zeta(-2.0, 0.25), "alpha must be > 0"),
        (lambda: lc.effective_zeta(-0.1, 0.5, 0.25), "eps must be >= 0"),
        (lambda: lc.effective_zeta(0.5, 0.5, 0.0), "delta2 must be > 0"),
        (lambda: lc.finite_n_pinv(0, 10, 0.25), "N must be"),
        (lambda: lc.finite_n_pinv(10, 5, -0.25), "delta2 must be"),
        (lambda: lc.candidate_zetas(0.0, 32), "alpha must be"),
        (lambda: lc.candidate_zetas(2.0, 0), "M must be"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
