"""Switchable Normalization (SN): a learned softmax mix of IN, LN and BN statistics (C14).

.. math::

    \\hat h = \\gamma \\frac{h - \\sum_k w_k \\mu_k}{\\sqrt{\\sum_k w'_k \\sigma_k^2 + \\epsilon}}
    + \\beta, \\qquad k \\in \\{\\mathrm{IN}, \\mathrm{LN}, \\mathrm{BN}\\},
    \\quad w = \\operatorname{softmax}(\\lambda), \\ w' = \\operatorname{softmax}(\\lambda').

The six control parameters ``lambda`` (``params["mean_logits"]``) and ``lambda'``
(``params["var_logits"]``), ordered (IN, LN, BN), start at 1 (equal weights 1/3) and are
learned with the network. LN and BN statistics are derived from IN's (biased) ones, as in
article 000, instead of being recomputed:

.. math::

    \\mu_{ln} = \\operatorname{mean}_C \\mu_{in}, \\quad
    \\sigma^2_{ln} = \\operatorname{mean}_C(\\sigma^2_{in} + \\mu_{in}^2) - \\mu_{ln}^2,

and the same over ``N`` for BN. One-hot weights reduce SN to IN, LN or BN.

Evaluation (``training=False``): the IN and LN statistics are still those of the input; the
BN statistics are either the moving averages (``eval_mode="moving_average"``, updated like
:class:`~regnorm.normalizers.batch_norm.BatchNorm`: ``running = (1 - momentum) running +
momentum batch``, unbiased variance) or the batch average (``eval_mode="batch_average"``: the
mean over a set of training batches of the batch statistics, computed after training with
:meth:`SwitchableNorm.compute_batch_average` with the parameters frozen), as article 000
describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._validation import check_choice, check_real
from .base import AffineNormalizer

__all__ = ["SwitchableNorm"]

COMPONENTS = ("in", "ln", "bn")


def _softmax(xp: Any, logits: Any) -> Any:
    e = xp.exp(logits - xp.max(logits))
    return e / xp.sum(e)


class SwitchableNorm(AffineNormalizer):
    """Switchable Normalization over IN, LN and BN statistics.

    Parameters
    ----------
    num_channels : int
    eps : float, > 0
    momentum : float in (0, 1]
        For the BN moving averages.
    eval_mode : {"moving_average", "batch_average"}
        Which BN statistics evaluation uses.
    affine : bool
    xp : namespace, str or None

    Attributes
    ----------
    params : dict
        ``"gamma"``, ``"beta"`` ``(C,)``; ``"mean_logits"``, ``"var_logits"`` ``(3,)``
        ordered as :data:`COMPONENTS` = (IN, LN, BN).
    state : dict
        ``"running_mean"``, ``"running_var"`` (moving averages) and ``"average_mean"``,
        ``"average_var"`` (batch average; NaN until :meth:`compute_batch_average`).
    """

    components = COMPONENTS

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        eval_mode: str = "moving_average",
        affine: bool = True,
        xp: Any = None,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, xp=xp)
        xp = self.xp
        self.momentum = check_real(
            "momentum", momentum, minimum=0.0, maximum=1.0, min_inclusive=False
        )
        self.eval_mode = check_choice("eval_mode", eval_mode, ("moving_average", "batch_average"))
        self.params["mean_logits"] = xp.ones(3, dtype=xp.float64)
        self.params["var_logits"] = xp.ones(3, dtype=xp.float64)
        self.zero_grad()
        c = num_channels
        self.state["running_mean"] = xp.zeros(c, dtype=xp.float64)
        self.state["running_var"] = xp.ones(c, dtype=xp.float64)
        self.state["average_mean"] = xp.full(c, float("nan"), dtype=xp.float64)
        self.state["average_var"] = xp.full(c, float("nan"), dtype=xp.float64)

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {k: (self.num_channels,) for k in list(self.params) + list(self.state)}
        shapes["mean_logits"] = shapes["var_logits"] = (3,)
        return shapes

    @property
    def mean_weights(self) -> Any:
        """``w = softmax(lambda)`` over (IN, LN, BN)."""
        return _softmax(self.xp, self.params["mean_logits"])

    @property
    def var_weights(self) -> Any:
        """``w' = softmax(lambda')`` over (IN, LN, BN)."""
        return _softmax(self.xp, self.params["var_logits"])

    def statistics(self, x: Any) -> dict[str, tuple[Any, Any]]:
        """The (mean, biased variance) of IN, LN and BN derived from IN's (C14), keepdims.

        ``x`` is ``(N, C, H, W)``; shapes are ``(N, C, 1, 1)``, ``(N, 1, 1, 1)``,
        ``(1, C, 1, 1)``.
        """
        xp = self.xp
        mu_in = xp.mean(x, axis=(2, 3), keepdims=True)
        xc = x - mu_in
        var_in = xp.mean(xc * xc, axis=(2, 3), keepdims=True)
        second = var_in + mu_in * mu_in
        mu_ln = xp.mean(mu_in, axis=1, keepdims=True)
        var_ln = xp.mean(second, axis=1, keepdims=True) - mu_ln * mu_ln
        mu_bn = xp.mean(mu_in, axis=0, keepdims=True)
        var_bn = xp.mean(second, axis=0, keepdims=True) - mu_bn * mu_bn
        return {"in": (mu_in, var_in), "ln": (mu_ln, var_ln), "bn": (mu_bn, var_bn)}

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        stats = self.statistics(x)
        n, c, h, w = x.shape
        if training:
            m = n * h * w
            if m < 2:
                raise ValueError(
                    "SwitchableNorm in training needs more than one value per channel "
                    f"(N*H*W >= 2), got input shape {tuple(x.shape)}"
                )
            mu_bn, var_bn = stats["bn"]
            mom = self.momentum
            self.state["running_mean"] = (1 - mom) * self.state["running_mean"] + mom * xp.reshape(
                mu_bn, (c,)
            )
            self.state["running_var"] = (1 - mom) * self.state["running_var"] + mom * (
                m / (m - 1)
            ) * xp.reshape(var_bn, (c,))
        else:
            prefix = "running" if self.eval_mode == "moving_average" else "average"
            mu_bn = self._channel(self.state[f"{prefix}_mean"])
            var_bn = self._channel(self.state[f"{prefix}_var"])
            if not bool(xp.all(xp.isfinite(var_bn))):
                raise RuntimeError(
                    "eval_mode='batch_average' needs compute_batch_average(batches) first"
                )
            stats["bn"] = (mu_bn, var_bn)
        wm, wv = self.mean_weights, self.var_weights
        mu = sum(wm[k] * stats[name][0] for k, name in enumerate(COMPONENTS))
        var = sum(wv[k] * stats[name][1] for k, name in enumerate(COMPONENTS))
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        xc = x - mu
        self._cache = (x, stats, mu, inv_std, training)
        return xc, inv_std

    def _normalize_backward(self, dz: Any) -> Any:
        xp = self.xp
        x, stats, mu, s, training = self._cache
        n, c, h, w = x.shape
        xc = x - mu
        dmu = -xp.sum(dz * s, axis=(2, 3), keepdims=True)  # (N, C, 1, 1)
        dvar = -0.5 * xp.sum(dz * xc, axis=(2, 3), keepdims=True) * s * s * s
        wm, wv = self.mean_weights, self.var_weights
        dwm = xp.stack([xp.sum(dmu * stats[k][0]) for k in COMPONENTS])
        dwv = xp.stack([xp.sum(dvar * stats[k][1]) for k in COMPONENTS])
        # softmax backward: dlambda = w (dw - <dw, w>)
        self.grads["mean_logits"] = wm * (dwm - xp.sum(dwm * wm))
        self.grads["var_logits"] = wv * (dwv - xp.sum(dwv * wv))
        mu_in = stats["in"][0]
        dmu_in = wm[0] * dmu
        dvar_in = wv[0] * dvar
        derived = [("ln", 1, 1, c)] + ([("bn", 2, 0, n)] if training else [])
        for name, k, axis, count in derived:
            mu_k = stats[name][0]
            dmu_k = wm[k] * xp.sum(dmu, axis=axis, keepdims=True)
            dvar_k = wv[k] * xp.sum(dvar, axis=axis, keepdims=True)
            # var_k = mean(var_in + mu_in^2) - mu_k^2 ; mu_k = mean(mu_in)
            dvar_in = dvar_in + dvar_k / count
            dmu_in = dmu_in + dvar_k * 2.0 * mu_in / count
            dmu_k = dmu_k - 2.0 * mu_k * dvar_k
            dmu_in = dmu_in + dmu_k / count
        xc_in = x - mu_in
        return dz * s + dmu_in / (h * w) + dvar_in * 2.0 * xc_in / (h * w)

    def compute_batch_average(self, batches: Iterable[Any]) -> None:
        """Set the batch-average BN statistics: the mean over ``batches`` of each batch's
        ``mu_BN`` and (unbiased) ``sigma^2_BN`` (article 000's "batch average")."""
        xp = self.xp
        means, variances = [], []
        for batch in batches:
            x4 = self._check_input(batch)
            n, c, h, w = x4.shape
            mu_bn, var_bn = self.statistics(x4)["bn"]
            m = n * h * w
            if m < 2:
                raise ValueError("batches must have more than one value per channel")
            means.append(xp.reshape(mu_bn, (c,)))
            variances.append(xp.reshape(var_bn, (c,)) * (m / (m - 1)))
        if not means:
            raise ValueError("batches must contain at least one batch")
        self.state["average_mean"] = xp.mean(xp.stack(means), axis=0)
        self.state["average_var"] = xp.mean(xp.stack(variances), axis=0)

    def __repr__(self) -> str:
        return (
            f"SwitchableNorm({self.num_channels}, eps={self.eps}, momentum={self.momentum}, "
            f"eval_mode={self.eval_mode!r})"
        )
