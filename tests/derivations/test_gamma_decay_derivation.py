"""C3/C4: the derived gamma-decay expansion, its special cases, and regnorm's code."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from derivations import gamma_decay as D
from tests.derivations.high_precision import evaluate
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within

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


def test_c2_variance_carries_sigma_p_squared(res):
    sigma_p = sp.Symbol("sigma_P", positive=True)
    assert sp.simplify(res["batch_std_variance"] - (rho + 2) * sigma_p**2 / (4 * M)) == 0


def test_batch_statistics_law_matches_regnorm(res, rng):
    bn = pytest.importorskip("regnorm.batch_noise")
    sigma_p = sp.Symbol("sigma_P", positive=True)
    for m_val, s_val, r_val in zip(
        rng.integers(2, 512, 6), rng.uniform(0.1, 5, 6), rng.uniform(-1.5, 6, 6), strict=True
    ):
        law = bn.batch_statistics_law(int(m_val), sigma=s_val, rho=r_val)
        ref = evaluate(res["batch_std_variance"], (M, sigma_p, rho), [[m_val, s_val, r_val]])
        assert_allclose_rounding(law.std_variance, ref[0], ops=10)
        # Negative control: the article's (rho+2)/(4M) without sigma_P^2.
        if abs(s_val - 1) > 0.05:
            with pytest.raises(AssertionError):
                assert_allclose_rounding(law.std_variance, (r_val + 2) / (4 * m_val), ops=10)


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
    for center, key in ((True, "zeta"), (False, "zeta_sigma")):
        ref = evaluate(res[key], (M, rho, F, A2), pts)
        got = [
            gd.gamma_decay_coefficient(int(mm), rho=r, F_gamma=f, mean_A2=a, center=center)
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


def test_gaussian_exact_outside_agrees_to_order_one_only(res):
    """The exact Gaussian (x outside the batch) error agrees with C3 at 1/M, not at 1/M^2."""
    series = sp.expand(res["squared_deviation_gaussian_outside_series"])
    c3 = sp.expand(res["squared_deviation_article"].subs({rho: 0, gamma: 1}))
    c2_model = sp.expand(res["squared_deviation_order2"].subs({rho: 0, gamma: 1}))
    assert sp.expand(series.coeff(M, -1) - c3.coeff(M, -1)) == 0
    assert sp.expand(series.coeff(M, -1) - (z**2 / 2 + 1)) == 0
    exact_2 = series.coeff(M, -2)
    assert sp.expand(exact_2 - (sp.Rational(71, 16) * z**2 + 3)) == 0
    assert sp.expand(exact_2 - c3.coeff(M, -2)) != 0
    assert sp.expand(exact_2 - c2_model.coeff(M, -2)) != 0


def test_gaussian_exact_outside_matches_quadrature(res):
    """E over the chi law of sigma_B by quadrature (mu_B integrated exactly)."""
    from scipy import special

    for m_val, z_val in ((8, 1.5), (32, 2.0)):
        k = m_val - 1
        log_norm = (k / 2 - 1) * np.log(2) + special.gammaln(k / 2)

        def integrand(t, k=k, m_val=m_val, z_val=z_val, log_norm=log_norm):
            s = t / np.sqrt(m_val)  # sigma_B = chi_{M-1} / sqrt(M)
            pdf = np.exp((k - 1) * np.log(t) - t * t / 2 - log_norm)
            return ((z_val**2 + 1 / m_val) / s**2 - 2 * z_val**2 / s + z_val**2) * pdf

        ref = integrate.quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-12)[0]
        got = evaluate(res["squared_deviation_gaussian_outside"], (M, z), [[m_val, z_val]])[0]
        np.testing.assert_allclose(got, ref, rtol=1e-10)  # quad's accuracy


def test_gaussian_conditional_error_matches_regnorm(res, rng):
    bn = pytest.importorskip("regnorm.batch_noise")
    if not hasattr(bn, "gaussian_conditional_error"):
        pytest.skip("regnorm.batch_noise has no gaussian_conditional_error (not in the contract)")
    zs = rng.standard_normal(12) * 2
    ms = rng.integers(4, 300, 12)
    ref = evaluate(res["squared_deviation_gaussian_outside"], (z, M), np.column_stack([zs, ms]))
    got = np.asarray(bn.gaussian_conditional_error(zs, ms), float)
    # A difference of O(z^2) terms that cancel to O(z^2/M): absolute rounding of their size.
    assert_allclose_rounding(got, ref, ops=20, atol=1e-12 * float(np.max(zs**2 + 1)))
    with pytest.raises(AssertionError):  # negative control: the first-order C3 is not exact
        c3 = evaluate(
            res["squared_deviation_article"].subs({rho: 0, gamma: 1}),
            (z, M),
            np.column_stack([zs, ms]),
        )
        assert_allclose_rounding(got, c3, ops=20, atol=1e-12 * float(np.max(zs**2 + 1)))


def test_zeta_from_data_relu_matches_derived_integrals(res):
    """Monte-Carlo F_gamma and mu_A'' of regnorm's estimator vs the derived ReLU integrals."""
    gd = pytest.importorskip("regnorm.gamma_decay")
    n, g, b = 400_000, 1.0, 1.0
    h = np.random.default_rng(44).standard_normal(n)
    est = gd.zeta_from_data(h, 32, loss="relu", gamma=g, beta=b)
    zs = (h - h.mean()) / h.std()
    active = (g * zs + b > 0).astype(float)
    se_f = np.std(active * zs**2) / np.sqrt(n)  # standard errors of the two sample means
    se_m = np.std(active) / np.sqrt(n)
    f_ref = evaluate(res["relu_F_gamma"], (gamma, beta), [[g, b]])[0]
    m_ref = evaluate(res["relu_mean_A2"], (gamma, beta), [[g, b]])[0]
    assert_z_within(est.F_gamma, se_f, f_ref)
    assert_z_within(est.mean_A2, se_m, m_ref)
    # Negative control: the beta = 0 values (1/2, 1/2) are rejected at beta = 1.
    assert_z_exceeds(est.F_gamma, se_f, 0.5)
    assert_z_exceeds(est.mean_A2, se_m, 0.5)
