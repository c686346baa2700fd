"""Batch normalization (BN): statistics over (N, H, W) per channel (THEORY C17, C22).

.. math::

    \\hat h = \\gamma \\frac{h - \\mu_B}{\\sqrt{\\sigma_B^2 + \\epsilon}} + \\beta,

with ``mu_B`` and the *biased* ``sigma_B^2`` (``ddof=0``) of the channel over the batch and
the spatial axes. Source: articles 001 §1 and 002.

Conventions (stated because implementations differ):

* training uses the biased batch variance (divide by ``m = N H W``);
* the running averages are updated as ``running = (1 - momentum) running + momentum batch``
  (PyTorch's convention; Keras' ``momentum`` is our ``1 - momentum``), and the running
  variance receives the *unbiased* batch variance ``m/(m-1) sigma_B^2`` by default
  (``unbiased_running=False`` stores the biased one);
* evaluation (``training=False``) normalizes with the running statistics, i.e. it is
  :class:`~regnorm.normalizers.population_norm.PopulationNorm` with the running averages.
"""

from __future__ import annotations

from typing import Any

from .base import AffineNormalizer, check_flag, check_momentum
from .standardization import standardize_backward, standardize_factors

__all__ = ["BatchNorm"]


class BatchNorm(AffineNormalizer):
    """Batch normalization over ``(N, H, W)`` per channel, with running statistics.

    Parameters
    ----------
    num_channels, eps, affine
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    momentum : float in (0, 1]
        Weight of the current batch in the running averages.
    center : bool
        Subtract the batch mean (``False``: variance-only BN, ``z = h / sqrt(sigma_B^2+eps)``).
    scale : bool
        Divide by the batch standard deviation (``False``: mean-only BN, ``z = h - mu_B``).
    unbiased_running : bool
        Store the unbiased (``ddof=1``) batch variance in ``running_var`` (default, as PyTorch).
    xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.Normalizer`.

    Attributes
    ----------
    state : dict
        ``"running_mean"`` (zeros) and ``"running_var"`` (ones), shape ``(C,)``.

    Examples
    --------
    >>> import numpy as np
    >>> bn = BatchNorm(3)
    >>> y = bn.forward(np.random.default_rng(0).normal(size=(8, 3, 4, 4)))
    >>> bool(abs(y.mean(axis=(0, 2, 3))).max() < 1e-12)
    True
    """

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        center: bool = True,
        scale: bool = True,
        unbiased_running: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, **options)
        self.momentum = check_momentum(momentum)
        self.center = check_flag("center", center)
        self.scale = check_flag("scale", scale)
        self.unbiased_running = check_flag("unbiased_running", unbiased_running)
        xp, dt, device = self.xp, self.param_dtype, self.device
        self.state["running_mean"] = xp.zeros(num_channels, dtype=dt, device=device)
        self.state["running_var"] = xp.ones(num_channels, dtype=dt, device=device)

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        keys = list(self.params) + list(self.state)
        return {k: (self.num_channels,) for k in keys}

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        if not training:
            if not bool(xp.all(xp.isfinite(self.state["running_var"]))):
                raise ValueError(
                    "BatchNorm: state['running_var'] is not finite (a training batch's variance "
                    f"exceeded the range of {self.state['running_var'].dtype}); evaluation "
                    "needs finite running statistics"
                )
            mean = self._channel(self.state["running_mean"])
            inv_std = 1.0 / xp.sqrt(self._channel(self.state["running_var"]) + self.eps)
            self._cache = ("eval", inv_std)
            return (x - mean if self.center else x), (inv_std if self.scale else None)
        m = x.shape[0] * x.shape[2] * x.shape[3]
        if m < 2:
            raise ValueError(
                "BatchNorm in training needs more than one value per channel "
                f"(N*H*W >= 2), got input shape {tuple(x.shape)}"
            )
        base, factor, mean, var, cache = standardize_factors(
            x, (0, 2, 3), eps=self.eps, center=self.center, scale=self.scale
        )
        self._cache = ("train", cache)
        self._update_running(mean, var, m)
        return base, factor

    def _update_running(self, mean: Any, var: Any, m: int) -> None:
        """``running = (1 - momentum) running + momentum batch`` for a batch of ``m`` values
        per channel with mean ``mean`` and biased variance ``var`` (keepdims shapes)."""
        xp = self.xp
        mom = self.momentum
        batch_var = xp.reshape(var, (self.num_channels,))
        if self.unbiased_running:
            batch_var = batch_var * (m / (m - 1))
        self.state["running_mean"] = (1 - mom) * self.state["running_mean"] + mom * xp.reshape(
            mean, (self.num_channels,)
        )
        self.state["running_var"] = (1 - mom) * self.state["running_var"] + mom * batch_var

    def _normalize_backward(self, dz: Any) -> Any:
        mode, cache = self._cache
        if mode == "eval":
            return dz * cache if self.scale else dz
        return standardize_backward(dz, cache)

    def __repr__(self) -> str:
        return (
            f"BatchNorm({self.num_channels}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, center={self.center}, scale={self.scale})"
        )
