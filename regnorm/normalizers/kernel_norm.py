"""KernelNorm and KNConv: normalization over kernel windows (C20, C21; article 004).

**KernelNorm** (kernel size ``k``, stride ``s``, zero padding ``p``, dropout probability
``q``). Each window ("normalization unit") ``U`` is the ``C x k x k`` block of the padded
input at one window position, over *all* channels. It is normalized by the statistics of a
dropped-out copy ``U' = dropout_q(U)`` (inverted dropout: kept elements scaled by
``1/(1-q)``; no dropout when ``q = 0`` or in evaluation):

.. math::

    \\hat U = \\frac{U - \\mu_{U'}}{\\sqrt{\\sigma^2_{U'} + \\epsilon}},

with biased statistics over the unit's ``C k^2`` elements (zero padding included). The
normalized units are tiled side by side, so the output is ``(N, C, k OH, k OW)`` with
``OH = (H + 2p - k) // s + 1``; it differs from the input's shape unless ``s = k`` and
``p = 0``. There are no affine parameters. The statistics depend on one sample only.

**KNConv** is KernelNorm followed by a convolution with kernel ``k`` and stride ``k`` (one
output per unit). Because the normalization is affine within a unit, the fused form

.. math::

    y_{o} = \\frac{(W * x)_{o} - \\mu_U \\sum W_o}{\\sqrt{\\sigma_U^2 + \\epsilon}} + b_o

costs one convolution of ``x`` (kernel ``k``, stride ``s``, padding ``p``) plus the window
statistics (without dropout) from box sums of the channel sums of ``x`` and ``x^2``; the
naive composition materializes the ``k^2``-times larger KernelNorm output. A one-pass
``E[x^2] - mu^2`` loses every digit when a window's mean dwarfs its spread
(``0.01 randn + 100``: rounding error ``u mu^2 / sigma^2``, ``u`` the unit roundoff), and
so does the fused product ``W * x - mu_U sum(W)``. The fused form keeps the one-pass
variance where every window has ``mu_U^2 <= ONE_PASS_RATIO (sigma_U^2 + eps)`` (its error
is then at most about ``u ONE_PASS_RATIO`` of ``sigma^2 + eps``). Elsewhere it works on the
input shifted by its first element per sample (the output is shift-invariant): a common
offset disappears, a constant input without padding gives exactly the bias, and where a
shifted window mean still dwarfs its spread the variances are recomputed in two passes (box
sums of ``(x - mu_U)^2``, one kernel offset at a time). KernelNorm and the naive form
compute the variance in two passes, and shift the input the same way where some
``|mu_U| > REFINE_RATIO sigma_U`` (:func:`~regnorm.normalizers.standardization.needs_refinement`).
With dropout in training the fused form needs the per-unit masks, hence the unfolded units,
for the statistics (only the convolution stays fused).

Where squares overflow (``|x|`` beyond about ``1e154`` in float64) the statistics of each
sample are computed on ``x / s``, ``s`` the sample's max-abs, as in
:func:`~regnorm.normalizers.standardization.standardize_factors`.

**Dropout in evaluation** (a difference from the official code, on purpose). The official
KernelNorm code calls ``F.dropout(x, p)`` without ``training=self.training``, and
``F.dropout`` defaults to ``training=True``: its statistics are dropped out in evaluation
too, so its evaluation output is random. Here evaluation (``training=False``) uses no
dropout, as the article describes; to get the official code's numbers in evaluation, call
``forward(x, training=True)`` (the masks then come from ``rng``).
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import random_generator
from ..validation import check_integer, check_real
from .base import Normalizer, check_eps, check_flag
from .convolution import (
    conv2d,
    conv2d_channels_last,
    extract_windows,
    fold_windows,
    output_size,
    pad2d,
)
from .standardization import (
    ONE_PASS_RATIO,
    inverse_std,
    max_abs_unit,
    needs_refinement,
    overflow_allowed,
    squares_overflow,
)

__all__ = ["KNConv", "KernelNorm"]

_UNIT_AXES = (1, 2, 3)  # (C, k, k) of the (N, C, k, k, OH, OW) units


class _WindowNormalization:
    """Shared machinery of KernelNorm and KNConv: units, dropout masks, statistics and the
    gradient of the unit standardization."""

    def _init_windows(self, kernel_size, stride, padding, dropout, eps, rng) -> None:
        self.kernel_size = check_integer("kernel_size", kernel_size, minimum=1)
        self.stride = (
            self.kernel_size if stride is None else check_integer("stride", stride, minimum=1)
        )
        self.padding = check_integer("padding", padding, minimum=0)
        self.dropout = check_real("dropout", dropout, minimum=0.0, maximum=1.0, max_inclusive=False)
        self.eps = check_eps(eps)
        self.rng = random_generator(self.backend, rng)

    def _mask(self, units_shape: tuple[int, ...], training: bool) -> Any:
        """Inverted-dropout multipliers (0 or 1/(1-q)) per unit element, or None."""
        if not training or self.dropout == 0.0:
            return None
        keep = self.rng.random(units_shape) >= self.dropout
        return self.xp.astype(keep, self.xp.float64) / (1.0 - self.dropout)

    def _typed_mask(self, units_shape: tuple[int, ...], training: bool, dtype: Any) -> Any:
        mask = self._mask(units_shape, training)
        return mask if mask is None or mask.dtype == dtype else self.xp.astype(mask, dtype)

    def _sample_unit(self, x: Any, var: Any) -> Any:
        """None where the plain statistics are safe, else each sample's max-abs (N, 1, 1, 1)."""
        return max_abs_unit(x, (1, 2, 3), self.xp) if squares_overflow(var, xp=self.xp) else None

    def _first_element(self, x_pad: Any) -> Any:
        """Each sample's first input element (not padding), shape (N, 1, 1, 1).

        Where a window's mean dwarfs its spread
        (:func:`~regnorm.normalizers.standardization.needs_refinement`) the padded input,
        padding included, is shifted by it: that leaves every window's deviations unchanged,
        ``x - shift`` is exact near the offset (a rounded mean would not be), and a constant
        input without padding becomes exactly 0.
        """
        p = self.padding
        return x_pad[:, 0:1, p : p + 1, p : p + 1]

    def _unscale(self, du: Any, unit: Any) -> Any:
        """The input gradient from the gradient w.r.t. the scaled input ``x / unit``."""
        if unit is None:
            return du
        return du * (1.0 / self.xp.reshape(unit, (unit.shape[0], 1, 1, 1, 1, 1)))

    def _unit_statistics(self, units: Any, mask: Any) -> tuple[Any, Any]:
        xp = self.xp
        dropped = units if mask is None else units * mask
        mean = xp.mean(dropped, axis=_UNIT_AXES, keepdims=True)
        dev = dropped - mean
        return mean, xp.mean(dev * dev, axis=_UNIT_AXES, keepdims=True)

    def _unit_backward(self, dz: Any, units: Any, mean: Any, inv_std: Any, mask: Any) -> Any:
        """d/dU of (U - mu_{U'}) * inv_std with mu, sigma^2 of U' = mask * U."""
        xp = self.xp
        m = units.shape[1] * units.shape[2] * units.shape[3]
        dmean = -xp.sum(dz * inv_std, axis=_UNIT_AXES, keepdims=True)
        dvar = -0.5 * xp.sum(dz * (units - mean), axis=_UNIT_AXES, keepdims=True) * inv_std**3
        dropped = units if mask is None else units * mask
        d_dropped = dmean / m + dvar * 2.0 * (dropped - mean) / m
        return dz * inv_std + (d_dropped if mask is None else d_dropped * mask)

    def _crop(self, x_pad: Any) -> Any:
        p = self.padding
        if p == 0:
            return x_pad
        return x_pad[:, :, p:-p, p:-p]


