"""Evaluate sympy expressions at 50 significant digits (mpmath), the reference values.

Lambdifying with mpmath avoids the cancellations of the closed forms in float64 (e.g.
``1 - alpha - zeta + sqrt(...)`` at large zeta), so the reference is exact to far below the
float64 rounding error that the numeric function is held to.
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

DIGITS = 50


def evaluate(expr: sp.Expr, args: tuple[sp.Symbol, ...], points) -> np.ndarray:
    """``expr`` at each row of ``points`` (shape ``(n, len(args))``) as float64."""
    f = sp.lambdify(args, expr, modules="mpmath")
    out = []
    with mpmath.workdps(DIGITS):
        for row in np.atleast_2d(points):
            out.append(float(f(*[mpmath.mpf(float(v)) for v in row])))
    return np.asarray(out)
