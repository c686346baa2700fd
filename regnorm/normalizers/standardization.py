"""The standardization that BN, LN, IN and GN share, and the numerics of their statistics.

The standardization (THEORY §4, C17) over a set of axes ``A`` is

.. math::

    z = \\frac{x - \\mu_A}{\\sqrt{\\sigma_A^2 + \\epsilon}}, \\qquad
    \\mu_A = \\operatorname{mean}_A x, \\quad
    \\sigma_A^2 = \\operatorname{mean}_A (x - \\mu_A)^2 \\ (\\text{biased});

its gradient (with ``m = |A|`` and ``s = (\\sigma_A^2+\\epsilon)^{-1/2}``) is

.. math::

    \\frac{\\partial L}{\\partial x} = s\\Big(g - \\operatorname{mean}_A g
    - (x-\\mu_A) s^2 \\operatorname{mean}_A\\big(g (x-\\mu_A)\\big)\\Big),
    \\qquad g = \\partial L / \\partial z .

The "mean-only" (``scale=False``: ``z = x - mu_A``) and "variance-only" (``center=False``:
``z = x / sqrt(sigma_A^2 + eps)``, sigma_A still the *centred* standard deviation) variants
are provided for BN (the "WN + mean-only BN" and "WN + variance-only BN" students of C10).

**Accuracy.** Variances are computed in two passes (:func:`moments`), corrected where an
offset dwarfs the spread (``0.01 randn + 100``) or the input is constant; the one-pass
``E[x^2] - mu^2`` of the fused KNConv and of SwitchableNorm's derived statistics is kept
only within :data:`ONE_PASS_RATIO` (:mod:`~regnorm.normalizers.kernel_norm`,
:mod:`~regnorm.normalizers.switchable_norm`).

**Overflow.** Where ``x**2`` would overflow (``|x|`` beyond about ``1e154`` in float64,
``1e19`` in float32; :func:`squares_overflow`), the statistics are computed on ``x / s``
with ``s`` the max-abs of each set of statistics (:func:`max_abs_unit`; of each sample for
KernelNorm and KNConv, of the whole input for SwitchableNorm), so the output and the
gradients equal those of a scaled-down input to rounding, up to the largest float. Inputs
below that bound take the plain formulas, whose results are unchanged by the scaled path.
The mean-only output ``x - mu`` is refused (``ValueError``) where it exceeds the dtype's
range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import array_namespace

__all__ = [
    "ONE_PASS_RATIO",
    "REFINE_RATIO",
    "Standardization",
    "inverse_std",
    "max_abs_unit",
    "moments",
    "needs_refinement",
    "overflow_allowed",
    "squares_overflow",
    "standardize",
    "standardize_backward",
    "standardize_factors",
]


_SQRT_MAX: dict[type, dict[Any, float]] = {}


def squares_overflow(*variances: Any, xp: Any = None) -> bool:
    """Whether variances computed from plain squares may have overflowed or lost precision.

    ``True`` when some entry of some ``var`` exceeds ``sqrt(finfo.max)`` (about ``1.3e154``
    in float64) or is not finite: beyond that bound ``(x - mu)**2`` overflows, or
    ``var**-1.5`` in the gradient underflows, and the statistics must be recomputed on scaled
    data. One synchronization for all the arrays.
    """
    xp = array_namespace(variances[0]) if xp is None else xp
    safe = None
    for var in variances:
        # keyed by the dtype's type first: array-api-strict dtypes warn when compared to
        # NumPy's
        bounds = _SQRT_MAX.setdefault(type(var.dtype), {})
        bound = bounds.get(var.dtype)
        if bound is None:
            bound = bounds[var.dtype] = math.sqrt(float(xp.finfo(var.dtype).max))
        ok = xp.all(var <= bound)
        safe = ok if safe is None else xp.logical_and(safe, ok)
    return not bool(safe)


#: Largest ``E[x^2] / (sigma^2 + eps)`` for which a one-pass variance ``E[x^2] - mu^2`` is
#: kept (fused KNConv, SwitchableNorm's derived statistics): its rounding error is then about
#: ``u ONE_PASS_RATIO`` of ``sigma^2 + eps`` (``u`` the unit roundoff), 2e-13 in float64 and
#: 6e-5 in float32 at most; beyond it the variance is computed without cancellation.
ONE_PASS_RATIO = 2.0**10

#: ``|mu| / sigma`` beyond which :func:`moments` refines its plain two-pass result, whose
#: rounding error in ``x - mu`` is about ``u log2(m) |mu|`` (``u`` the unit roundoff).
REFINE_RATIO = 64.0


def needs_refinement(mean: Any, var: Any, xp: Any = None) -> bool:
    """Whether some ``|mu| > REFINE_RATIO * sigma``: deviations from the rounded mean are
    then dominated by its rounding error."""
    xp = array_namespace(mean) if xp is None else xp
    return bool(xp.any(xp.abs(mean) > REFINE_RATIO * xp.sqrt(var)))


def moments(x: Any, axes: tuple[int, ...], xp: Any = None) -> tuple[Any, Any, Any]:
    """``(mu, x - mu, sigma^2)`` over ``axes`` (keepdims, biased), in two passes.

    Where some ``|mu| > REFINE_RATIO * sigma`` (an offset that dwarfs the spread, or a
    constant input) the deviations are corrected by their own mean (the corrected two-pass
    algorithm of Chan, Golub and LeVeque): ``x - mu`` is exact for ``x`` near ``mu``, and its
    mean is the rounding error of ``mu``. The deviations then have error about
    ``u log2(m) sigma`` instead of ``u log2(m) |mu|``, and a constant input gives exactly 0.
    Elsewhere the plain two-pass result is returned unchanged.
    """
    xp = array_namespace(x) if xp is None else xp
    mean = xp.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = xp.mean(xc * xc, axis=axes, keepdims=True)
    if needs_refinement(mean, var, xp):
        shift = xp.mean(xc, axis=axes, keepdims=True)
        xc = xc - shift
        var = xp.mean(xc * xc, axis=axes, keepdims=True)
        mean = mean + shift
    return mean, xc, var


def overflow_allowed() -> np.errstate:
    """Silence NumPy's overflow warnings where an overflow is detected and handled after."""
    return np.errstate(over="ignore", invalid="ignore")


