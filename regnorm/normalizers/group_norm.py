"""Group normalization (GN): statistics over (C/G, H, W) per sample and group (THEORY C17).

.. math::

    \\hat h_{n,c,i,j} = \\gamma_c
    \\frac{h_{n,c,i,j} - \\mu_{n,g}}{\\sqrt{\\sigma^2_{n,g}+\\epsilon}}
    + \\beta_c, \\qquad g = \\lfloor c G / C \\rfloor,

with biased statistics over the ``C/G`` channels of group ``g`` and all positions. ``G = 1``
is layer normalization, ``G = C`` instance normalization. Source: article 002 (whose code
hard-codes 16 channels per group and divides with ``/``; here ``C/G`` is checked to be an
integer).
"""

from __future__ import annotations

from typing import Any

from ..validation import check_integer
from .base import AffineNormalizer
from .standardization import standardize_backward, standardize_factors

__all__ = ["GroupNorm"]


class GroupNorm(AffineNormalizer):
    """Group normalization with ``num_groups`` groups of consecutive channels.

    Parameters
    ----------
    num_groups : int
        ``G``, must divide ``num_channels``.
    num_channels : int
        ``C``.
    eps, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer` (``gamma``, ``beta`` per
        channel).
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        *,
        eps: float = 1e-5,
        affine: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, **options)
        self.num_groups = check_integer("num_groups", num_groups, minimum=1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"num_groups={num_groups} must divide num_channels={num_channels}")

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        n, c, h, w = x.shape
        g = self.num_groups
        xg = xp.reshape(x, (n, g, c // g, h, w))
        base, inv_std, _, _, self._cache = standardize_factors(xg, (2, 3, 4), eps=self.eps)
        # the (N, G) factor repeated over each group's channels: (N, C, 1, 1)
        factor = xp.reshape(xp.broadcast_to(inv_std, (n, g, c // g, 1, 1)), (n, c, 1, 1))
        return xp.reshape(base, (n, c, h, w)), factor

    def _normalize_backward(self, dz: Any) -> Any:
        xp = self.xp
        n, c, h, w = dz.shape
        g = self.num_groups
        dx = standardize_backward(xp.reshape(dz, (n, g, c // g, h, w)), self._cache)
        return xp.reshape(dx, (n, c, h, w))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_groups}, {self.num_channels}, eps={self.eps})"
