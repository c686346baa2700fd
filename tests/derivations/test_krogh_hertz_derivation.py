"""C5–C7: the Marchenko–Pastur branch, the zeta -> 0 limits, the optimum, and regnorm's code."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from derivations import krogh_hertz as D
from tests.derivations.high_precision import evaluate
from tests.tolerances import assert_allclose_rounding

zeta, alpha, delta2 = D.zeta, D.alpha, D.delta2


@pytest.fixture(scope="module")
def res():
    return D.derive()


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(567)
    n = 20
    # log-uniform zeta in [1e-3, 1e2], alpha in [0.05, 5] (avoiding alpha = 1 exactly).
    return np.column_stack([10 ** rng.uniform(-3, 2, n), 10 ** rng.uniform(-1.3, 0.7, n)])


def test_branch_is_the_positive_root(res):
    G = sp.Symbol("G")
    # G solves the self-consistent equation, the roots' product is negative, and the chosen
    # root exceeds the other by S/zeta > 0: it is the positive one.
    assert sp.simplify(res["self_consistent_equation"].subs(G, res["G"])) == 0
    assert res["root_product"] == -1 / zeta
    assert sp.simplify(res["root_difference"] - res["S"] / zeta) == 0
    assert res["G_large_zeta"] == 1


def test_zeta_to_zero_limits_prove_the_c5_erratum(res):
    lt = 1 - alpha + alpha * delta2 / (1 - alpha)
    assert sp.simplify(res["eps_sgd_alpha_lt_1"] - lt) == 0
    assert sp.simplify(res["eps_sgd_alpha_gt_1"] - delta2 / (alpha - 1)) == 0
    assert res["eps_sgd_alpha_eq_1"] == sp.oo
    # The article's delta^2/(1-alpha) is not the limit for alpha > 1; it is its negative.
    diff = res["article_minus_derived_alpha_gt_1"]
    assert sp.simplify(diff + 2 * delta2 / (alpha - 1)) == 0
    b = sp.Symbol("b", positive=True)
    assert (delta2 / (1 - alpha)).subs(alpha, 1 + b).is_negative


def test_argmin_is_delta_squared_for_every_alpha(res):
    d_eps = res["d_eps_wn"]
    assert sp.simplify(d_eps - 2 * alpha * (zeta - delta2) / res["S"] ** 3) == 0
    assert res["argmin_zeta"] == sp.FiniteSet(delta2)
    # A minimum, not a maximum: the factor multiplying (zeta - delta^2), 2 alpha / S^3 with
    # S^2 = (1 - alpha - zeta)^2 + 4 zeta, is positive (sympy's assumptions decide it).
    factor = 2 * alpha / res["S"] ** 3
    assert sp.simplify(d_eps / (zeta - delta2) - factor) == 0
    assert factor.is_positive
    # At the optimum eps_wn = delta^2 G(delta^2) (the zeta(delta^2 - zeta) G' term vanishes).
    at_opt = res["eps_wn_at_optimum"] - delta2 * res["G"].subs(zeta, delta2)
    assert sp.simplify(at_opt) == 0


def test_stieltjes_matches_density_quadrature(res):
    """G from the self-consistent equation = point mass/zeta + int density/(lambda + zeta)."""
    lam = sp.Symbol("lambda", positive=True)
    for a, z in ((0.5, 0.1), (2.0, 0.3), (1.0, 1.0)):
        dens = sp.lambdify((lam, zeta), res["density"].subs(alpha, a) / (lam + zeta), "numpy")
        lo, hi = (1 - np.sqrt(a)) ** 2, (1 + np.sqrt(a)) ** 2
        cont = integrate.quad(dens, lo, hi, args=(z,), epsabs=0, epsrel=1e-12, limit=200)[0]
        g = cont + max(0.0, 1 - a) / z
        ref = evaluate(res["G"], (zeta, alpha), [[z, a]])[0]
        np.testing.assert_allclose(g, ref, rtol=1e-9)  # quadrature accuracy at the sqrt edges


def test_stieltjes_matches_regnorm(res, points):
    mp = pytest.importorskip("regnorm.marchenko_pastur")
    ref = evaluate(res["G"], (zeta, alpha), points)
    assert_allclose_rounding(mp.stieltjes(points[:, 0], points[:, 1]), ref, ops=20)
    dref = evaluate(res["dG"], (zeta, alpha), points)
    assert_allclose_rounding(mp.stieltjes_derivative(points[:, 0], points[:, 1]), dref, ops=20)


def test_density_matches_regnorm(res):
    mp = pytest.importorskip("regnorm.marchenko_pastur")
    lam = sp.Symbol("lambda", positive=True)
    rng = np.random.default_rng(8)
    for a in (0.3, 1.7):
        lo, hi = (1 - np.sqrt(a)) ** 2, (1 + np.sqrt(a)) ** 2
        ls = rng.uniform(lo, hi, 10)
        ref = evaluate(res["density"], (lam, alpha), np.column_stack([ls, np.full(10, a)]))
        assert_allclose_rounding(mp.density(ls, a), ref, ops=20)


def test_eps_wn_matches_regnorm(res, points):
    lc = pytest.importorskip("regnorm.learning_curves")
    rng = np.random.default_rng(9)
    d2 = rng.uniform(0.01, 2, len(points))
    pts = np.column_stack([points, d2])
    ref = evaluate(res["eps_wn"], (zeta, alpha, delta2), pts)
    got = lc.eps_wn(points[:, 1], points[:, 0], d2)
    assert_allclose_rounding(got, ref, ops=50)


def test_eps_sgd_and_optimal_zeta_match_regnorm(res):
    lc = pytest.importorskip("regnorm.learning_curves")
    rng = np.random.default_rng(10)
    a = np.concatenate([rng.uniform(0.05, 0.95, 8), rng.uniform(1.05, 5, 8)])
    d2 = rng.uniform(0.01, 2, a.size)
    ref = np.where(
        a < 1,
        evaluate(res["eps_sgd_alpha_lt_1"], (alpha, delta2), np.column_stack([a, d2])),
        evaluate(res["eps_sgd_alpha_gt_1"], (alpha, delta2), np.column_stack([a, d2])),
    )
    assert_allclose_rounding(lc.eps_sgd(a, d2), ref, ops=10)
    # regnorm's optimum is where the derived slope of eps_wn changes sign from - to +
    # (the slope at 50 digits, one part in 1e6 either side of it)
    opt = lc.optimal_zeta(a, d2)
    slope = res["d_eps_wn"]
    below = evaluate(slope, (zeta, alpha, delta2), np.column_stack([opt * (1 - 1e-6), a, d2]))
    above = evaluate(slope, (zeta, alpha, delta2), np.column_stack([opt * (1 + 1e-6), a, d2]))
    assert np.all(below < 0) and np.all(above > 0)


def test_negative_control_article_formula_fails(res):
    """The article's delta^2/(1-alpha) for alpha > 1 fails the comparison eps_sgd passes."""
    lc = pytest.importorskip("regnorm.learning_curves")
    rng = np.random.default_rng(11)
    a = rng.uniform(1.05, 5, 8)
    d2 = rng.uniform(0.01, 2, 8)
    article = evaluate(delta2 / (1 - alpha), (alpha, delta2), np.column_stack([a, d2]))
    with pytest.raises(AssertionError):
        assert_allclose_rounding(lc.eps_sgd(a, d2), article, ops=10)


def test_negative_control_article_formula_is_not_the_limit(res):
    """Without regnorm's code: the article's formula is not the sympy limit either."""
    rng = np.random.default_rng(12)
    pts = np.column_stack([rng.uniform(1.05, 5, 8), rng.uniform(0.01, 2, 8)])
    derived = evaluate(res["eps_sgd_alpha_gt_1"], (alpha, delta2), pts)
    article = evaluate(delta2 / (1 - alpha), (alpha, delta2), pts)
    with pytest.raises(AssertionError):
        assert_allclose_rounding(article, derived, ops=10)
