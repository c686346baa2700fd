"""Layer normalization (LN): statistics over (C, H, W) per sample (THEORY C17).

.. math::

    \\hat h_{n,c,i,j} = \\gamma_c \\frac{h_{n,c,i,j} - \\mu_n}{\\sqrt{\\sigma_n^2 + \\epsilon}}
    + \\beta_c .

Equal to :class:`~regnorm.normalizers.group_norm.GroupNorm` with one group. The affine
parameters are per channel (``(C,)``), as in the normalizer-family comparison of article 002
(PyTorch's ``nn.LayerNorm`` would have them per element).
"""

from __future__ import annotations

from typing import Any

from .base import AffineNormalizer, standardize_backward, standardize_factors

__all__ = ["LayerNorm"]


class LayerNorm(AffineNormalizer):
    """Layer normalization over ``(C, H, W)`` per sample.

    Parameters
    ----------
    num_channels : int
    eps : float, > 0
    affine : bool
    xp : namespace, str or None
    dtype : floating dtype or None
        Of the parameters (``None``: follow the input).
    check_finite : bool
        Refuse inputs with NaN or inf.
    """

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        base, factor, _, _, self._cache = standardize_factors(x, (1, 2, 3), eps=self.eps)
        return base, factor

    def _normalize_backward(self, dz: Any) -> Any:
        return standardize_backward(dz, self._cache)