class KernelNorm(_WindowNormalization, Normalizer):
    """Normalize each ``C x k x k`` kernel window by its (dropped-out) statistics (C20).

    Parameters
    ----------
    kernel_size : int
        ``k``.
    stride : int, optional
        ``s`` (default ``k``: non-overlapping windows).
    padding : int
        Zero padding ``p`` on each side.
    dropout : float in [0, 1)
        Dropout probability ``q`` of the copy the statistics are computed on (training only).
    eps : float, > 0
    num_channels : int, optional
        If given, inputs must have this many channels.
    rng : seed, SeedSequence, Generator or ArrayGenerator, optional
        Draws the dropout masks, on the layer's device
        (:func:`regnorm.backend.random_generator`: NumPy's numbers on NumPy).
    xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.Normalizer` (without parameters, ``dtype=None``
        takes any floating input).

    Notes
    -----
    Input must be ``(N, C, H, W)``: an ``(N, C)`` input has no windows. Output is
    ``(N, C, k OH, k OW)``.
    """

    input_ranks = (4,)

    def __init__(
        self,
        kernel_size: int,
        *,
        stride: int | None = None,
        padding: int = 0,
        dropout: float = 0.0,
        eps: float = 1e-5,
        num_channels: int | None = None,
        rng: Any = None,
        **options: Any,
    ) -> None:
        Normalizer.__init__(self, num_channels, **options)
        self._init_windows(kernel_size, stride, padding, dropout, eps, rng)

    def _forward(self, x: Any, training: bool) -> Any:
        xp = self.xp
        n, c, h, w = x.shape
        k, s = self.kernel_size, self.stride
        oh, ow = output_size((h, w), k, s, self.padding)
        x_pad = pad2d(x, self.padding)
        units = extract_windows(x_pad, k, s)  # (N, C, k, k, OH, OW)
        mask = self._typed_mask(tuple(units.shape), training, x.dtype)
        with overflow_allowed():
            mean, var = self._unit_statistics(units, mask)
        unit = self._sample_unit(x, var)
        unit6 = None
        if unit is not None:
            unit6 = xp.reshape(unit, (n, 1, 1, 1, 1, 1))
            units = units / unit6
            mean, var = self._unit_statistics(units, mask)
        if mask is None and needs_refinement(mean, var, xp):
            shift = xp.reshape(self._first_element(x_pad), (n, 1, 1, 1, 1, 1))
            units = units - (shift if unit6 is None else shift / unit6)
            mean, var = self._unit_statistics(units, mask)
        inv_std = inverse_std(var, self.eps, unit6)
        z = (units - mean) * inv_std
        self._cache = (units, mean, inv_std, mask, tuple(x_pad.shape[2:]), unit)
        # tile the units: (N, C, OH, k, OW, k) -> (N, C, k OH, k OW)
        z = xp.permute_dims(z, (0, 1, 4, 2, 5, 3))
        return xp.reshape(z, (n, c, oh * k, ow * k))

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        units, mean, inv_std, mask, padded, unit = self._cache
        n, c, k, _, oh, ow = units.shape
        dz = xp.permute_dims(xp.reshape(dy, (n, c, oh, k, ow, k)), (0, 1, 3, 5, 2, 4))
        du = self._unscale(self._unit_backward(dz, units, mean, inv_std, mask), unit)
        return self._crop(fold_windows(du, padded, self.stride))

    def __repr__(self) -> str:
        return (
            f"KernelNorm({self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dropout={self.dropout})"
        )


