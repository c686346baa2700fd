"""The layer protocol shared by every normalizer: the base classes and their common checks.

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

**Devices.** A layer lives on one device: that of its backend (``xp=``, anything
:func:`regnorm.backend.resolve_backend` accepts: ``xp="array_api_strict:device1"`` or a
:class:`~regnorm.backend.Backend` puts the parameters and state on that device). Every array a
layer makes is made on that device (or on its input's), so outputs, gradients and running
statistics stay there; a checked call refuses an input on another device (``ValueError``).
On CuPy with several GPUs, call the layer with its device current
(:meth:`regnorm.backend.Backend.activate`).

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
Large finite inputs are normalized correctly (the scaled path of
:mod:`~regnorm.normalizers.standardization`); evaluation with a running variance that
overflowed in training is refused (``ValueError``).
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import device_of, resolve_backend
from ..validation import check_integer, check_real
from .standardization import standardize_backward, standardize_factors

__all__ = [
    "AffineNormalizer",
    "Normalizer",
    "check_eps",
    "check_flag",
    "check_momentum",
]


def check_eps(eps: Any) -> float:
    """``eps`` must be a finite real number > 0 (it keeps the division finite)."""
    return check_real("eps", eps, minimum=0.0, min_inclusive=False)


def check_flag(name: str, value: Any) -> bool:
    """``value`` must be ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_momentum(momentum: Any) -> float:
    """``momentum`` (the weight of the current batch in a running average) must be in (0, 1]."""
    return check_real("momentum", momentum, minimum=0.0, maximum=1.0, min_inclusive=False)


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
    xp : Backend, namespace, str or None
        Array backend and device of the parameters and state (anything
        :func:`regnorm.backend.resolve_backend` accepts; ``None``: NumPy).
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
        if num_channels is not None:
            num_channels = check_integer("num_channels", num_channels, minimum=1)
        self.num_channels = num_channels
        self.backend = resolve_backend(xp, parameter="xp")
        self.xp = self.backend.xp
        self.device = self.backend.device
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
        if check_flag("check", check):
            if tuple(dy.shape) != self._out_shape:
                raise ValueError(
                    f"dy must have the shape of the last forward's output {self._out_shape}, "
                    f"got {tuple(dy.shape)}"
                )
            self._check_device("dy", dy)
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
        """Refuse entries of ``params`` or ``state`` whose shape or device is not the layer's.

        :meth:`forward` calls it unless ``check=False``; a caller of the fast path that
        replaces parameters (an optimizer step) calls it itself.

        Raises
        ------
        ValueError
            Naming the entry, its expected and its actual shape (or device).
        """
        expected = self._param_shapes()
        for group_name, group in (("params", self.params), ("state", self.state)):
            for key, value in group.items():
                if key in expected and tuple(value.shape) != expected[key]:
                    raise ValueError(
                        f"{type(self).__name__}: {group_name}[{key!r}] must have shape "
                        f"{expected[key]}, got {tuple(value.shape)}"
                    )
                self._check_device(f"{group_name}[{key!r}]", value)

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
        self._check_device("x", x)
        if self.dtype is not None and x.dtype != self.dtype:
            raise TypeError(
                f"{name}: x has dtype {x.dtype} but the layer was built with "
                f"dtype={self.dtype}; pass x of that dtype, or build the layer with "
                "dtype=None to follow the input's dtype"
            )
        return self._as_4d(x)

    def _check_device(self, name: str, a: Any) -> None:
        if self.device is not None and device_of(a) != self.device:
            raise ValueError(
                f"{type(self).__name__}: {name} is on device {device_of(a)!r} but the layer's "
                f"parameters are on {self.device!r}; move it there (backend.asarray) or build "
                f"the layer with xp= that backend"
            )

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
    in :meth:`_normalize_backward`; a subclass that only sets :attr:`axes` gets the
    standardization over those axes (:func:`~regnorm.normalizers.standardization.
    standardize_factors`). The affine transform is folded into ``factor``, so the forward
    pass makes one full-size product and one in-place addition; ``z`` itself is rebuilt in
    the backward pass for the gradient of ``gamma``.

    Parameters
    ----------
    num_channels : int
        ``C``.
    eps : float, > 0
        Added to the variance.
    affine : bool
        Learn ``gamma`` (ones) and ``beta`` (zeros), shape ``(C,)``.
    xp, dtype, check_finite
        As for :class:`Normalizer`.
    """

    #: axes of ``(N, C, H, W)`` that the default :meth:`_normalize` standardizes over
    axes: tuple[int, ...] | None = None

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float = 1e-5,
        affine: bool = True,
        xp: Any = None,
        dtype: Any = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__(num_channels, xp=xp, dtype=dtype, check_finite=check_finite)
        self.eps = check_eps(eps)
        self.affine = check_flag("affine", affine)
        if affine:
            self.params["gamma"] = self.xp.ones(
                num_channels, dtype=self.param_dtype, device=self.device
            )
            self.params["beta"] = self.xp.zeros(
                num_channels, dtype=self.param_dtype, device=self.device
            )
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

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        if self.axes is None:  # pragma: no cover - a subclass sets axes or overrides this
            raise NotImplementedError(f"{type(self).__name__} sets no axes")
        base, factor, _, _, self._cache = standardize_factors(x, self.axes, eps=self.eps)
        return base, factor

    def _normalize_backward(self, dz: Any) -> Any:
        return standardize_backward(dz, self._cache)
