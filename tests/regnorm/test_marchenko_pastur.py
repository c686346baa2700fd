"""Marchenko-Pastur closed forms against mpmath (60 digits) and numerical integration."""

import math

import mpmath
import numpy as np
import pytest
from scipy import integrate

from regnorm import marchenko_pastur as mpl
from tests.tolerances import assert_allclose_rounding

ALPHAS = [0.05, 0.5, 0.999999, 1.0, 1.0 + 1e-9, 1.5, 3.0, 20.0]
ZETAS = [1e-14, 1e-8, 1e-3, 1 / 64, 0.25, 3.0, 1e4]


def _g_mp(zeta, alpha):
    """The textbook form at 60 digits (cancellation is harmless at that precision)."""
    with mpmath.workdps(60):
        z, a = mpmath.mpf(zeta), mpmath.mpf(alpha)
        return (1 - a - z + mpmath.sqrt((1 - a - z) ** 2 + 4 * z)) / (2 * z)


def _gprime_mp(zeta, alpha):
    with mpmath.workdps(60):
        a = mpmath.mpf(alpha)

        def g(z):
            return (1 - a - z + mpmath.sqrt((1 - a - z) ** 2 + 4 * z)) / (2 * z)

        return mpmath.diff(g, mpmath.mpf(zeta))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_stieltjes_matches_mpmath_including_small_zeta_and_alpha_near_one(alpha):
    got = mpl.stieltjes(np.array(ZETAS), alpha)
    want = np.array([float(_g_mp(z, alpha)) for z in ZETAS])
    assert_allclose_rounding(got, want, ops=16)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_stieltjes_derivative_is_exact(alpha):
    got = mpl.stieltjes_derivative(np.array(ZETAS), alpha)
    want = np.array([float(_gprime_mp(z, alpha)) for z in ZETAS])
    assert_allclose_rounding(got, want, ops=16)


def test_naive_formula_loses_digits_where_the_stable_one_does_not():
    # The point of the rationalized root: the textbook expression cancels for alpha > 1.
    a, z = 3.0, 1e-12
    b = 1 - a - z
    naive = (b + math.sqrt(b * b + 4 * z)) / (2 * z)
    exact = float(_g_mp(z, a))
    assert abs(naive / exact - 1) > 1e-6
    assert abs(mpl.stieltjes(z, a) / exact - 1) < 1e-14


def test_values_at_zeta_zero():
    assert mpl.stieltjes(0.0, 3.0) == pytest.approx(0.5, rel=1e-15)
    assert mpl.stieltjes_derivative(0.0, 3.0) == pytest.approx(-3.0 / 8.0, rel=1e-15)
    assert mpl.stieltjes(0.0, 0.5) == math.inf and mpl.stieltjes(0.0, 1.0) == math.inf
    assert mpl.stieltjes_derivative(0.0, 1.0) == -math.inf


def test_edges_and_point_mass():
    assert_allclose_rounding(mpl.lambda_minus([0.25, 4.0]), [0.25, 1.0])
    assert_allclose_rounding(mpl.lambda_plus([0.25, 4.0]), [2.25, 9.0])
    # near alpha = 1 the edge keeps full relative accuracy: (1 - sqrt(1 + e))^2 ~ e^2/4
    e = 1e-10
    assert mpl.lambda_minus(1 + e) == pytest.approx(e * e / 4 * (1 - e / 2), rel=1e-9)
    assert_allclose_rounding(mpl.point_mass([0.3, 1.0, 2.0]), [0.7, 0.0, 0.0])


@pytest.mark.parametrize("alpha", [0.3, 1.7, 4.0])
def test_density_normalization_mean_and_stieltjes(alpha):
    lo, hi = mpl.lambda_minus(alpha), mpl.lambda_plus(alpha)
    f = lambda lam: mpl.density(lam, alpha)  # noqa: E731
    mass = integrate.quad(f, lo, hi, limit=200)[0] + mpl.point_mass(alpha)
    mean = integrate.quad(lambda t: t * f(t), lo, hi, limit=200)[0]
    assert mass == pytest.approx(1.0, abs=1e-9)
    assert mean == pytest.approx(alpha, abs=1e-9)  # E lambda = tr(X^T X)/N^2 = alpha
    zeta = 0.1
    g = integrate.quad(lambda t: f(t) / (t + zeta), lo, hi, limit=200)[0]
    g += mpl.point_mass(alpha) / zeta
    assert g == pytest.approx(mpl.stieltjes(zeta, alpha), rel=1e-9)


def test_density_support_and_alpha_one_edge():
    assert mpl.density(0.5, 4.0) == 0.0 and mpl.density(100.0, 4.0) == 0.0
    assert mpl.density(0.0, 1.0) == math.inf


def test_vectorized_broadcast_shapes():
    out = mpl.stieltjes(np.array([[0.1], [0.2]]), np.array([0.5, 1.0, 2.0]))
    assert out.shape == (2, 3)
    assert isinstance(mpl.stieltjes(0.1, 0.5), float)


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (mpl.stieltjes, {"zeta": 0.1, "alpha": 0.0}, "alpha must be > 0"),
        (mpl.stieltjes, {"zeta": 0.1, "alpha": -1.0}, "alpha must be > 0"),
        (mpl.stieltjes, {"zeta": -0.1, "alpha": 1.0}, "zeta must be >= 0"),
        (mpl.stieltjes_derivative, {"zeta": -1e-3, "alpha": 1.0}, "zeta must be >= 0"),
        (mpl.density, {"lam": -1.0, "alpha": 1.0}, "lam must be >= 0"),
        (mpl.lambda_minus, {"alpha": float("nan")}, "alpha must be finite"),
    ],
)
def test_bad_input(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_bad_type():
    with pytest.raises(TypeError, match="alpha"):
        mpl.point_mass("big")
