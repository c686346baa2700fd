"""Batch-standardization noise (C1, article 001 §1.1): exact errors and their 1/M series.

Standardize ``x ~ N(0, 1)`` with the mean ``mu_B`` and std ``sigma_B`` of a batch of ``M``
i.i.d. ``N(0, 1)`` samples. For a Gaussian batch ``mu_B ~ N(0, 1/M)`` and
``M sigma_B^2 ~ chi^2(M-1)`` are independent (Cochran), so ``sqrt(M) sigma_B`` is a chi variable
with ``M - 1`` degrees of freedom and every moment below is a ratio of Gamma functions.

Conventions (``ddof`` of the std, and whether ``x`` is one of the batch's samples):

* inside the batch, averaged over the batch's ``M`` samples, the error of one batch is exactly
  ``(c^{-1} - sigma_B)^2 + mu_B^2`` with ``c = sqrt(M/(M - ddof))`` (derived below, no
  approximation), hence ``eps = c^{-2} - 2 E[sigma_B]/c + E[sigma_B^2] + 1/M``; for ``ddof=0``
  this is ``2 - 2 E[sigma_B]``.
* outside the batch (``x`` independent of it), ``eps = (1 + 1/M) E[1/s^2] - 2 E[1/s] + 1`` with
  ``s = c sigma_B``; finite for ``M > 3``.

The 1/M series are computed from the asymptotic series of ``log Gamma`` (sympy's Stirling
expansion), never typed in.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["EXPLANATIONS", "chi_moment", "derive", "series_in_inverse_M"]

M = sp.Symbol("M", positive=True)
_x = sp.Symbol("x", positive=True)  # x = 1/M, the expansion variable

EXPLANATIONS = {
    "per_batch_error": "Mean over one batch of ((x_i - mu_B)/sigma_B - x_i)^2 in terms of the "
    "batch statistics (ddof=0); exact identity.",
    "expected_batch_std": "E[sigma_B] (ddof=0) from the chi distribution with M-1 degrees of "
    "freedom, sigma_B = chi_{M-1}/sqrt(M).",
    "expected_batch_std_ddof1": "E[sigma_B] with the unbiased (ddof=1) std.",
    "expected_inverse_variance": "E[1/sigma_B^2] = M/(M-3) (ddof=0), from the inverse "
    "chi^2 moment; finite for M > 3.",
    "error_inside": "Exact C1 error, x inside the batch, ddof=0: 2 - 2 E[sigma_B].",
    "error_inside_series": "Its 1/M series to 1/M^4; the leading term is 3/(2M).",
    "error_inside_ddof1": "Exact error, x inside the batch, unbiased std (ddof=1).",
    "error_inside_ddof1_series": "Its 1/M series to 1/M^4.",
    "error_outside": "Exact error, x outside the batch (independent of it), ddof=0; M > 3.",
    "error_outside_series": "Its 1/M series to 1/M^4.",
    "error_outside_ddof1": "Exact error, x outside the batch, unbiased std (ddof=1); M > 3.",
    "error_outside_ddof1_series": "Its 1/M series to 1/M^4.",
    "leading_term": "lim_{M->oo} M * error (the same 3/2 for every convention).",
}


def chi_moment(k: sp.Expr, p: sp.Expr) -> sp.Expr:
    """E[chi_k^p] = 2^(p/2) Gamma((k+p)/2) / Gamma(k/2), derived by sympy's integrator."""
    t = sp.Symbol("t", positive=True)
    kk = sp.Symbol("k", positive=True)
    pp = sp.Symbol("p", real=True)
    pdf = t ** (kk - 1) * sp.exp(-(t**2) / 2) / (2 ** (kk / 2 - 1) * sp.gamma(kk / 2))
    # conds="none": the integral converges for p > -k, which every use below satisfies.
    moment = sp.integrate(t**pp * pdf, (t, 0, sp.oo), conds="none")
    return moment.subs({kk: k, pp: p})


def _to_loggamma(expr: sp.Expr) -> sp.Expr:
    """Gamma ratios as ``exp(sum of loggamma)``: the form whose 1/M series sympy knows."""
    e = expr.replace(sp.gamma, lambda a: sp.exp(sp.loggamma(a)))
    return sp.powsimp(e, combine="exp")


