"""C3/C4: the derived gamma-decay expansion, its special cases, and regnorm's code."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from derivations import gamma_decay as D
from tests.derivations.high_precision import evaluate
from tests.tolerances import assert_allclose_rounding

M, rho, z, gamma, beta = D.M, D.rho, D.z, D.gamma, D.beta
F, A2 = D.F_gamma, D.mean_A2


@pytest.fixture(scope="module")
def res():
    return D.derive()


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(5)


def test_order_one_and_article_forms(res):
    c3 = gamma**2 * ((rho + 2) / (4 * M) * z**2 + (1 / M) * (1 + 3 * (rho + 2) / (4 * M)))
    assert sp.simplify(res["squared_deviation_article"] - c3) == 0
    assert (
        sp.simplify(
            res["squared_deviation_order1"] - gamma**2 * ((rho + 2) / (4 * M) * z**2 + 1 / M)
        )
        == 0
    )
    # The complete 1/M^2 term under C2 adds 9 V_sigma^2 z^2 gamma^2, which the article omits.
    assert (
        sp.simplify(res["omitted_by_article"] - 9 * gamma**2 * z**2 * (rho + 2) ** 2 / (16 * M**2))
        == 0
    )


def test_zeta_and_its_split(res):
    zeta = (rho + 2) / (8 * M) * F + A2 / (2 * M)
    assert sp.simplify(res["zeta"] - zeta) == 0
    assert sp.simplify(res["zeta_sigma"] - (rho + 2) / (8 * M) * F) == 0
    assert sp.simplify(res["zeta_mu"] - A2 / (2 * M)) == 0
    assert sp.simplify(res["zeta_sigma"] + res["zeta_mu"] - res["zeta"]) == 0


def test_special_cases(res):
    assert sp.simplify(res["zeta_identity"] - 3 / (4 * M)) == 0
    assert sp.simplify(res["zeta_squared_loss"] - 3 / (2 * M)) == 0
    assert sp.simplify(res["zeta_no_mean_subtraction_squared"] - 1 / (2 * M)) == 0
    assert list(res["relu_A2"]) == [1, 0]  # Heaviside: 1 for h > 0, 0 for h < 0
    assert sp.simplify(res["zeta_relu_standard"] - 3 / (8 * M)) == 0
    # Large beta/gamma: every unit active, ReLU -> identity GLM (sympy limit, not a number).
    assert sp.limit(res["relu_F_gamma"], beta, sp.oo) == 1
    assert sp.limit(res["relu_mean_A2"], beta, sp.oo) == 1


def test_relu_integrals_match_quadrature(res, rng):
    def pdf(t):
        return np.exp(-t * t / 2) / np.sqrt(2 * np.pi)

    for g, b in rng.uniform([0.3, -2.0], [3.0, 2.0], size=(4, 2)):
        c = -b / g
        f_ref = integrate.quad(lambda t: t * t * pdf(t), c, np.inf, epsabs=0, epsrel=1e-13)[0]
        m_ref = integrate.quad(pdf, c, np.inf, epsabs=0, epsrel=1e-13)[0]
        got = [
            evaluate(res[k], (gamma, beta), [[g, b]])[0] for k in ("relu_F_gamma", "relu_mean_A2")
        ]
        np.testing.assert_allclose([f_ref, m_ref], got, rtol=1e-11)  # quad's accuracy


def test_series_against_the_c2_model_numerically(res):
    """Under C2 (Gaussian m and e), the 1/M^2 series beats the article's truncation.

    E over m is exact: (z^2 + V_mu) E[(1+e)^-2] - 2 z^2 E[(1+e)^-1] + z^2; E over e by
    quadrature on |e| < 1/2 (the Gaussian mass beyond is < exp(-M/2) at rho = 0).
    """
    m_val, z_val = 400.0, 2.0
    v_mu, v_sig = 1 / m_val, 2 / (4 * m_val)
    pdf = lambda e: np.exp(-e * e / (2 * v_sig)) / np.sqrt(2 * np.pi * v_sig)  # noqa: E731
    e2 = integrate.quad(lambda e: pdf(e) / (1 + e) ** 2, -0.5, 0.5, epsabs=0, epsrel=1e-13)[0]
    e1 = integrate.quad(lambda e: pdf(e) / (1 + e), -0.5, 0.5, epsabs=0, epsrel=1e-13)[0]
    exact = (z_val**2 + v_mu) * e2 - 2 * z_val**2 * e1 + z_val**2
    point = {M: m_val, z: z_val, rho: 0, gamma: 1}
    order2 = float(res["squared_deviation_order2"].subs(point))
    article = float(res["squared_deviation_article"].subs(point))
    # Remainder of the complete series is O(1/M^3); the article's misses a 1/M^2 term.
    assert abs(exact - order2) < 0.02 * abs(exact - article)
    assert abs(exact - order2) * m_val**3 < 1e3


def test_conditional_error_matches_regnorm(res, rng):
    bn = pytest.importorskip("regnorm.batch_noise")
    n = 16
    pts = np.column_stack(
        [
            rng.standard_normal(n) * 2,
            rng.integers(2, 512, n),
            rng.uniform(-1.5, 6, n),
            rng.uniform(0.1, 3, n),
        ]
    )
    ref = evaluate(res["squared_deviation_article"], (z, M, rho, gamma), pts)
    got = [bn.conditional_error(zz, int(mm), rho=r, gamma=g) for zz, mm, r, g in pts]
    assert_allclose_rounding(np.asarray(got, float), ref, ops=20)


def _zeta_points(rng, n):
    """Random (M, rho, F_gamma, mean_A2) with rho >= -1.5 (rho >= -2 for any law)."""
    cols = [rng.integers(2, 512, n), rng.uniform(-1.5, 6, n)]
    return np.column_stack(cols + [rng.uniform(0.1, 3, n), rng.uniform(0, 2, n)])


def test_gamma_decay_coefficient_matches_regnorm(res, rng):
    gd = pytest.importorskip("regnorm.gamma_decay")
    n = 16
    pts = np.column_stack(
        [
            rng.integers(2, 512, n),
            rng.uniform(-1.5, 6, n),
            rng.uniform(0, 3, n),
            rng.uniform(0, 2, n),
        ]
    )
    for centred, key in ((True, "zeta"), (False, "zeta_sigma")):
        ref = evaluate(res[key], (M, rho, F, A2), pts)
        got = [
            gd.gamma_decay_coefficient(int(mm), rho=r, F_gamma=f, mean_A2=a, centred=centred)
            for mm, r, f, a in pts
        ]
        assert_allclose_rounding(np.asarray(got, float), ref, ops=10)


def test_negative_control_wrong_zeta_fails(res, rng):
    """A zeta with the sigma_B term doubled ((rho+2)/(4M) F_gamma, the C3 coefficient
    without the 1/2 of the Taylor expansion) fails the comparison the derived zeta passes."""
    gd = pytest.importorskip("regnorm.gamma_decay")
    pts = np.column_stack(
        [
            rng.integers(2, 512, 8),
            rng.uniform(-1.5, 6, 8),
            rng.uniform(0.1, 3, 8),
            rng.uniform(0, 2, 8),
        ]
    )
    wrong = res["zeta"] + res["zeta_sigma"]
    ref = evaluate(wrong, (M, rho, F, A2), pts)
    got = [gd.gamma_decay_coefficient(int(mm), rho=r, F_gamma=f, mean_A2=a) for mm, r, f, a in pts]
    with pytest.raises(AssertionError):
        assert_allclose_rounding(np.asarray(got, float), ref, ops=10)
