"""The claims checks of the derivations: symbolic (sympy) results against THEORY.md.

Each check derives with :mod:`derivations` and compares with THEORY's closed form in a
deterministic record. :data:`CHECKS` is declared in ``pyproject.toml`` as the entry point
``2-derivations = "derivations.checks:CHECKS"`` of the group ``regnorm.checks``.
"""

from __future__ import annotations

from regnorm.claims import claim, deterministic_record

from .krogh_hertz import alpha, delta2, derive

__all__ = ["CHECKS", "check_c5_limits", "check_c7_argmin"]


@claim("C5", source="001 §2 (symbolic, derivations.krogh_hertz)")
def check_c5_limits(ctx):
    """The zeta -> 0 limits of eps_wn, derived by sympy, equal THEORY's corrected C5."""
    res = derive()
    for a, d2 in ((0.5, 0.25), (2.0, 0.25), (3.0, 1.0)):
        key = "eps_sgd_alpha_lt_1" if a < 1 else "eps_sgd_alpha_gt_1"
        derived = float(res[key].subs({alpha: a, delta2: d2}))
        theory = 1 - a + a * d2 / (1 - a) if a < 1 else d2 / (a - 1)
        note = "sympy limit zeta->0 of eps_wn vs THEORY C5"
        if a > 1:
            note += f"; the article's delta^2/(1-alpha) = {d2 / (1 - a):.4g} here (sign erratum)"
        yield deterministic_record(
            "C5",
            {"alpha": a, "delta2": d2, "method": "sympy limit"},
            analytic=theory,
            numeric=derived,
            rtol=1e-14,
            note=note,
            source="001 §2",
        )


@claim("C7", source="001 §2 (symbolic, derivations.krogh_hertz)")
def check_c7_argmin(ctx):
    """The unique stationary point of eps_wn in zeta, solved by sympy, is delta^2."""
    res = derive()
    roots = list(res["argmin_zeta"])
    for d2 in (0.25, 1.0):
        derived = float(roots[0].subs(delta2, d2)) if len(roots) == 1 else float("nan")
        yield deterministic_record(
            "C7",
            {"delta2": d2, "alpha": "any", "method": "sympy solve d eps_wn/d zeta = 0"},
            analytic=d2,
            numeric=derived,
            rtol=1e-14,
            note=f"d eps_wn/d zeta = {res['d_eps_wn']} (sign of zeta - delta^2: a minimum)",
            source="001 §2",
        )


CHECKS = [check_c5_limits, check_c7_argmin]