def series_in_inverse_M(expr: sp.Expr, order: int = 4) -> sp.Expr:
    """Asymptotic series of ``expr`` in powers of 1/M up to and including ``1/M**order``.

    ``expr`` may contain Gamma functions of ``M``. In each term they are combined into one
    ``exp(sum of loggamma)`` whose exponent is expanded with sympy's asymptotic (Stirling)
    series of ``loggamma``; the divergent parts cancel inside a term because its Gammas
    form a ratio of nearly equal arguments.
    """
    # Terms can carry up to 1/x^2 that cancel between terms, hence the extra orders.
    n = order + 3
    out = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(_to_loggamma(expr))):
        exps = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.exp)]
        prefactor = sp.series((term / sp.Mul(*exps)).subs(M, 1 / _x), _x, 0, n).removeO()
        exponent = sp.Add(*[f.args[0] for f in exps]).subs(M, 1 / _x)
        factor = sp.Integer(1)
        if exponent != 0:
            ls = sp.expand(sp.series(exponent, _x, 0, n).removeO())
            logs = sp.Add(*[t for t in sp.Add.make_args(ls) if not t.has(_x) or t.has(sp.log)])
            powers = ls - logs
            factor = (
                sp.exp(sp.expand_log(logs, force=True))
                * sp.series(sp.exp(powers), _x, 0, n).removeO()
            )
        out += _truncate(sp.expand(prefactor * sp.powsimp(factor)), order)
    return sp.expand(out.subs(_x, 1 / M))


def _truncate(poly: sp.Expr, order: int) -> sp.Expr:
    """Drop the terms of ``poly`` (a sum of powers of x) beyond ``x**order``."""
    keep = []
    for t in sp.Add.make_args(sp.expand(sp.powsimp(poly))):
        _, p = t.as_coeff_exponent(_x)
        if p <= order:
            keep.append(t)
    return sp.Add(*keep)


def _inside(c: sp.Expr, es: sp.Expr, es2: sp.Expr) -> sp.Expr:
    """E[(1/c - sigma_B)^2 + mu_B^2] given E[sigma_B], E[sigma_B^2]."""
    return 1 / c**2 - 2 * es / c + es2 + 1 / M


def _outside(c: sp.Expr, einv: sp.Expr, einv2: sp.Expr) -> sp.Expr:
    """E[(x (1/s - 1) - mu_B / s)^2] for x ~ N(0,1) independent, s = c sigma_B."""
    return (1 + 1 / M) * einv2 / c**2 - 2 * einv / c + 1


@lru_cache(maxsize=1)
def derive() -> dict[str, sp.Expr]:
    """The C1 derivation: exact errors for four conventions and their 1/M series.

    Returns
    -------
    dict of str to sympy expression (in the positive symbol ``M``); keys are described in
    :data:`EXPLANATIONS`.
    """
    # Per-batch identity: with d_i = x_i - mu_B, mean(d_i) = 0 and mean(d_i^2) = sigma_B^2.
    d, mu, sig = sp.symbols("d mu_B sigma_B", real=True)
    sq = sp.expand((d / sig - (d + mu)) ** 2)
    per_batch = sp.factor(sp.expand(sq.coeff(d, 2) * sig**2 + sq.coeff(d, 0)))
    k = M - 1
    # Odd moments stay Gamma ratios; even moments are rational in M.
    es = sp.powsimp(chi_moment(k, 1) / sp.sqrt(M), force=True)
    es2 = sp.simplify(sp.expand_func(chi_moment(k, 2) / M))
    einv = sp.powsimp(chi_moment(k, -1) * sp.sqrt(M), force=True)
    einv2 = sp.simplify(sp.expand_func(chi_moment(k, -2) * M))
    c1 = sp.sqrt(M) / sp.sqrt(M - 1)
    one = sp.Integer(1)
    exact = {
        "error_inside": _inside(one, es, es2),
        "error_inside_ddof1": _inside(c1, es, es2),
        "error_outside": _outside(one, einv, einv2),
        "error_outside_ddof1": _outside(c1, einv, einv2),
    }
    out = {
        "per_batch_error": per_batch,
        "expected_batch_std": es,
        "expected_batch_std_ddof1": sp.powsimp(es * c1, force=True),
        "expected_inverse_variance": einv2,
    }
    for key, expr in exact.items():
        out[key] = sp.expand(expr)
        out[key + "_series"] = series_in_inverse_M(expr)
    out["leading_term"] = sp.limit(M * out["error_inside_series"], M, sp.oo)
    return out