def max_abs_unit(x: Any, axes: tuple[int, ...], xp: Any = None) -> Any:
    """``max |x|`` over ``axes`` (keepdims), 1 where that is 0: the unit of the scaled path."""
    xp = array_namespace(x) if xp is None else xp
    unit = xp.max(xp.abs(x), axis=axes, keepdims=True)
    return xp.where(unit > 0, unit, xp.ones_like(unit))


def inverse_std(var: Any, eps: float, unit: Any = None, xp: Any = None) -> Any:
    """``(var + eps)^(-1/2)``, or, for statistics of ``x / unit``, the same in units of ``unit``.

    With ``unit``, ``var`` is the variance of the scaled data and the result is
    ``unit / sqrt(unit^2 var + eps)`` computed as ``1 / hypot(sqrt(var), sqrt(eps) / unit)``,
    which neither overflows nor divides 0 by 0 when ``eps / unit^2`` underflows.
    """
    xp = array_namespace(var) if xp is None else xp
    if unit is None:
        return 1.0 / xp.sqrt(var + eps)
    return 1.0 / xp.hypot(xp.sqrt(var), math.sqrt(eps) / unit)


@dataclass
class Standardization:
    """What :func:`standardize_backward` needs from a forward :func:`standardize`."""

    xc: Any  # x - mu_A (always centred: sigma_A is the centred standard deviation)
    inv_std: Any  # (sigma_A^2 + eps)^(-1/2), keepdims shape
    axes: tuple[int, ...]
    center: bool
    scale: bool
    x: Any  # the input (needed by the variance-only gradient)
    unit: Any = None  # max-abs unit of the scaled path: xc, inv_std, x are in units of it


