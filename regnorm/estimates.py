r"""Estimates and their statistics: one home for mean ± s.e., Student-t intervals, paired
differences and slopes.

An :class:`Estimate` is a value, its standard error and the degrees of freedom of that error
(``None`` for a large-sample normal estimate, e.g. a Monte-Carlo mean over millions of draws).
Replicate-level statistics (a handful of seeds or data sets) carry ``dof = n - 1`` and are
judged with a Student-t quantile, never a normal one:

.. math::

    \bar x \pm t_{1 - (1 - \ell)/2,\ \nu}\ \frac{s}{\sqrt n}, \qquad \nu = n - 1 .
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Estimate",
    "group_summary",
    "mean_estimate",
    "paired_difference",
    "slope",
    "slopes",
    "t_half_width",
    "t_interval",
]


class Estimate(NamedTuple):
    """A value with its standard error and the degrees of freedom of the error.

    ``dof`` is ``None`` for a large-sample estimate whose error is normal (a Monte-Carlo mean
    over many draws); otherwise intervals use Student's t with ``dof`` degrees of freedom.
    """

    value: float
    stderr: float
    dof: int | None = None


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _sample(x: Any, name: str, minimum: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size < minimum:
        raise ValueError(f"{name} needs at least {minimum} values, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {a.tolist()!r}")
    return a


def mean_estimate(x: Any) -> Estimate:
    """The mean of ``x`` (one value per independent replicate) with its standard error.

    ``stderr = std(x, ddof=1) / sqrt(n)`` and ``dof = n - 1``; ``n >= 2``.
    """
    a = _sample(x, "x", 2)
    return Estimate(float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)), int(a.size - 1))


def t_half_width(stderr: float, dof: int | None, level: float = 0.95) -> float:
    """Half width of the two-sided ``level`` interval: ``t_{(1+level)/2, dof} * stderr``.

    ``dof=None`` uses the normal quantile (the large-sample limit).
    """
    from scipy import stats

    level = _check_level(level)
    if dof is None:
        q = float(stats.norm.ppf(0.5 + level / 2))
    else:
        if isinstance(dof, bool) or not isinstance(dof, int | np.integer) or dof < 1:
            raise ValueError(f"dof must be an int >= 1 or None, got {dof!r}")
        q = float(stats.t.ppf(0.5 + level / 2, int(dof)))
    return q * float(stderr)


def t_interval(estimate: Estimate, level: float = 0.95) -> tuple[float, float]:
    """The two-sided ``level`` interval ``(low, high)`` of an :class:`Estimate`."""
    hw = t_half_width(estimate.stderr, estimate.dof, level)
    return estimate.value - hw, estimate.value + hw


def paired_difference(a: Any, b: Any) -> Estimate:
    """The mean of ``a - b`` over paired replicates, with its standard error (``dof = n - 1``).

    ``a[i]`` and ``b[i]`` are measured on the same replicate (the same data set and seed), so
    the replicate-to-replicate variation they share cancels in the difference.
    """
    a = _sample(a, "a", 2)
    b = _sample(b, "b", 2)
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair up: shapes {a.shape} and {b.shape}")
    return mean_estimate(a - b)


def slopes(x: Any, y: Any) -> np.ndarray:
    r"""Least-squares slopes of each row of ``y`` (shape ``(R, K)`` or ``(K,)``) against ``x``.

    .. math::

        \hat b_r = \frac{\sum_k (x_k - \bar x)(y_{rk} - \bar y_r)}{\sum_k (x_k - \bar x)^2}
    """
    xv = np.asarray(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    if xv.ndim != 1 or xv.size < 2:
        raise ValueError(f"x must be one-dimensional with at least 2 values, got shape {xv.shape}")
    if yv.shape[-1:] != xv.shape:
        raise ValueError(f"y's last axis must match x: shapes {yv.shape} and {xv.shape}")
    xc = xv - xv.mean()
    sxx = float(xc @ xc)
    if not sxx > 0:
        raise ValueError(f"x must not be constant, got {xv.tolist()!r}")
    return (yv - yv.mean(axis=-1, keepdims=True)) @ xc / sxx


def slope(x: Any, y: Any) -> Estimate:
    """The mean over replicates (rows of ``y``) of the per-replicate slope, with its s.e.

    ``y`` has one row per independent replicate and one column per ``x`` value; the estimate
    is :func:`mean_estimate` of :func:`slopes` (``dof = R - 1``). With one row (``y`` 1-D) the
    ordinary least-squares slope and its residual standard error (``dof = K - 2``) are returned.
    """
    yv = np.asarray(y, dtype=np.float64)
    if yv.ndim == 2:
        return mean_estimate(slopes(x, yv))
    xv = np.asarray(x, dtype=np.float64)
    b = float(slopes(xv, yv))
    if xv.size < 3:
        raise ValueError(f"a single-series slope's error needs at least 3 points, got {xv.size}")
    xc = xv - xv.mean()
    resid = yv - yv.mean() - b * xc
    s2 = float(resid @ resid) / (xv.size - 2)
    return Estimate(b, math.sqrt(s2 / float(xc @ xc)), int(xv.size - 2))


def group_summary(df: Any, by: str | Sequence[str], col: str, *, level: float = 0.95) -> Any:
    """Mean of ``col`` over replicates per group ``by``, with its Student-t half width.

    Returns a DataFrame with the ``by`` columns, ``mean``, ``half_width`` and ``n`` (the
    replicates of each group; ``half_width`` is NaN for a group of one, whose error is unknown).
    """
    from scipy import stats

    level = _check_level(level)
    g = df.groupby(by, sort=False)[col]
    out = g.agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    n = out["n"].to_numpy()
    q = np.full(n.shape, np.nan)
    q[n >= 2] = stats.t.ppf(0.5 + level / 2, n[n >= 2] - 1)
    out["half_width"] = q * out["std"].to_numpy() / np.sqrt(n)
    return out.drop(columns="std").reset_index()