class KNConv(_WindowNormalization, Normalizer):
    """KernelNorm followed by a ``k x k``, stride-``k`` convolution, fused (C21).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
    stride : int, optional
        Window stride ``s`` (default ``k``).
    padding : int
    dropout : float in [0, 1)
    eps : float, > 0
    bias : bool
    fused : bool
        Compute :meth:`forward` with the fused formula (default) or as the naive composition
        KernelNorm -> convolution (:meth:`forward_naive`). Both give the same output to
        rounding; the backward pass is the same for both.
    rng : seed, SeedSequence, Generator or ArrayGenerator, optional
        Draws the initial weights (He normal, std ``sqrt(2 / (C k^2))``) and dropout masks,
        on the layer's device (:func:`regnorm.backend.random_generator`).
    xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.Normalizer`.

    Attributes
    ----------
    params : dict
        ``"weight"`` ``(C_out, C_in, k, k)`` and ``"bias"`` ``(C_out,)``.
    """

    input_ranks = (4,)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int | None = None,
        padding: int = 0,
        dropout: float = 0.0,
        eps: float = 1e-5,
        bias: bool = True,
        fused: bool = True,
        rng: Any = None,
        **options: Any,
    ) -> None:
        Normalizer.__init__(self, in_channels, **options)
        self._init_windows(kernel_size, stride, padding, dropout, eps, rng)
        self.out_channels = check_integer("out_channels", out_channels, minimum=1)
        self.bias = check_flag("bias", bias)
        self.fused = check_flag("fused", fused)
        k = self.kernel_size
        fan_in = in_channels * k * k
        w = self.rng.standard_normal((self.out_channels, in_channels, k, k)) * math.sqrt(2 / fan_in)
        xp = self.xp
        self.params["weight"] = xp.astype(w, self.param_dtype)
        if bias:
            self.params["bias"] = xp.zeros(
                self.out_channels, dtype=self.param_dtype, device=self.device
            )
        self.zero_grad()

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        k = self.kernel_size
        return {
            "weight": (self.out_channels, self.num_channels, k, k),
            "bias": (self.out_channels,),
        }

    def forward_naive(self, x: Any, *, training: bool = True) -> Any:
        """KernelNorm then convolution (kernel ``k``, stride ``k``): the reference composition."""
        self.fused, fused = False, self.fused
        try:
            return self.forward(x, training=training)
        finally:
            self.fused = fused

    def _forward(self, x: Any, training: bool) -> Any:
        xp = self.xp
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = x.shape
        oh, ow = output_size((h, w), k, s, p)
        weight = self.params["weight"]
        x_pad = pad2d(x, p)
        units_shape = (n, c, k, k, oh, ow)
        mask = self._typed_mask(units_shape, training, x.dtype)
        if self.fused:
            with overflow_allowed():
                x_used, mean, var = self._window_statistics(x_pad, mask, oh, ow, self.eps)
            unit = self._sample_unit(x, var)
            if unit is not None:
                eps = (math.sqrt(self.eps) / xp.reshape(unit, (n, 1, 1))) ** 2  # eps / unit^2
                x_used, mean, var = self._window_statistics(x_pad / unit, mask, oh, ow, eps)
            x_pad = x_used
            unit3 = None if unit is None else xp.reshape(unit, (n, 1, 1))
            inv_std = inverse_std(var, self.eps, unit3)  # (N, OH, OW)
            # channels-last and in place: one full-size temporary (the outer product)
            y = conv2d_channels_last(x_pad, weight, s)  # (N, OH, OW, C_out), fresh
            y -= mean[:, :, :, None] * xp.sum(weight, axis=(1, 2, 3))
            y *= inv_std[:, :, :, None]
            if self.bias:
                y += self.params["bias"]
            y = xp.permute_dims(y, (0, 3, 1, 2))
            mean6 = mean[:, None, None, None, :, :]
            inv6 = inv_std[:, None, None, None, :, :]
        else:
            units = extract_windows(x_pad, k, s)
            with overflow_allowed():
                mean6, var6 = self._unit_statistics(units, mask)
            unit = self._sample_unit(x, var6)
            if unit is not None:
                x_pad = x_pad / unit
                units = extract_windows(x_pad, k, s)
                mean6, var6 = self._unit_statistics(units, mask)
            if mask is None and needs_refinement(mean6, var6, xp):
                x_pad = x_pad - self._first_element(x_pad)
                units = extract_windows(x_pad, k, s)
                mean6, var6 = self._unit_statistics(units, mask)
            unit6 = None if unit is None else xp.reshape(unit, (n, 1, 1, 1, 1, 1))
            inv6 = inverse_std(var6, self.eps, unit6)
            z = xp.permute_dims((units - mean6) * inv6, (0, 1, 4, 2, 5, 3))
            y = conv2d(xp.reshape(z, (n, c, oh * k, ow * k)), weight, stride=k)
            if self.bias:
                y = y + self.params["bias"][None, :, None, None]
        self._cache = (x_pad, mean6, inv6, mask, unit)
        return y

    def _window_statistics(
        self, x_pad: Any, mask: Any, oh: int, ow: int, eps: Any
    ) -> tuple[Any, Any, Any]:
        """``(x_used, mean, var)``: the window mean and biased variance ``(N, OH, OW)`` of
        ``x_used``, which is ``x_pad`` or, where needed, ``x_pad`` shifted by each sample's
        first element (the convolution must then use it too).

        Without dropout: one-pass box sums where they keep ``u ONE_PASS_RATIO`` of
        ``sigma^2 + eps``; else on the shifted input, one-pass again where that suffices,
        two-pass otherwise. With dropout: the dropped-out units, two-pass.
        """
        if mask is not None:
            mean, var = self._unit_statistics(
                extract_windows(x_pad, self.kernel_size, self.stride), mask
            )
            return x_pad, mean[:, 0, 0, 0, :, :], var[:, 0, 0, 0, :, :]
        mean, var, exact = self._box_statistics(x_pad, oh, ow, eps)
        if exact:
            return x_pad, mean, var
        # a window's mean dwarfs its spread: W * x - mu sum(W) would cancel as well
        x_pad = x_pad - self._first_element(x_pad)
        mean, var, exact = self._box_statistics(x_pad, oh, ow, eps)
        return x_pad, mean, (var if exact else self._two_pass_variance(x_pad, mean, oh, ow))

    def _box_sum(self, s1: Any, oh: int, ow: int) -> Any:
        """Sums of ``s1`` (N, Hp, Wp) over every ``k x k`` window: ``(N, OH, OW)``."""
        k, s = self.kernel_size, self.stride
        box = None
        for i in range(k):
            for j in range(k):
                si, sj = slice(i, i + s * (oh - 1) + 1, s), slice(j, j + s * (ow - 1) + 1, s)
                box = s1[:, si, sj] if box is None else box + s1[:, si, sj]
        return box

    def _box_statistics(self, x_pad: Any, oh: int, ow: int, eps: Any) -> tuple[Any, Any, bool]:
        """Window mean and one-pass biased variance from box sums of the channel sums of
        ``x`` and ``x^2``, and whether every window has ``mu^2 <= ONE_PASS_RATIO (sigma^2 +
        eps)`` (the variance then keeps ``u ONE_PASS_RATIO`` of ``sigma^2 + eps``)."""
        xp = self.xp
        m = x_pad.shape[1] * self.kernel_size**2
        mean = self._box_sum(xp.sum(x_pad, axis=1), oh, ow) / m
        var = self._box_sum(xp.sum(x_pad * x_pad, axis=1), oh, ow) / m - mean * mean
        exact = not bool(xp.any(mean * mean > ONE_PASS_RATIO * (xp.abs(var) + eps)))
        return mean, xp.clip(var, min=0.0), exact

    def _two_pass_variance(self, x_pad: Any, mean: Any, oh: int, ow: int) -> Any:
        """Window biased variance as box sums of the channel sums of ``(x - mu_U)^2``, one
        kernel offset at a time."""
        xp = self.xp
        k, s = self.kernel_size, self.stride
        m = x_pad.shape[1] * k * k
        box2 = None
        for i in range(k):
            for j in range(k):
                si, sj = slice(i, i + s * (oh - 1) + 1, s), slice(j, j + s * (ow - 1) + 1, s)
                dev = x_pad[:, :, si, sj] - mean[:, None, :, :]
                term = xp.sum(dev * dev, axis=1)
                box2 = term if box2 is None else box2 + term
        return box2 / m

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        x_pad, mean, inv_std, mask, unit = self._cache
        k, s = self.kernel_size, self.stride
        weight = self.params["weight"]
        if self.bias:
            self.grads["bias"] = xp.sum(dy, axis=(0, 2, 3))
        units = extract_windows(x_pad, k, s)  # (N, C, k, k, OH, OW)
        z = (units - mean) * inv_std
        self.grads["weight"] = xp.tensordot(dy, z, axes=([0, 2, 3], [0, 4, 5]))
        dz = xp.permute_dims(xp.tensordot(dy, weight, axes=([1], [0])), (0, 3, 4, 5, 1, 2))
        du = self._unscale(self._unit_backward(dz, units, mean, inv_std, mask), unit)
        return self._crop(fold_windows(du, tuple(x_pad.shape[2:]), s))

    def __repr__(self) -> str:
        return (
            f"KNConv({self.num_channels}, {self.out_channels}, {self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dropout={self.dropout}, "
            f"fused={self.fused})"
        )