def standardize_factors(
    x: Any, axes: tuple[int, ...], *, eps: float, center: bool = True, scale: bool = True
) -> tuple[Any, Any, Any, Any, Standardization]:
    """Standardize ``x`` over ``axes`` (biased statistics), as ``z = base * factor``.

    Returning the full-size ``base`` (``x - mu`` or ``x``) and the small ``factor``
    (``inv_std`` with ``keepdims`` shape, or None) separately lets a layer fold its affine
    ``gamma`` into ``factor`` and save full-size passes.

    Returns
    -------
    base : array, shape of ``x``
    factor : array (keepdims shape) or None
    mean, var : array
        ``mu_A`` and the biased ``sigma_A^2``, with ``keepdims`` shape.
    cache : Standardization
        For :func:`standardize_backward`.

    Notes
    -----
    The statistics come from :func:`moments` (two passes, corrected where ``|mu|`` exceeds
    ``REFINE_RATIO sigma``): the error of ``z`` is about ``u log2(m) (min(|mu| / sigma,
    REFINE_RATIO) + |z|)`` with ``u`` the unit roundoff and ``m = |A|`` (a one-pass
    ``E[x^2] - mu^2`` has ``u mu^2 / sigma^2`` instead), and a constant input gives
    ``z = 0``. Where squares
    overflow (:func:`squares_overflow`) the statistics are recomputed on ``x / s`` with ``s``
    the max-abs over ``A``; ``base`` and ``factor`` are then in those units (their product
    ``z`` is not), ``mean`` is exact to rounding and ``var`` is ``inf`` where ``sigma_A^2``
    exceeds the dtype's range.
    """
    xp = array_namespace(x)
    with overflow_allowed():
        mean, xc, var = moments(x, axes, xp)
    if not squares_overflow(var, xp=xp):
        inv_std = 1.0 / xp.sqrt(var + eps)
        base = xc if center else x
        factor = inv_std if scale else None
        return base, factor, mean, var, Standardization(xc, inv_std, axes, center, scale, x)
    unit = max_abs_unit(x, axes, xp)
    xs = x / unit
    mean_s, xc, var_s = moments(xs, axes, xp)
    inv_std = inverse_std(var_s, eps, unit, xp)
    if not scale:  # mean-only: z = x - mu is not scale-free
        with overflow_allowed():
            base, factor = (xc * unit if center else x), None
        if not bool(xp.all(xp.isfinite(base))) and bool(xp.all(xp.isfinite(x))):
            raise ValueError(
                "x - mean(x) overflows the dtype's range (|x| near its maximum): the mean-only "
                "standardization of this x is not representable"
            )
    else:
        base, factor = (xc if center else xs), inv_std
    cache = Standardization(xc, inv_std, axes, center, scale, xs, unit)
    with overflow_allowed():  # var is inf where sigma_A^2 is beyond the dtype's range
        var = (var_s * unit) * unit
    return base, factor, mean_s * unit, var, cache


def standardize(
    x: Any, axes: tuple[int, ...], *, eps: float, center: bool = True, scale: bool = True
) -> tuple[Any, Any, Any, Standardization]:
    """Standardize ``x`` over ``axes`` with biased (``ddof=0``) statistics.

    Returns
    -------
    z : array
        ``(x - mu) * inv_std`` (or the mean-only / variance-only variant), shape of ``x``.
    mean, var : array
        ``mu_A`` and the biased ``sigma_A^2``, with ``keepdims`` shape.
    cache : Standardization
        For :func:`standardize_backward`.
    """
    base, factor, mean, var, cache = standardize_factors(
        x, axes, eps=eps, center=center, scale=scale
    )
    return (base if factor is None else base * factor), mean, var, cache


def standardize_backward(dz: Any, cache: Standardization) -> Any:
    """Gradient of :func:`standardize` with respect to its input (see the module formula)."""
    xp = array_namespace(dz)
    axes, s, xc = cache.axes, cache.inv_std, cache.xc
    if cache.center and cache.scale:
        g_mean = xp.mean(dz, axis=axes, keepdims=True)
        gx_mean = xp.mean(dz * xc, axis=axes, keepdims=True)
        dx = s * (dz - g_mean - xc * (s * s) * gx_mean)
    elif cache.center:
        return dz - xp.mean(dz, axis=axes, keepdims=True)
    elif cache.scale:
        gx_mean = xp.mean(dz * cache.x, axis=axes, keepdims=True)
        dx = s * dz - (s * s * s) * gx_mean * xc
    else:
        return dz
    # z is homogeneous of degree 0 in x: d z / d x = (d z / d(x/s)) / s
    return dx if cache.unit is None else dx * (1.0 / cache.unit)
