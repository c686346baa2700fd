"""Instance normalization (IN): statistics over (H, W) per sample and channel (THEORY C17).

.. math::

    \\hat h_{n,c,i,j} = \\gamma_c
    \\frac{h_{n,c,i,j} - \\mu_{n,c}}{\\sqrt{\\sigma_{n,c}^2+\\epsilon}}
    + \\beta_c .

Single-element statistics (an ``(N, C)`` or ``(N, C, 1, 1)`` input): the mean is the element
itself and the biased variance is exactly 0, so ``z = 0 / sqrt(eps) = 0`` and the output is
``beta`` -- finite, not NaN (the unbiased variance, which some reference codes use, would be
0/0). IN on such input removes all information; this is the mathematics, not a bug, and
it is why IN "has no expressivity" in C18.
"""

from __future__ import annotations

from .base import AffineNormalizer

__all__ = ["InstanceNorm"]


class InstanceNorm(AffineNormalizer):
    """Instance normalization over ``(H, W)`` per sample and channel.

    Parameters
    ----------
    num_channels, eps, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    """

    axes = (2, 3)
