"""Layer normalization (LN): statistics over (C, H, W) per sample (THEORY C17).

.. math::

    \\hat h_{n,c,i,j} = \\gamma_c \\frac{h_{n,c,i,j} - \\mu_n}{\\sqrt{\\sigma_n^2 + \\epsilon}}
    + \\beta_c .

Equal to :class:`~regnorm.normalizers.group_norm.GroupNorm` with one group. The affine
parameters are per channel (``(C,)``), as in the normalizer-family comparison of article 002
(PyTorch's ``nn.LayerNorm`` would have them per element).
"""

from __future__ import annotations

from .base import AffineNormalizer

__all__ = ["LayerNorm"]


class LayerNorm(AffineNormalizer):
    """Layer normalization over ``(C, H, W)`` per sample.

    Parameters
    ----------
    num_channels, eps, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    """

    axes = (1, 2, 3)
