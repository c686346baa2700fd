"""Gamma decay (C2-C4, article 001 §1.3): BN = population normalization + a gamma^2 penalty.

Work in units of the population statistics: ``z = (h - mu_P)/sigma_P``,
``mu_B = mu_P + sigma_P m`` and ``sigma_B = sigma_P (1 + e)``, so that
``h_hat - h_bar = gamma [(z - m)/(1 + e) - z]``. The batch statistics follow C2:
``m ~ N(0, V_mu)``, ``e ~ N(0, V_sigma)``, independent, with ``V_mu = 1/M`` and
``V_sigma = (rho + 2)/(4M)``. Expanding ``1/(1 + e)`` in powers of ``e`` and taking Gaussian
moments term by term gives ``E[(h_hat - h_bar)^2]`` as a series in 1/M (an asymptotic series:
under a Gaussian ``e`` the exact expectation of ``1/(1+e)^2`` does not exist).

The GLM loss ``l(h) = A(h) - y h`` is expanded to second order around ``h_bar``; the
first-order term is dropped (it multiplies ``A'(h_bar) - y``, zero on average at the GLM's
population optimum, the article's argument), and the second-order term averaged over the data
gives ``zeta gamma^2`` with ``F_gamma = mean A''(h_bar) z^2`` and ``mu_A'' = mean A''(h_bar)``.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .batch_noise import chi_moment, series_in_inverse_M

__all__ = ["EXPLANATIONS", "derive"]

M, gamma = sp.symbols("M gamma", positive=True)
rho = sp.Symbol("rho", real=True)
z, beta, y = sp.symbols("z beta y", real=True)
V_mu, V_sigma = sp.symbols("V_mu V_sigma", nonnegative=True)
F_gamma, mean_A2 = sp.symbols("F_gamma mu_A2", nonnegative=True)

EXPLANATIONS = {
    "batch_std_variance": "C2 by the delta method: Var(sigma_B) ~ Var(sigma_B^2)/(4 sigma_P^2) "
    "with Var(sigma_B^2) ~ (mu_4 - sigma_P^4)/M and mu_4 = (rho + 3) sigma_P^4; the "
    "sigma_P^2 the article drops is there (C2 erratum).",
    "mean_deviation": "E[h_hat - h_bar] to order 1/M: it multiplies A'(h_bar) - y in the loss "
    "expansion and is dropped (zero on average at the population optimum).",
    "squared_deviation_general": "E[(h_hat - h_bar)^2] to second order in (V_mu, V_sigma), in terms of the variances of mu_B and sigma_B.",
    "squared_deviation_order1": "E[(h_hat - h_bar)^2] to order 1/M under C2.",
    "squared_deviation_article": "The article's C3: the order-1/M terms plus the 1/M^2 cross "
    "term 3 V_mu V_sigma it quotes; this is the exact result of truncating 1/sigma_B at second order in e.",
    "squared_deviation_order2": "The complete 1/M^2 series under C2 (fourth order in e).",
    "omitted_by_article": "The 1/M^2 term the article's C3 omits: 9 V_sigma^2 z^2 gamma^2.",
    "squared_deviation_gaussian_outside": "Exact E[(h_hat - h_bar)^2]/gamma^2 for N(0,1) "
    "data with x = z outside the batch (ddof=0), from the chi law of sigma_B (M > 3).",
    "squared_deviation_gaussian_outside_series": "Its 1/M series to 1/M^2: the exact 1/M^2 "
    "term differs from both the article's and the C2 model's (C2 neglects the O(1/M) bias "
    "and non-Gaussianity of sigma_B, which enter at 1/M^2).",
    "loss_expansion": "Second-order Taylor expansion of l(h_hat) = A(h_hat) - y h_hat around "
    "h_bar, d = h_hat - h_bar.",
    "zeta": "The gamma-decay coefficient of C4 (loss ~ L_PN + zeta gamma^2).",
    "zeta_sigma": "The part of zeta from the noise of sigma_B (V_mu = 0).",
    "zeta_mu": "The part of zeta from the noise of mu_B (V_sigma = 0).",
    "relu_A2": "A'' of the softplus GLM A'(h) = log(1 + exp(t h))/t as t -> oo, for h > 0 and "
    "h < 0 (Heaviside step).",
    "relu_F_gamma": "F_gamma for ReLU with h_bar = gamma z + beta, z ~ N(0,1): "
    "E[z^2; gamma z + beta > 0].",
    "relu_mean_A2": "mu_A'' for ReLU: P(gamma z + beta > 0).",
    "zeta_relu": "zeta for ReLU (softplus limit), Gaussian z, general gamma, beta, rho.",
    "zeta_relu_standard": "zeta for ReLU with beta = 0, rho = 0: 3/(8M).",
    "zeta_identity": "Identity GLM (A = h^2/2, A'' = 1), z ~ N(0,1): 3/(4M).",
    "zeta_squared_loss": "Squared loss (h - y)^2 (A'' = 2), z ~ N(0,1): 3/(2M).",
    "zeta_no_mean_subtraction_squared": "Squared loss without mean subtraction (no mu_B noise): 1/(2M).",
}


def _gaussian_moment(var: sp.Expr, k: int) -> sp.Expr:
    """E[X^k] for X ~ N(0, var): (k-1)!! var^(k/2) for even k, 0 for odd k."""
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1) * var ** (k // 2)


def _expected_power(power: int, order: int, e_order: int | None = None) -> sp.Expr:
    """E[(h_hat - h_bar)^power] to order ``order`` in 1/M (total degree ``2 order`` in m, e).

    ``e_order`` further truncates the expansion in e (the sigma_B fluctuation) alone; the
    article's C3 is ``e_order=2`` with the m-dependence kept exactly.
    """
    m, e, tm, te = sp.symbols("m e t_m t_e", real=True)
    max_total = 2 * order
    e_order = max_total if e_order is None else e_order
    inverse = sp.series(1 / (1 + te * e), te, 0, e_order + 1).removeO()
    dev = gamma * ((z - tm * m) * inverse - z)
    poly = sp.Poly(sp.expand(dev**power), m, e, tm, te)
    result = sp.Integer(0)
    for (i, j, a, b), c in poly.terms():
        if b <= e_order and a + b <= max_total:
            result += c * _gaussian_moment(V_mu, i) * _gaussian_moment(V_sigma, j)
    return sp.expand(result)


def _c2(expr: sp.Expr) -> sp.Expr:
    """Substitute the C2 variances (units of sigma_P): V_mu = 1/M, V_sigma = (rho+2)/(4M)."""
    return sp.expand(expr.subs({V_mu: 1 / M, V_sigma: (rho + 2) / (4 * M)}))


def _average_over_data(expr: sp.Expr, a2: sp.Symbol) -> sp.Expr:
    """Population mean of an expression linear in A''(h_bar) and A''(h_bar) z^2."""
    expr = sp.expand(expr)
    with_z2 = expr.coeff(a2).coeff(z, 2)
    without_z = expr.coeff(a2).coeff(z, 0)
    rest = sp.expand(expr - a2 * (with_z2 * z**2 + without_z))
    if rest != 0:
        raise ValueError(f"expression is not linear in A'' and A'' z^2: leftover {rest}")
    return with_z2 * F_gamma + without_z * mean_A2


@lru_cache(maxsize=1)
def derive() -> dict[str, sp.Expr]:
    """The C3/C4 derivation: E[(h_hat - h_bar)^2], zeta and its special cases.

    Returns
    -------
    dict of str to sympy expression; keys are described in :data:`EXPLANATIONS`.
    Symbols: ``M, gamma, rho, z, beta, V_mu, V_sigma, F_gamma, mu_A2``.
    """
    out: dict[str, sp.Expr] = {}
    sigma_p = sp.Symbol("sigma_P", positive=True)
    u = sp.Symbol("u", positive=True)  # sigma_B^2
    var_s2 = ((rho + 3) * sigma_p**4 - sigma_p**4) / M
    slope = sp.diff(sp.sqrt(u), u).subs(u, sigma_p**2)
    out["batch_std_variance"] = sp.factor(var_s2 * slope**2)
    mean1 = _expected_power(1, order=1)
    sq1 = _expected_power(2, order=1)
    sq2 = _expected_power(2, order=2)
    # The article's 1/M^2 term: second order in e, but exact in m (V_mu V_sigma kept).
    article = _expected_power(2, order=2, e_order=2)
    out["mean_deviation"] = _c2(mean1)
    out["squared_deviation_general"] = sq2
    out["squared_deviation_order1"] = sp.factor_terms(_c2(sq1))
    out["squared_deviation_article"] = sp.factor_terms(_c2(article))
    out["squared_deviation_order2"] = sp.factor_terms(_c2(sq2))
    out["omitted_by_article"] = sp.factor(_c2(sq2) - _c2(article))
    # Exact Gaussian counterpart: m ~ N(0, 1/M) independent of s = chi_{M-1}/sqrt(M).
    inv_s = sp.powsimp(chi_moment(M - 1, -1) * sp.sqrt(M), force=True)
    inv_s2 = sp.simplify(sp.expand_func(chi_moment(M - 1, -2) * M))
    exact = (z**2 + 1 / M) * inv_s2 - 2 * z**2 * inv_s + z**2
    out["squared_deviation_gaussian_outside"] = sp.expand(exact)
    out["squared_deviation_gaussian_outside_series"] = sp.collect(
        series_in_inverse_M(exact, order=2), M
    )

    # Loss expansion: l(h_bar + d) = A(h_bar + d) - y (h_bar + d), second order in d.
    A = sp.Function("A")
    hb, d = sp.symbols("hbar d", real=True)
    loss = A(hb + d) - y * (hb + d)
    taylor = sum(sp.diff(loss, d, k).subs(d, 0) * d**k / sp.factorial(k) for k in range(3))
    taylor = sp.expand(taylor.doit())
    out["loss_expansion"] = taylor
    a2 = sp.Symbol("A2")  # stands for A''(h_bar) of one sample
    second = sp.expand(taylor.coeff(d, 2).subs(sp.Derivative(A(hb), (hb, 2)), a2))
    per_sample = second * sq1  # order 1/M
    averaged = _average_over_data(per_sample, a2)
    zeta_general = sp.expand(averaged / gamma**2)
    zeta = _c2(zeta_general)
    out["zeta"] = sp.collect(zeta, [F_gamma, mean_A2])
    out["zeta_sigma"] = sp.factor(_c2(zeta_general.subs(V_mu, 0)))
    out["zeta_mu"] = sp.factor(_c2(zeta_general.subs(V_sigma, 0)))

    # ReLU as the softplus limit: A'(h) = log(1 + exp(t h))/t.
    t = sp.Symbol("t", positive=True)
    hp, hn = sp.Symbol("h", positive=True), sp.Symbol("h", negative=True)
    hh = sp.Symbol("h", real=True)
    a2_softplus = sp.diff(sp.log(1 + sp.exp(t * hh)) / t, hh)
    out["relu_A2"] = sp.Matrix(
        [sp.limit(a2_softplus.subs(hh, hp), t, sp.oo), sp.limit(a2_softplus.subs(hh, hn), t, sp.oo)]
    )
    zz = sp.Symbol("z", real=True)
    pdf = sp.exp(-(zz**2) / 2) / sp.sqrt(2 * sp.pi)
    threshold = -beta / gamma  # gamma z + beta > 0  <=>  z > -beta/gamma (gamma > 0)
    F_relu = sp.simplify(sp.integrate(zz**2 * pdf, (zz, threshold, sp.oo)))
    mean_relu = sp.simplify(sp.integrate(pdf, (zz, threshold, sp.oo)))
    out["relu_F_gamma"] = F_relu
    out["relu_mean_A2"] = mean_relu
    zeta_relu = zeta.subs({F_gamma: F_relu, mean_A2: mean_relu})
    out["zeta_relu"] = zeta_relu
    out["zeta_relu_standard"] = sp.simplify(zeta_relu.subs({beta: 0, rho: 0}))

    # Gaussian z ~ N(0,1) (rho = 0, E z^2 = 1) for the remaining special cases.
    def gaussian_case(a2_value: sp.Expr, center: bool = True) -> sp.Expr:
        zg = zeta_general if center else zeta_general.subs(V_mu, 0)
        zg = zg.subs({F_gamma: a2_value * 1, mean_A2: a2_value})
        return sp.simplify(_c2(zg).subs(rho, 0))

    out["zeta_identity"] = gaussian_case(sp.Integer(1))
    out["zeta_squared_loss"] = gaussian_case(sp.Integer(2))
    out["zeta_no_mean_subtraction_squared"] = gaussian_case(sp.Integer(2), center=False)
    return out
