"""Krogh–Hertz learning curves (C5–C7, article 001 §2): ridge regression on Gaussian data.

``G(zeta) = int rho_MP(lambda) / (lambda + zeta) d lambda`` is the Stieltjes transform, at
``-zeta``, of the Marchenko–Pastur law of ``X^T X / N`` (``X`` of shape ``(P, N)``,
``alpha = P/N``). It solves the self-consistent (Marchenko–Pastur / Silverstein) equation
``G = 1 / (zeta + alpha / (1 + G))``, a quadratic with two roots whose product is
``-1/zeta < 0``: exactly one root is positive. A Stieltjes transform of a probability measure
on ``[0, oo)`` evaluated at ``-zeta < 0`` is positive and behaves as ``1/zeta`` for large
``zeta``; the positive root has both properties, so it is the branch.

The ridge (WN + gamma decay) generalization error is
``eps_wn = delta^2 d(zeta G)/d zeta - zeta^2 dG/d zeta``; its ``zeta -> 0`` limits give the
pseudo-inverse error ``eps_sgd`` of C5, and its derivative is
``2 alpha (zeta - delta^2) / S^3`` with ``S = sqrt((1 - alpha - zeta)^2 + 4 zeta) > 0``, so
the unique minimum is at ``zeta = delta^2`` for every ``alpha`` (C7). Every one of these
statements is established by sympy (``solve``, ``limit``, ``simplify``) in :func:`derive`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["EXPLANATIONS", "derive"]

zeta, alpha, delta2 = sp.symbols("zeta alpha delta2", positive=True)
_b = sp.Symbol("b", positive=True)  # alpha = 1 - b (alpha < 1) or 1 + b (alpha > 1)

EXPLANATIONS = {
    "self_consistent_equation": "Polynomial form of G = 1/(zeta + alpha/(1 + G)) (= 0).",
    "roots": "Both roots of the self-consistent equation.",
    "root_product": "Product of the two roots: -1/zeta < 0, so exactly one root is positive.",
    "root_difference": "Chosen root minus the other: S/zeta > 0, so the chosen root is the positive one.",
    "G": "The chosen branch: the Stieltjes transform G(zeta) of THEORY C6.",
    "G_large_zeta": "lim_{zeta->oo} zeta G = 1 (total mass 1, as a Stieltjes transform must).",
    "S": "S = sqrt((1 - alpha - zeta)^2 + 4 zeta).",
    "dG": "dG/dzeta.",
    "density": "Marchenko-Pastur density from the Stieltjes inversion rho(lambda) = "
    "Im G(-lambda - i0)/pi on lambda_- < lambda < lambda_+.",
    "eps_wn": "Ridge generalization error delta^2 d(zeta G)/dzeta - zeta^2 dG/dzeta (C6).",
    "eps_sgd_alpha_lt_1": "lim_{zeta->0} eps_wn for alpha = 1 - b < 1, written in alpha: "
    "1 - alpha + alpha delta^2/(1 - alpha).",
    "eps_sgd_alpha_gt_1": "lim_{zeta->0} eps_wn for alpha > 1: delta^2/(alpha - 1) (C5).",
    "eps_sgd_alpha_eq_1": "lim_{zeta->0} eps_wn at alpha = 1: divergent.",
    "article_minus_derived_alpha_gt_1": "The article's delta^2/(1 - alpha) minus the derived "
    "alpha > 1 limit: -2 delta^2/(alpha - 1) != 0 (the sign erratum of C5; the article's value "
    "is negative, impossible for a mean squared error).",
    "d_eps_wn": "d eps_wn / dzeta, simplified: 2 alpha (zeta - delta^2)/S^3.",
    "argmin_zeta": "The stationary points of eps_wn in zeta > 0: {delta^2} (C7).",
    "eps_wn_at_optimum": "eps_wn at zeta = delta^2: delta^2 G(delta^2).",
}


def _limit_in_alpha(expr: sp.Expr, sign: int) -> sp.Expr:
    """lim_{zeta->0} expr with alpha = 1 + sign*b, written back in alpha."""
    lim = sp.limit(expr.subs(alpha, 1 + sign * _b), zeta, 0, "+")
    return sp.simplify(lim.subs(_b, sign * (alpha - 1)))


@lru_cache(maxsize=1)
def derive() -> dict[str, sp.Expr]:
    """The C5–C7 derivation: G, eps_wn, its zeta -> 0 limits and its minimizer.

    Returns
    -------
    dict of str to sympy expression in the positive symbols ``zeta, alpha, delta2``; keys
    are described in :data:`EXPLANATIONS`.
    """
    G = sp.Symbol("G")
    equation = sp.numer(sp.together(G - 1 / (zeta + alpha / (1 + G))))
    roots = sp.solve(equation, G)
    S = sp.sqrt((1 - alpha - zeta) ** 2 + 4 * zeta)
    # Pick the root whose difference from the other is +S/zeta (positive): the positive root.
    diffs = [sp.simplify(roots[0] - roots[1]), sp.simplify(roots[1] - roots[0])]
    chosen = 0 if sp.simplify(diffs[0] * zeta - S) == 0 else 1
    g_root = sp.simplify(roots[chosen])
    g = (1 - alpha - zeta + S) / (2 * zeta)  # THEORY's way of writing the same root
    if sp.simplify(g_root - g) != 0:
        raise ArithmeticError(f"the positive root {g_root} is not THEORY's G {g}")
    out: dict[str, sp.Expr] = {
        "self_consistent_equation": sp.collect(sp.expand(equation), G),
        "roots": sp.Matrix(roots),
        "root_product": sp.simplify(roots[0] * roots[1]),
        "root_difference": diffs[chosen],
        "G": g,
        "G_large_zeta": sp.limit(zeta * g, zeta, sp.oo),
        "S": S,
    }
    dg = sp.diff(g, zeta)
    out["dG"] = sp.simplify(dg)
    lam = sp.Symbol("lambda", positive=True)
    # Stieltjes inversion at zeta = -lambda: S^2 becomes (1 - alpha + lambda)^2 - 4 lambda,
    # negative inside the support, where S is imaginary; only S carries an imaginary part,
    # and the sign is the one that makes the density positive.
    s2 = sp.expand(S.subs(zeta, -lam) ** 2)
    out["density"] = sp.sqrt(sp.factor(-s2)) / (2 * sp.pi * lam)
    eps = delta2 * sp.diff(zeta * g, zeta) - zeta**2 * dg
    out["eps_wn"] = sp.simplify(eps)
    out["eps_sgd_alpha_lt_1"] = _limit_in_alpha(eps, -1)
    out["eps_sgd_alpha_gt_1"] = _limit_in_alpha(eps, +1)
    out["eps_sgd_alpha_eq_1"] = sp.limit(eps.subs(alpha, 1), zeta, 0, "+")
    article = delta2 / (1 - alpha)
    out["article_minus_derived_alpha_gt_1"] = sp.simplify(article - out["eps_sgd_alpha_gt_1"])
    d_eps = sp.simplify(sp.factor(sp.diff(eps, zeta)))
    out["d_eps_wn"] = d_eps
    out["argmin_zeta"] = sp.FiniteSet(*sp.solve(sp.numer(sp.together(d_eps)), zeta))
    out["eps_wn_at_optimum"] = sp.simplify(eps.subs(zeta, delta2))
    return out
