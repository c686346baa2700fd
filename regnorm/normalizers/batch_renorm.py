"""Batch renormalization (Ioffe 2017): BN corrected towards the running statistics.

In training, with the batch statistics ``mu_B``, ``sigma_B = sqrt(var_B + eps)`` and the
running ``mu``, ``sigma``:

.. math::

    r = \\operatorname{clip}\\Big(\\frac{\\sigma_B}{\\sigma}, \\frac{1}{r_{max}}, r_{max}\\Big),
    \\quad d = \\operatorname{clip}\\Big(\\frac{\\mu_B - \\mu}{\\sigma}, -d_{max}, d_{max}\\Big),
    \\quad \\hat h = \\gamma\\Big(\\frac{h - \\mu_B}{\\sigma_B} r + d\\Big) + \\beta,

with ``r`` and ``d`` treated as constants by the gradient (the paper's ``stop_gradient``);
then ``mu += momentum (mu_B - mu)`` and ``sigma += momentum (sigma_B - sigma)`` (the paper
averages ``sigma``, not the variance). Evaluation: ``gamma (h - mu)/sigma + beta``.
``r_max = 1, d_max = 0`` is BatchNorm (with that running-average rule).

Batch noise (THEORY §1, C22): where neither clip is active, ``(h - mu_B) r / sigma_B + d =
(h - mu)/sigma`` exactly: the forward output is the running-statistics (population)
normalization and carries no batch noise at all (the gradient still does, through
``mu_B`` and ``sigma_B``). The clips let through the part of the batch fluctuation beyond
them: at small ``M``, where ``sigma_B / sigma`` often leaves ``[1/r_max, r_max]``, the noise
lies between 0 and BN's.
"""

from __future__ import annotations

from typing import Any

from ..validation import check_real
from .base import AffineNormalizer, check_momentum
from .standardization import standardize_backward, standardize_factors

__all__ = ["BatchRenorm"]


class BatchRenorm(AffineNormalizer):
    """Batch renormalization over ``(N, H, W)`` per channel.

    Parameters
    ----------
    num_channels, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    r_max : float, >= 1
        Clip of ``r = sigma_B / sigma`` to ``[1/r_max, r_max]`` (the paper anneals it from 1
        to 3; set it between calls for a schedule).
    d_max : float, >= 0
        Clip of ``d = (mu_B - mu)/sigma`` to ``[-d_max, d_max]`` (annealed from 0 to 5).
    eps : float, > 0
        Added to the batch variance.
    momentum : float in (0, 1]
        Rate of the running averages (the paper's ``alpha``, 0.01 there).

    Attributes
    ----------
    state : dict
        ``"running_mean"`` (zeros) and ``"running_std"`` (ones), shape ``(C,)``.
    """

    def __init__(
        self,
        num_channels: int,
        *,
        r_max: float = 3.0,
        d_max: float = 5.0,
        eps: float = 1e-5,
        momentum: float = 0.01,
        affine: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, **options)
        self.r_max = check_real("r_max", r_max, minimum=1.0)
        self.d_max = check_real("d_max", d_max, minimum=0.0)
        self.momentum = check_momentum(momentum)
        xp, dt, device = self.xp, self.param_dtype, self.device
        self.state["running_mean"] = xp.zeros(num_channels, dtype=dt, device=device)
        self.state["running_std"] = xp.ones(num_channels, dtype=dt, device=device)

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: (self.num_channels,) for k in [*self.params, *self.state]}

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        mu = self._channel(self.state["running_mean"])
        sigma = self._channel(self.state["running_std"])
        if not training:
            self._cache = ("eval", 1.0 / sigma)
            return x - mu, 1.0 / sigma
        m = x.shape[0] * x.shape[2] * x.shape[3]
        if m < 2:
            raise ValueError(
                "BatchRenorm in training needs more than one value per channel "
                f"(N*H*W >= 2), got input shape {tuple(x.shape)}"
            )
        base, inv_std, mean, var, cache = standardize_factors(x, (0, 2, 3), eps=self.eps)
        # sigma_B = sqrt(var_B + eps) (in units of the scaled path's max-abs where squares
        # overflow: inv_std is then in those units, the mean is not)
        sigma_b = 1.0 / inv_std if cache.unit is None else cache.unit / inv_std
        r = xp.clip(sigma_b / sigma, 1.0 / self.r_max, self.r_max)
        d = xp.clip((mean - mu) / sigma, -self.d_max, self.d_max)
        self._cache = ("train", (cache, r))
        self._d = d
        mom = self.momentum
        C = self.num_channels
        self.state["running_mean"] = self.state["running_mean"] + mom * xp.reshape(mean - mu, (C,))
        self.state["running_std"] = self.state["running_std"] + mom * xp.reshape(
            sigma_b - sigma, (C,)
        )
        # z = (x - mu_B) inv_std r + d: the shift d enters through _forward's beta term
        return base, inv_std * r

    def _forward(self, x: Any, training: bool) -> Any:
        self._d = None
        y = super()._forward(x, training)
        if self._d is None:
            return y
        gamma = self._channel(self.params["gamma"]) if self.affine else 1.0
        return y + gamma * self._d

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        if self.affine and self._d is not None:
            dx = super()._backward(dy)  # gamma's gradient without d's part: add it
            self.grads["gamma"] = self.grads["gamma"] + xp.reshape(
                xp.sum(dy, axis=(0, 2, 3), keepdims=True) * self._d, (self.num_channels,)
            )
            return dx
        return super()._backward(dy)

    def _normalize_backward(self, dz: Any) -> Any:
        mode, cache = self._cache
        if mode == "eval":
            return dz * cache
        st, r = cache
        return standardize_backward(dz * r, st)  # r and d are constants of the gradient

    def __repr__(self) -> str:
        return (
            f"BatchRenorm({self.num_channels}, r_max={self.r_max}, d_max={self.d_max}, "
            f"eps={self.eps}, momentum={self.momentum})"
        )
