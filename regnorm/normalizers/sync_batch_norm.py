"""Synchronized batch normalization over shards of unequal size, as a multi-device run does it.

In data-parallel training each device holds a shard of the batch; synchronized BN
standardizes every sample by the statistics of the *whole* batch. Each shard ``i`` computes
its count ``m_i`` (values per channel), mean ``mu_i`` and sum of squared deviations
``S_i = m_i sigma_i^2``; the shards' statistics are combined exactly (Chan, Golub and
LeVeque's parallel formula, the law of total variance):

.. math::

    m = \\sum_i m_i, \\qquad \\mu = \\frac{1}{m}\\sum_i m_i \\mu_i, \\qquad
    \\sigma^2 = \\frac{1}{m}\\sum_i \\big(S_i + m_i (\\mu_i - \\mu)^2\\big),

so the output equals :class:`~regnorm.normalizers.batch_norm.BatchNorm` on the concatenated
batch (to rounding), whatever the shard sizes. The backward pass likewise combines each
shard's ``sum g`` and ``sum g (h - mu)``. The running variance receives the unbiased
``m/(m-1) sigma^2`` of the whole batch: averaging the shards' own unbiased variances (or
their biased ones) would be wrong for unequal shards.

Batch noise (THEORY §1, C22): a sample's output depends on the whole batch across devices,
so its noise is BN's at ``M = sum of the shard batch sizes`` (a per-device BN without
synchronization has BN's noise at each shard's own size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..validation import check_integer
from .batch_norm import BatchNorm
from .standardization import (
    Standardization,
    inverse_std,
    max_abs_unit,
    overflow_allowed,
    squares_overflow,
)

__all__ = ["SyncBatchNorm", "combine_moments"]


def combine_moments(counts: Sequence[int], means: Sequence[Any], sq_devs: Sequence[Any]):
    """Exact mean and biased variance of a union of shards from each shard's count, mean and
    sum of squared deviations (arrays of one shape): ``(m, mean, var)``."""
    m = sum(counts)
    mean = sum(c * mu for c, mu in zip(counts, means, strict=True)) / m
    var = sum(s + c * (mu - mean) ** 2 for c, mu, s in zip(counts, means, sq_devs, strict=True)) / m
    return m, mean, var


class SyncBatchNorm(BatchNorm):
    """Batch normalization with the statistics of all shards of a batch.

    Parameters
    ----------
    num_channels : int
        ``C``.
    shard_sizes : sequence of int, optional
        Samples per shard (device), in order along axis 0; their sum must be the batch size
        of every training input. ``None``: one shard (then this is BatchNorm). Can be changed
        between calls (``layer.shard_sizes = (...)``), e.g. for a last, smaller batch.
    eps, momentum, affine, center, scale, unbiased_running, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.batch_norm.BatchNorm`.
    """

    def __init__(
        self, num_channels: int, *, shard_sizes: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(num_channels, **kwargs)
        self.shard_sizes = shard_sizes

    @property
    def shard_sizes(self) -> tuple[int, ...] | None:
        return self._shard_sizes

    @shard_sizes.setter
    def shard_sizes(self, sizes: Sequence[int] | None) -> None:
        if sizes is None:
            self._shard_sizes = None
            return
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or not len(sizes):
            raise TypeError(f"shard_sizes must be a non-empty sequence of ints, got {sizes!r}")
        self._shard_sizes = tuple(check_integer("shard_sizes", s, minimum=1) for s in sizes)

    def _shards(self, n: int) -> list[slice]:
        sizes = self.shard_sizes or (n,)
        if sum(sizes) != n:
            raise ValueError(
                f"SyncBatchNorm: shard_sizes {sizes} add up to {sum(sizes)}, but the batch has "
                f"{n} samples"
            )
        edges = [0]
        for s in sizes:
            edges.append(edges[-1] + s)
        return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        if not training:
            return super()._normalize(x, training)
        xp = self.xp
        n, _, h, w = x.shape
        if n * h * w < 2:
            raise ValueError(
                "SyncBatchNorm in training needs more than one value per channel over all "
                f"shards (N*H*W >= 2), got input shape {tuple(x.shape)}"
            )
        shards = self._shards(n)
        axes = (0, 2, 3)

        def moments(a):
            counts, means, sq_devs = [], [], []
            for p in shards:  # what each device computes from its own shard
                ai = a[p, ...]
                mu = xp.mean(ai, axis=axes, keepdims=True)
                counts.append((p.stop - p.start) * h * w)
                means.append(mu)
                sq_devs.append(xp.sum((ai - mu) ** 2, axis=axes, keepdims=True))
            return combine_moments(counts, means, sq_devs)  # the all-reduce

        with overflow_allowed():
            m, mean, var = moments(x)
        unit = None
        if squares_overflow(var):  # as BatchNorm: the statistics of x / max|x| (all shards)
            unit = max_abs_unit(x, axes)
            x = x / unit
            m, mean, var = moments(x)
        xc = x - mean
        inv_std = inverse_std(var, self.eps, unit)
        self._cache = ("sync", (shards, Standardization(xc, inv_std, axes, self.center,
                                                         self.scale, x, unit)))  # fmt: skip
        if unit is None:
            self._update_running(mean, var, m)
            return (xc if self.center else x), (inv_std if self.scale else None)
        with overflow_allowed():  # the variance is inf where it exceeds the dtype's range
            self._update_running(mean * unit, (var * unit) * unit, m)
        if not self.scale:
            raise ValueError(
                "SyncBatchNorm: x - mean(x) overflows the dtype's range (|x| near its "
                "maximum): the mean-only standardization of this x is not representable"
            )
        return (xc if self.center else x), inv_std

    def _normalize_backward(self, dz: Any) -> Any:
        mode, cache = self._cache
        if mode != "sync":
            return super()._normalize_backward(dz)
        xp = self.xp
        shards, st = cache
        axes, s, xc = st.axes, st.inv_std, st.xc
        m = dz.shape[0] * dz.shape[2] * dz.shape[3]

        def reduce(a):  # each shard's sum, then the all-reduce
            return sum(xp.sum(a[p, ...], axis=axes, keepdims=True) for p in shards) / m

        if st.center and st.scale:
            dx = s * (dz - reduce(dz) - xc * (s * s) * reduce(dz * xc))
        elif st.center:
            return dz - reduce(dz)
        elif st.scale:
            dx = s * dz - (s * s * s) * reduce(dz * st.x) * xc
        else:
            return dz
        return dx if st.unit is None else dx * (1.0 / st.unit)  # z is scale-free in x

    def __repr__(self) -> str:
        return (
            f"SyncBatchNorm({self.num_channels}, shard_sizes={self.shard_sizes}, "
            f"eps={self.eps}, momentum={self.momentum})"
        )
