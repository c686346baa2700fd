"""Ghost (virtual) batch normalization (Hoffer et al. 2017): BN on virtual batches.

The batch is split along axis 0 into consecutive virtual batches of ``virtual_batch_size``
samples (the last one smaller if the batch size is not a multiple), and each is standardized
by its own statistics, as :class:`~regnorm.normalizers.batch_norm.BatchNorm` would standardize
it alone:

.. math::

    \\hat h_i = \\gamma \\frac{h_i - \\mu_{B(i)}}{\\sqrt{\\sigma_{B(i)}^2 + \\epsilon}} + \\beta,

with ``B(i)`` the virtual batch of sample ``i``. The running averages are updated once per
virtual batch, in order, as a BN layer applied to each virtual batch in turn would update
them. Evaluation uses the running statistics (population normalization).

Batch noise (THEORY §1, C1-C3, C22): a sample's output depends only on the other samples of
its virtual batch, so its noise is BN's at ``M = virtual_batch_size`` whatever the real batch
size (e.g. the C1 error ``eps(v) ~ 3/(2v)``); with ``virtual_batch_size >= M`` it is BN.
"""

from __future__ import annotations

from typing import Any

from ..validation import check_integer
from .batch_norm import BatchNorm
from .standardization import standardize_backward, standardize_factors

__all__ = ["GhostBatchNorm", "virtual_batches"]


def virtual_batches(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``size`` samples covering ``range(n)`` (the last may be shorter)."""
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


class GhostBatchNorm(BatchNorm):
    """Batch normalization over virtual batches of ``virtual_batch_size`` samples.

    Parameters
    ----------
    num_channels : int
        ``C``.
    virtual_batch_size : int, >= 1
        Samples per virtual batch; each must hold more than one value per channel
        (``size * H * W >= 2``) in training.
    eps, momentum, affine, center, scale, unbiased_running, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.batch_norm.BatchNorm`.
    """

    def __init__(self, num_channels: int, *, virtual_batch_size: int, **kwargs: Any) -> None:
        super().__init__(num_channels, **kwargs)
        self.virtual_batch_size = check_integer("virtual_batch_size", virtual_batch_size, minimum=1)

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        if not training:
            return super()._normalize(x, training)
        xp = self.xp
        n, _, h, w = x.shape
        parts = virtual_batches(n, self.virtual_batch_size)
        for p in parts:
            if (p.stop - p.start) * h * w < 2:
                raise ValueError(
                    "GhostBatchNorm in training needs more than one value per channel in every "
                    f"virtual batch (size * H * W >= 2); input shape {tuple(x.shape)} with "
                    f"virtual_batch_size={self.virtual_batch_size} leaves a virtual batch of "
                    f"{p.stop - p.start} sample(s)"
                )
        bases, factors, caches = [], [], []
        for p in parts:
            base, factor, mean, var, cache = standardize_factors(
                x[p, ...], (0, 2, 3), eps=self.eps, center=self.center, scale=self.scale
            )
            self._update_running(mean, var, (p.stop - p.start) * h * w)
            bases.append(base)
            caches.append(cache)
            if factor is not None:
                factors.append(xp.broadcast_to(factor, (p.stop - p.start, *factor.shape[1:])))
        self._cache = ("ghost", (parts, caches))
        factor = xp.concat(factors, axis=0) if factors else None
        return xp.concat(bases, axis=0), factor

    def _normalize_backward(self, dz: Any) -> Any:
        mode, cache = self._cache
        if mode != "ghost":
            return super()._normalize_backward(dz)
        parts, caches = cache
        grads = [standardize_backward(dz[p, ...], c) for p, c in zip(parts, caches, strict=True)]
        return self.xp.concat(grads, axis=0)

    def __repr__(self) -> str:
        return (
            f"GhostBatchNorm({self.num_channels}, virtual_batch_size={self.virtual_batch_size}, "
            f"eps={self.eps}, momentum={self.momentum})"
        )
