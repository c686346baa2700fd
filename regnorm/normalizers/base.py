"""The layer protocol shared by every normalizer, and the standardization they share.

Every normalizer of :mod:`regnorm.normalizers` is a small layer object with

* ``params`` -- ``dict[str, array]`` of learnable parameters (``"gamma"``, ``"beta"`` ...);
* ``grads`` -- ``dict[str, array]`` of the same keys, filled by :meth:`Normalizer.backward`;
* ``state`` -- ``dict[str, array]`` of non-learned state (running statistics ...);
* ``forward(x, *, training=True) -> y`` which keeps what the backward pass needs, and
* ``backward(dy) -> dx``, the gradient with respect to the last forward's input (it also
  fills ``grads``).

Inputs are ``(N, C)`` or ``(N, C, H, W)``. Internally an ``(N, C)`` input is treated as
``(N, C, 1, 1)``: a statistic "over (H, W)" of such an input has one element (see
:class:`~regnorm.normalizers.instance_norm.InstanceNorm` for what that means).

All array code uses only ``xp.*`` functions of the Python array API standard, so the layers
run unchanged on NumPy, CuPy and array-api-strict. Parameters and state are created as
float64 on the layer's namespace (``xp=``); a float32 input is therefore promoted to a
float64 output by the standard's type promotion.

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

from dataclasses import dataclass
from typing import Any

from .._validation import check_real
from ..backend import array_namespace, get_namespace

__all__ = [
    "Normalizer",
    "Standardization",
    "check_eps",
    "standardize",
    "standardize_backward",
    "standardize_factors",
]


def check_eps(eps: Any) -> float:
    """``eps`` must be a finite real number > 0 (it keeps the division finite)."""
    return check_real("eps", eps, minimum=0.0, min_inclusive=False)


@dataclass
class Standardization:
    """What :func:`standardize_backward` needs from a forward :func:`standardize`."""

    xc: Any  # x - mu_A (always centred: sigma_A is the centred standard deviation)
    inv_std: Any  # (sigma_A^2 + eps)^(-1/2), keepdims shape
    axes: tuple[int, ...]
    center: bool
    scale: bool
    x: Any  # the input (needed by the variance-only gradient)


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
    """
    xp = array_namespace(x)
    mean = xp.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = xp.mean(xc * xc, axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    base = xc if center else x
    factor = inv_std if scale else None
    return base, factor, mean, var, Standardization(xc, inv_std, axes, center, scale, x)


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
        return s * (dz - g_mean - xc * (s * s) * gx_mean)
    if cache.center:
        return dz - xp.mean(dz, axis=axes, keepdims=True)
    if cache.scale:
        gx_mean = xp.mean(dz * cache.x, axis=axes, keepdims=True)
        return s * dz - (s * s * s) * gx_mean * xc
    return dz


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
    """

    #: rank(s) of input accepted by :meth:`forward`
    input_ranks: tuple[int, ...] = (2, 4)

    def __init__(self, num_channels: int | None, *, xp: Any = None) -> None:
        from .._validation import check_integer

        if num_channels is not None:
            num_channels = check_integer("num_channels", num_channels, minimum=1)
        self.num_channels = num_channels
        self.xp = get_namespace(xp)
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._cache: Any = None
        self._rank: int | None = None
        self._shape: tuple[int, ...] | None = None

    # -- protocol --------------------------------------------------------------------------
    def forward(self, x: Any, *, training: bool = True) -> Any:
        """Normalize ``x`` of shape ``(N, C)`` or ``(N, C, H, W)``; keep what backward needs."""
        if not isinstance(training, bool):
            raise TypeError(f"training must be True or False, got {training!r}")
        x4 = self._check_input(x)
        self._check_params()
        y4 = self._forward(x4, training)
        return self._restore(y4)

    def backward(self, dy: Any) -> Any:
        """Gradient w.r.t. the last forward's input; fills ``self.grads``."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        xp = self.xp
        if tuple(dy.shape) != self._out_shape:
            raise ValueError(
                f"dy must have the shape of the last forward's output {self._out_shape}, "
                f"got {tuple(dy.shape)}"
            )
        dy4 = xp.reshape(dy, self._out_shape4) if self._rank == 2 else dy
        dx4 = self._backward(dy4)
        return xp.reshape(dx4, self._shape) if self._rank == 2 else dx4

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
            raise TypeError(f"{name}: x must have a real floating dtype, got {x.dtype}")
        self._rank = ndim
        self._shape = tuple(x.shape)
        if ndim == 2:
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

    def _check_params(self) -> None:
        expected = self._param_shapes()
        for group_name, group in (("params", self.params), ("state", self.state)):
            for key, value in group.items():
                if key in expected and tuple(value.shape) != expected[key]:
                    raise ValueError(
                        f"{type(self).__name__}: {group_name}[{key!r}] must have shape "
                        f"{expected[key]}, got {tuple(value.shape)}"
                    )

    def _channel(self, v: Any) -> Any:
        """A per-channel vector ``(C,)`` shaped to broadcast against ``(N, C, H, W)``."""
        return self.xp.reshape(v, (1, v.shape[0], 1, 1))


class AffineNormalizer(Normalizer):
    """A normalizer ``y = gamma * z + beta`` with per-channel ``gamma`` and ``beta`` (C,).

    Subclasses compute ``z = base * factor`` in :meth:`_normalize` (returning the full-size
    ``base`` and the small broadcastable ``factor``, or None) and the input gradient of ``z``
    in :meth:`_normalize_backward`. The affine transform is folded into ``factor``, so the
    forward pass makes one full-size product and one in-place addition; ``z`` itself is
    rebuilt in the backward pass for the gradient of ``gamma``.
    """

    def __init__(self, num_channels: int, *, eps: float = 1e-5, affine: bool = True, xp=None):
        super().__init__(num_channels, xp=xp)
        self.eps = check_eps(eps)
        if not isinstance(affine, bool):
            raise TypeError(f"affine must be True or False, got {affine!r}")
        self.affine = affine
        if affine:
            self.params["gamma"] = self.xp.ones(num_channels, dtype=self.xp.float64)
            self.params["beta"] = self.xp.zeros(num_channels, dtype=self.xp.float64)
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
