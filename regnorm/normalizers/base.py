"""The layer protocol shared by every normalizer, and the standardization they share.

Every normalizer of :mod:`regnorm.normalizers` is a small layer object with

* ``params`` -- ``dict[str, array]`` of learnable parameters (``"gamma"``, ``"beta"`` ...);
* ``grads`` -- ``dict[str, array]`` of the same keys, filled by :meth:`Normalizer.backward`;
* ``state`` -- ``dict[str, array]`` of non-learned state (running statistics ...);
* ``forward(x, *, training=True, check_finite=None, check=True) -> y`` which keeps what
  the backward pass needs,
* ``backward(dy, *, check=True) -> dx``, the gradient with respect to the last forward's
  input (it also fills ``grads``), and
* ``check_params()``, which refuses ``params`` or ``state`` entries of the wrong shape.

``check=False`` is the fast path for a caller that builds its inputs itself (a training
loop): it skips every input check and :meth:`Normalizer.check_params`, and gives the checked
call's result bit for bit; the caller then owns what is skipped (see
:meth:`Normalizer.forward`).

Inputs are ``(N, C)`` or ``(N, C, H, W)``. Internally an ``(N, C)`` input is treated as
``(N, C, 1, 1)``: a statistic "over (H, W)" of such an input has one element (see
:class:`~regnorm.normalizers.instance_norm.InstanceNorm` for what that means).

All array code uses only ``xp.*`` functions of the Python array API standard, so the layers
run unchanged on NumPy, CuPy and array-api-strict.

**Dtypes.** The output and the input gradient have the input's floating dtype (float64,
float32, and float16 where the backend has it). With ``dtype=None`` (the default) the
parameters, gradients and state are created as float64 and follow the input: a forward pass
casts them to the input's dtype. With ``dtype=`` set they are created in that dtype, and an
input of another dtype is refused (``TypeError``). float16 is computed in float32 and
rounded to float16 at the end (its range, 65504, is too small for a sum of squares).
Integer input is refused (``TypeError``): convert it with ``xp.astype``.

**Finite input.** ``forward`` refuses an input containing NaN or inf with a ``ValueError``
(``check_finite=True``, like SciPy's); ``check_finite=False`` (on the layer, or for one
call) skips that pass over the data, and a non-finite input then gives non-finite output.
Large finite inputs are normalized correctly: where ``x**2`` would overflow (``|x|`` beyond
about ``1e154`` in float64, ``1e19`` in float32), the statistics are computed on ``x / s``
with ``s`` the max-abs of each set of statistics (of each sample for KernelNorm and KNConv,
of the whole input for SwitchableNorm), so the output and the gradients equal those of a
scaled-down input to rounding; up to the largest float. Inputs below that bound take the
plain formulas, whose results are unchanged by the scaled path. Two results are refused
instead: the mean-only output ``x - mu`` where it exceeds the dtype's range, and evaluation
with a running variance that overflowed in training (``ValueError``).

**Accuracy.** Variances are computed in two passes, or in one pass on shifted data with a
stated bound; offsets that dwarf the spread (``0.01 randn + 100``) and constant inputs are
handled as :func:`moments` and :mod:`~regnorm.normalizers.kernel_norm` describe.

The standardization that BN, LN, IN and GN share (THEORY §4, C17) is

.. math::

    z = \\frac{x - \\mu_A}{\\sqrt{\\sigma_A^2 + \\epsilon}}, \\qquad
    \\mu_A = \\operatorname{mean}_A x, \\quad
    \\sigma_A^2 = \\operatorname{mean}_A (x - \\mu_A)^2 \\ (\\text{biased}),

over a set of axes ``A``; its gradient (with ``m = |A|`` and
``s = (\\sigma_A^2+\\epsilon)^{-1/2}``) is

.. math::

    \\frac{\\partial L}{\\partial x} = s\\Big(g - \\operatorname{mean}_A g
    - (x-\\mu_A) s^2 \\operatorname{mean}_A\\big(g (x-\\mu_A)\\big)\\Big),
    \\qquad g = \\partial L / \\partial z .

The "mean-only" (``scale=False``: ``z = x - mu_A``) and "variance-only" (``center=False``:
``z = x / sqrt(sigma_A^2 + eps)``, sigma_A still the *centred* standard deviation) variants
are provided for BN (issue 7's "WN + mean-only BN" and "WN + variance-only BN").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import array_namespace, get_namespace
from ..validation import check_real

__all__ = [
    "ONE_PASS_RATIO",
    "REFINE_RATIO",
    "Normalizer",
    "Standardization",
    "check_eps",
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


def check_eps(eps: Any) -> float:
    """``eps`` must be a finite real number > 0 (it keeps the division finite)."""
    return check_real("eps", eps, minimum=0.0, min_inclusive=False)


def check_flag(name: str, value: Any) -> bool:
    """``value`` must be ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


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


