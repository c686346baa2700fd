"""Proxy Norm for ReLU (C19, article 003): moments of ``relu(a z + b)``, ``z ~ N(0, 1)``.

With ``a > 0`` the output is positive exactly when ``z > -b/a``, so
``E[relu(a z + b)^k] = int_{-b/a}^oo (a z + b)^k phi(z) dz``; sympy integrates these and
checks them against the closed forms ``E = a phi(b/a) + b Phi(b/a)`` and
``E2 = (a^2 + b^2) Phi(b/a) + a b phi(b/a)`` of THEORY C19. For ``a < 0`` the same formulas
hold with ``|a|`` (``z`` and ``-z`` have the same law); at ``a = 0`` the output is the constant
``relu(b)``.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["EXPLANATIONS", "derive"]

a = sp.Symbol("a", positive=True)
b = sp.Symbol("b", real=True)

EXPLANATIONS = {
    "mean": "E[relu(a z + b)], integrated by sympy (a > 0).",
    "second_moment": "E[relu(a z + b)^2], integrated by sympy.",
    "variance": "Var[relu(a z + b)] = E2 - E^2.",
    "mean_closed_form": "THEORY's form a phi(b/a) + b Phi(b/a).",
    "second_moment_closed_form": "THEORY's form (a^2 + b^2) Phi(b/a) + a b phi(b/a).",
    "mean_minus_closed_form": "Integrated minus closed-form mean (simplifies to 0).",
    "second_moment_minus_closed_form": "Integrated minus closed-form second moment (0).",
    "mean_standard": "Mean at a = 1, b = 0: 1/sqrt(2 pi).",
    "variance_standard": "Variance at a = 1, b = 0: 1/2 - 1/(2 pi).",
}


@lru_cache(maxsize=1)
def derive() -> dict[str, sp.Expr]:
    """The C19 derivation: mean and variance of ``relu(a z + b)`` for a Gaussian ``z``.

    Returns
    -------
    dict of str to sympy expression in the symbols ``a > 0`` and real ``b``.
    """
    z = sp.Symbol("z", real=True)
    pdf = sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    lower = -b / a
    mean = sp.simplify(sp.integrate((a * z + b) * pdf, (z, lower, sp.oo)))
    second = sp.simplify(sp.integrate((a * z + b) ** 2 * pdf, (z, lower, sp.oo)))
    u = b / a
    phi = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    Phi = (1 + sp.erf(u / sp.sqrt(2))) / 2
    mean_cf = a * phi + b * Phi
    second_cf = (a**2 + b**2) * Phi + a * b * phi
    variance = second - mean**2
    return {
        "mean": mean,
        "second_moment": second,
        "variance": variance,
        "mean_closed_form": mean_cf,
        "second_moment_closed_form": second_cf,
        "mean_minus_closed_form": sp.simplify((mean - mean_cf).rewrite(sp.erf)),
        "second_moment_minus_closed_form": sp.simplify((second - second_cf).rewrite(sp.erf)),
        "mean_standard": sp.simplify(mean.subs({a: 1, b: 0})),
        "variance_standard": sp.simplify(variance.subs({a: 1, b: 0})),
    }
