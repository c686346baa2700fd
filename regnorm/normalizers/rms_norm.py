"""RMS normalization (Zhang & Sennrich 2019): divide by the root mean square per sample.

.. math::

    \\hat h = \\gamma \\frac{h}{\\sqrt{\\operatorname{mean}_{C,H,W} h^2 + \\epsilon}} + \\beta,

over ``(C, H, W)`` per sample (the axes of LayerNorm), without subtracting the mean: it
keeps LayerNorm's re-scaling invariance and drops its re-centring invariance. ``beta``
(zeros) is the optional shift; ``gamma`` and ``beta`` are per channel, as for the other layers
here. A sample's output never depends on the rest of the batch (batch-free, C22): the
batch-noise theory of THEORY §1 predicts no batch noise at all. Its input gradient, with
``s = (mean h^2 + eps)^{-1/2}`` and ``g = dL/dz``:

.. math::

    \\frac{\\partial L}{\\partial h} = s\\big(g - h\\, s^2 \\operatorname{mean}(g h)\\big).
"""

from __future__ import annotations

from typing import Any

from .base import AffineNormalizer
from .standardization import (
    inverse_std,
    max_abs_unit,
    overflow_allowed,
    squares_overflow,
)

__all__ = ["RMSNorm"]

_AXES = (1, 2, 3)


class RMSNorm(AffineNormalizer):
    """Root-mean-square normalization over ``(C, H, W)`` per sample.

    Parameters
    ----------
    num_channels, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    eps : float, > 0
        Added to the mean square.

    Examples
    --------
    >>> import numpy as np
    >>> y = RMSNorm(3).forward(np.random.default_rng(0).normal(size=(4, 3)))
    >>> bool(abs((y**2).mean(axis=1) - 1).max() < 1e-4)
    True
    """

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        with overflow_allowed():
            ms = xp.mean(x * x, axis=_AXES, keepdims=True)
        if not squares_overflow(ms):
            inv = inverse_std(ms, self.eps)
            self._cache = (x, inv, None)
            return x, inv
        # squares overflow: the mean square of x / max|x| (z is scale-free)
        unit = max_abs_unit(x, _AXES)
        xs = x / unit
        inv = inverse_std(xp.mean(xs * xs, axis=_AXES, keepdims=True), self.eps, unit)
        self._cache = (xs, inv, unit)
        return xs, inv

    def _normalize_backward(self, dz: Any) -> Any:
        xp = self.xp
        x, s, unit = self._cache
        dx = s * (dz - x * (s * s) * xp.mean(dz * x, axis=_AXES, keepdims=True))
        return dx if unit is None else dx * (1.0 / unit)