class Normalizer:
    """Base class of the normalizer layers (the protocol in the module docstring).

    Subclasses implement :meth:`_forward` and :meth:`_backward` on 4-D arrays
    ``(N, C, H, W)``; this class validates the input, maps ``(N, C)`` to ``(N, C, 1, 1)`` and
    back, and holds ``params``, ``grads`` and ``state``.

    Parameters
    ----------
    num_channels : int or None
        ``C``, checked against every input's axis 1 (``None``: any channel count, for the
        parameter-free :class:`~regnorm.normalizers.kernel_norm.KernelNorm`).
    xp : namespace, str or None
        Array backend of the parameters (see :func:`regnorm.backend.get_namespace`).
    dtype : floating dtype of ``xp`` or None
        Dtype of the parameters and state. ``None``: created as float64 and cast to each
        input's dtype by :meth:`forward`; a dtype: fixed, and inputs must have it.
    check_finite : bool
        Default of :meth:`forward`'s ``check_finite``: refuse inputs with NaN or inf.
    """

    #: rank(s) of input accepted by :meth:`forward`
    input_ranks: tuple[int, ...] = (2, 4)

    def __init__(
        self,
        num_channels: int | None,
        *,
        xp: Any = None,
        dtype: Any = None,
        check_finite: bool = True,
    ) -> None:
        from ..validation import check_integer

        if num_channels is not None:
            num_channels = check_integer("num_channels", num_channels, minimum=1)
        self.num_channels = num_channels
        self.xp = get_namespace(xp)
        self.dtype = None if dtype is None else self._check_dtype(dtype)
        self.check_finite = check_flag("check_finite", check_finite)
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._cache: Any = None
        self._rank: int | None = None
        self._shape: tuple[int, ...] | None = None
        self._io_dtype: Any = None

    @property
    def param_dtype(self) -> Any:
        """The dtype new parameters and state are created in (``dtype``, or float64)."""
        return self.xp.float64 if self.dtype is None else self.dtype

    # -- protocol --------------------------------------------------------------------------
    def forward(
        self,
        x: Any,
        *,
        training: bool = True,
        check_finite: bool | None = None,
        check: bool = True,
    ) -> Any:
        """Normalize ``x`` of shape ``(N, C)`` or ``(N, C, H, W)``; keep what backward needs.

        Parameters
        ----------
        x : array
            Real floating input; the output has its dtype.
        training : bool
            Batch statistics and running-average updates (layers that have them).
        check_finite : bool or None
            Refuse ``x`` if it contains NaN or inf (``ValueError``); ``None``: the layer's
            ``check_finite``. ``False`` skips one pass over ``x``.
        check : bool
            ``True`` (default): validate ``x`` (an array of an accepted rank with
            ``num_channels`` channels on axis 1 and a real floating dtype, the layer's
            ``dtype`` if it has one, finite unless ``check_finite`` is off) and the shapes of
            ``params`` and ``state`` (:meth:`check_params`). ``False``: the fast path, for a
            caller that calls the layer many times on inputs it builds itself: none of those
            checks is made (the finiteness check included, whatever the layer's
            ``check_finite``), and the result is bit-identical to the checked call's. The
            caller owns what is skipped: pass only inputs of a shape, dtype and backend that
            a checked call has accepted, and call :meth:`check_params` after replacing
            entries of ``params`` or ``state``. An input the checks would refuse then gives
            an error of the array library, or a wrong result.

        Raises
        ------
        ValueError
            ``check=False`` with ``check_finite=True`` (the finiteness check is one of the
            checks skipped).
        """
        check_flag("training", training)
        if check_flag("check", check):
            if check_finite is None:
                check_finite = self.check_finite
            check_flag("check_finite", check_finite)
            x4 = self._check_input(x)
            if check_finite:
                self._check_finite(x4)
        else:
            if check_finite is not None and check_flag("check_finite", check_finite):
                raise ValueError(
                    "check_finite=True needs check=True: check=False skips every input check"
                )
            x4 = self._as_4d(x)
        self._io_dtype = x4.dtype
        self._follow_dtype(x4.dtype)
        if check:
            self.check_params()
        compute = self._compute_dtype(x4.dtype)
        if compute == x4.dtype:
            return self._restore(self._forward(x4, training))
        with self._params_as(compute):
            y4 = self._forward(self._as(x4, compute), training)
        return self._restore(self._as(y4, x4.dtype))

    def backward(self, dy: Any, *, check: bool = True) -> Any:
        """Gradient w.r.t. the last forward's input; fills ``self.grads``.

        ``dx`` has the dtype of the last forward's input, ``grads`` that of ``params``.

        Parameters
        ----------
        dy : array
            Gradient w.r.t. the last forward's output, of its shape.
        check : bool
            ``False`` skips the check of ``dy``'s shape (the fast path of :meth:`forward`:
            the caller owns that ``dy`` has the output's shape, dtype and backend); the
            result is bit-identical to the checked call's.
        """
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        xp = self.xp
        if check_flag("check", check) and tuple(dy.shape) != self._out_shape:
            raise ValueError(
                f"dy must have the shape of the last forward's output {self._out_shape}, "
                f"got {tuple(dy.shape)}"
            )
        dy4 = xp.reshape(dy, self._out_shape4) if self._rank == 2 else dy
        io = dy4.dtype if self._io_dtype is None else self._io_dtype
        compute = self._compute_dtype(io)
        if compute == io:
            dx4 = self._as(self._backward(self._as(dy4, compute)), io)
            return xp.reshape(dx4, self._shape) if self._rank == 2 else dx4
        stored = {k: v.dtype for k, v in self.params.items()}
        with self._params_as(compute):
            dx4 = self._backward(self._as(dy4, compute))
        self.grads = {
            k: self._as(g, stored[k]) if k in stored else g for k, g in self.grads.items()
        }
        dx4 = self._as(dx4, io)
        return xp.reshape(dx4, self._shape) if self._rank == 2 else dx4

    def check_params(self) -> None:
        """Refuse entries of ``params`` or ``state`` whose shape is not the layer's.

        :meth:`forward` calls it unless ``check=False``; a caller of the fast path that
        replaces parameters (an optimizer step) calls it itself.

        Raises
        ------
        ValueError
            Naming the entry, its expected and its actual shape.
        """
        expected = self._param_shapes()
        for group_name, group in (("params", self.params), ("state", self.state)):
            for key, value in group.items():
                if key in expected and tuple(value.shape) != expected[key]:
                    raise ValueError(
                        f"{type(self).__name__}: {group_name}[{key!r}] must have shape "
                        f"{expected[key]}, got {tuple(value.shape)}"
                    )

    # the name simulations used before the public one; kept so that both work
    _check_params = check_params

    __call__ = forward

    def zero_grad(self) -> None:
        """Reset ``grads`` to zeros shaped like ``params``."""
        self.grads = {k: self.xp.zeros_like(v) for k, v in self.params.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_channels={self.num_channels})"

    # -- to implement ----------------------------------------------------------------------
    def _forward(self, x: Any, training: bool) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, dy: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of each entry of ``params`` (and of ``state``)."""
        return {k: (self.num_channels,) for k in self.params}

    # -- shared machinery ------------------------------------------------------------------
    def _check_dtype(self, dtype: Any) -> Any:
        xp = self.xp
        try:
            floating = xp.isdtype(dtype, "real floating")
        except (TypeError, ValueError):
            floating = False
        if not floating:
            raise TypeError(
                f"dtype must be a real floating dtype of the backend (e.g. xp.float32) or None, "
                f"got {dtype!r}"
            )
        return dtype

    def _compute_dtype(self, dtype: Any) -> Any:
        """float16 is computed in float32 (its sums of squares overflow at 65504)."""
        float16 = getattr(self.xp, "float16", None)  # not in the standard (nor in strict)
        return self.xp.float32 if float16 is not None and dtype == float16 else dtype

    def _as(self, a: Any, dtype: Any) -> Any:
        return a if a.dtype == dtype else self.xp.astype(a, dtype)

    def _follow_dtype(self, dtype: Any) -> None:
        if self.dtype is not None:
            return
        for group in (self.params, self.grads, self.state):
            for key, value in group.items():
                group[key] = self._as(value, dtype)

    def _params_as(self, dtype: Any) -> _ParamsAs:
        return _ParamsAs(self, dtype)

    def _check_finite(self, x: Any) -> None:
        xp = self.xp
        finite = xp.isfinite(x)
        if not bool(xp.all(finite)):
            bad = int(xp.sum(xp.astype(xp.logical_not(finite), xp.int64)))
            size = math.prod(x.shape)
            raise ValueError(
                f"{type(self).__name__}: x contains NaN or inf ({bad} of {size} elements); "
                "pass check_finite=False to skip the check"
            )

    def _check_input(self, x: Any) -> Any:
        name = type(self).__name__
        ndim = getattr(x, "ndim", None)
        if ndim is None or not hasattr(x, "shape"):
            raise TypeError(f"x must be an array, got {type(x).__name__}")
        if ndim not in self.input_ranks:
            ranks = " or ".join({2: "(N, C)", 4: "(N, C, H, W)"}[r] for r in self.input_ranks)
            raise ValueError(f"{name}: x must have shape {ranks}, got rank {ndim} ({x.shape})")
        if self.num_channels is not None and x.shape[1] != self.num_channels:
            raise ValueError(
                f"{name}: x must have num_channels={self.num_channels} channels on axis 1, "
                f"got shape {tuple(x.shape)}"
            )
        if not self.xp.isdtype(x.dtype, "real floating"):
            raise TypeError(
                f"{name}: x must have a real floating dtype, got {x.dtype} (integer input is "
                "refused: convert it, e.g. with xp.astype(x, xp.float64))"
            )
        if self.dtype is not None and x.dtype != self.dtype:
            raise TypeError(
                f"{name}: x has dtype {x.dtype} but the layer was built with "
                f"dtype={self.dtype}; pass x of that dtype, or build the layer with "
                "dtype=None to follow the input's dtype"
            )
        return self._as_4d(x)

    def _as_4d(self, x: Any) -> Any:
        """``x`` as ``(N, C, H, W)`` (an ``(N, C)`` input as ``(N, C, 1, 1)``); the rank and
        shape are kept to restore the output's and the input gradient's."""
        self._rank = x.ndim
        self._shape = tuple(x.shape)
        if self._rank == 2:
            return self.xp.reshape(x, (x.shape[0], x.shape[1], 1, 1))
        return x

    def _restore(self, y4: Any) -> Any:
        self._out_shape4 = tuple(y4.shape)
        if self._rank == 2:
            y = self.xp.reshape(y4, (y4.shape[0], y4.shape[1]))
        else:
            y = y4
        self._out_shape = tuple(y.shape)
        return y

    def _channel(self, v: Any) -> Any:
        """A per-channel vector ``(C,)`` shaped to broadcast against ``(N, C, H, W)``."""
        return self.xp.reshape(v, (1, v.shape[0], 1, 1))


class _ParamsAs:
    """Within the block, ``params`` are in the compute dtype; afterwards ``params`` and
    ``state`` are back in their stored dtype (float16 layers compute in float32)."""

    def __init__(self, layer: Normalizer, dtype: Any) -> None:
        self.layer, self.dtype = layer, dtype
        self.stored = {k: v.dtype for k, v in layer.params.items()}
        self.stored_state = {k: v.dtype for k, v in layer.state.items()}

    def __enter__(self) -> None:
        params = self.layer.params
        for key in self.stored:  # in place: adapters may hold a reference to the dict
            params[key] = self.layer._as(params[key], self.dtype)

    def __exit__(self, *exc: Any) -> None:
        layer = self.layer
        for group, stored in ((layer.params, self.stored), (layer.state, self.stored_state)):
            for key, dtype in stored.items():
                if key in group and group[key].dtype != dtype:
                    group[key] = layer._as(group[key], dtype)


class AffineNormalizer(Normalizer):
    """A normalizer ``y = gamma * z + beta`` with per-channel ``gamma`` and ``beta`` (C,).

    Subclasses compute ``z = base * factor`` in :meth:`_normalize` (returning the full-size
    ``base`` and the small broadcastable ``factor``, or None) and the input gradient of ``z``
    in :meth:`_normalize_backward`. The affine transform is folded into ``factor``, so the
    forward pass makes one full-size product and one in-place addition; ``z`` itself is
    rebuilt in the backward pass for the gradient of ``gamma``.
    """

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float = 1e-5,
        affine: bool = True,
        xp=None,
        dtype=None,
        check_finite: bool = True,
    ):
        super().__init__(num_channels, xp=xp, dtype=dtype, check_finite=check_finite)
        self.eps = check_eps(eps)
        self.affine = check_flag("affine", affine)
        if affine:
            self.params["gamma"] = self.xp.ones(num_channels, dtype=self.param_dtype)
            self.params["beta"] = self.xp.zeros(num_channels, dtype=self.param_dtype)
            self.zero_grad()

    def _forward(self, x: Any, training: bool) -> Any:
        base, factor = self._normalize(x, training)
        self._base, self._factor = base, factor
        if not self.affine:
            return base if factor is None else base * factor
        gamma = self._channel(self.params["gamma"])
        y = base * (gamma if factor is None else factor * gamma)
        y += self._channel(self.params["beta"])  # in place: y is a fresh array
        return y

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        if self.affine:
            z = self._base if self._factor is None else self._base * self._factor
            self.grads["gamma"] = xp.sum(dy * z, axis=(0, 2, 3))
            self.grads["beta"] = xp.sum(dy, axis=(0, 2, 3))
            dz = dy * self._channel(self.params["gamma"])
        else:
            dz = dy
        return self._normalize_backward(dz)

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:  # pragma: no cover
        raise NotImplementedError

    def _normalize_backward(self, dz: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError
