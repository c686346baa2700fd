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
    \\sigma^2_{ln} = \\operatorname{mean}_C(\\sigma^2_{in} + \\mu_{in}^2) - \\mu_{ln}^2
    = \\operatorname{mean}_C\\big(\\sigma^2_{in} + (\\mu_{in} - \\mu_{ln})^2\\big),

and the same over ``N`` for BN. One-hot weights reduce SN to IN, LN or BN. The first form,
the article's, is a difference of second moments whose rounding error is ``u mu^2 / sigma^2``
relative (``u`` the unit roundoff): every digit for ``0.01 randn + 100`` in float32. It is
kept where it loses at most ``u ONE_PASS_RATIO`` of ``sigma^2 + eps``
(:data:`~regnorm.normalizers.standardization.ONE_PASS_RATIO`); elsewhere the second form (the law of
total variance, no cancellation) is computed, with its own gradient.
Where squares overflow (``|x|`` beyond about ``1e154`` in float64) the statistics are
computed on ``x / s`` with ``s`` the max-abs of the whole input (the three kinds of statistics
must share one unit), as in :func:`~regnorm.normalizers.standardization.standardize_factors`.

**Conventions** (``convention=``). ``"regnorm"`` (default): biased IN variances, running
variance updated with the unbiased batch variance (as BatchNorm), running statistics start at
0 and 1. ``"official"``: the arithmetic of the official code (Luo et al.,
``SwitchNorm2d``): the IN variance is PyTorch's default *unbiased* ``var()`` over ``(H, W)``
(``H W >= 2`` required) and the LN and BN variances are derived from it by the formulas
above, so none of the three is the biased or the unbiased variance of its own axes; the
running averages receive that derived BN variance as it is, and start at 0; the batch
average is the official ``sn_helper``'s pooled one,
``mean_k mu_k`` and ``mean_k(mu_k^2 + sigma_k^2) - (mean_k mu_k)^2`` over the batches ``k``.
The official ``momentum`` (0.9 or 0.997, the weight of the *old* average, TensorFlow-style
``m running + (1 - m) batch``) is ``1 - momentum`` here. On small feature maps the two
conventions' outputs differ visibly (the unbiased IN variance is ``HW/(HW-1)`` times the
biased one): for N(0, 1) input of shape (8, 4, H, W) at equal weights, the largest
difference is about 0.26 at 2x2, 0.14 at 3x3, 0.09 at 4x4 and 0.03 at 8x8 (median over
20 inputs).

Evaluation (``training=False``): the IN and LN statistics are still those of the input; the
BN statistics are either the moving averages (``eval_mode="moving_average"``, updated like
:class:`~regnorm.normalizers.batch_norm.BatchNorm`: ``running = (1 - momentum) running +
momentum batch``, unbiased variance) or the batch average (``eval_mode="batch_average"``: the
mean over a set of training batches of the batch statistics, computed after training with
:meth:`SwitchableNorm.compute_batch_average` with the parameters frozen), as article 000
describes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..validation import check_choice
from .base import AffineNormalizer, check_momentum
from .standardization import (
    ONE_PASS_RATIO,
    inverse_std,
    max_abs_unit,
    overflow_allowed,
    squares_overflow,
)

__all__ = ["SwitchableNorm"]

COMPONENTS = ("in", "ln", "bn")


def _softmax(xp: Any, logits: Any) -> Any:
    e = xp.exp(logits - xp.max(logits))
    return e / xp.sum(e)


class SwitchableNorm(AffineNormalizer):
    """Switchable Normalization over IN, LN and BN statistics.

    Parameters
    ----------
    num_channels, eps
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    momentum : float in (0, 1]
        For the BN moving averages.
    eval_mode : {"moving_average", "batch_average"}
        Which BN statistics evaluation uses.
    convention : {"regnorm", "official"}
        ``"official"``: the official code's unbiased IN variance, derived LN/BN variances,
        uncorrected running variance starting at 0 and pooled batch average (module notes).
    affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.

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
        convention: str = "regnorm",
        affine: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, **options)
        xp = self.xp
        self.momentum = check_momentum(momentum)
        self.eval_mode = check_choice("eval_mode", eval_mode, ("moving_average", "batch_average"))
        self.convention = check_choice("convention", convention, ("regnorm", "official"))
        dt, device = self.param_dtype, self.device
        self.params["mean_logits"] = xp.ones(3, dtype=dt, device=device)
        self.params["var_logits"] = xp.ones(3, dtype=dt, device=device)
        self.zero_grad()
        c = num_channels
        self.state["running_mean"] = xp.zeros(c, dtype=dt, device=device)
        official = self.convention == "official"
        self.state["running_var"] = (xp.zeros if official else xp.ones)(c, dtype=dt, device=device)
        self.state["average_mean"] = xp.full(c, float("nan"), dtype=dt, device=device)
        self.state["average_var"] = xp.full(c, float("nan"), dtype=dt, device=device)

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
        return self._statistics(x, self.eps)[0]

    def _statistics(self, x: Any, eps: Any) -> tuple[dict[str, tuple[Any, Any]], dict]:
        """The statistics and, per derived one, whether it is in the deviation form."""
        xp = self.xp
        mu_in = xp.mean(x, axis=(2, 3), keepdims=True)
        xc = x - mu_in
        var_in = xp.mean(xc * xc, axis=(2, 3), keepdims=True) * self._in_variance_factor(x)
        stats = {"in": (mu_in, var_in)}
        second = var_in + mu_in * mu_in
        cancels = {}
        for name, axis in (("ln", 1), ("bn", 0)):
            mu = xp.mean(mu_in, axis=axis, keepdims=True)
            mean_second = xp.mean(second, axis=axis, keepdims=True)
            var = mean_second - mu * mu
            stats[name] = (mu, var)
            # a negative var is rounding of a cancelling difference: the test is then true
            cancels[name] = xp.any(mean_second > ONE_PASS_RATIO * (var + eps))
        deviation_form = dict.fromkeys(cancels, False)
        if bool(xp.logical_or(cancels["ln"], cancels["bn"])):  # one test in the usual case
            for name, axis in (("ln", 1), ("bn", 0)):
                deviation_form[name] = bool(cancels[name])
                if deviation_form[name]:
                    mu = stats[name][0]
                    dev = mu_in - mu
                    stats[name] = (mu, xp.mean(var_in + dev * dev, axis=axis, keepdims=True))
        return stats, deviation_form

    def _in_variance_factor(self, x: Any) -> float:
        """1, or ``HW/(HW - 1)`` for the official convention's unbiased IN variance."""
        hw = x.shape[2] * x.shape[3]
        if self.convention != "official":
            return 1.0
        if hw < 2:
            raise ValueError(
                "SwitchableNorm(convention='official') needs H*W >= 2 (the official code's "
                f"unbiased IN variance of one value is NaN), got input shape {tuple(x.shape)}"
            )
        return hw / (hw - 1)

    def _scaled_statistics(self, x: Any) -> tuple[Any, dict, dict, Any]:
        """``(x / s, statistics of x / s, their forms, s)``, with ``s = None`` (no scaling)
        unless squares overflow, else the max-abs of ``x`` (shape (1, 1, 1, 1))."""
        with overflow_allowed():
            stats, forms = self._statistics(x, self.eps)
        if not squares_overflow(*(v for _, v in stats.values()), xp=self.xp):
            return x, stats, forms, None
        unit = max_abs_unit(x, (0, 1, 2, 3))
        xs = x / unit
        eps = (math.sqrt(self.eps) / unit) ** 2  # eps in units of unit^2
        return (xs, *self._statistics(xs, eps), unit)

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        xp = self.xp
        x, stats, forms, unit = self._scaled_statistics(x)
        n, c, h, w = x.shape
        if training:
            m = n * h * w
            if m < 2:
                raise ValueError(
                    "SwitchableNorm in training needs more than one value per channel "
                    f"(N*H*W >= 2), got input shape {tuple(x.shape)}"
                )
            mu_bn, var_bn = stats["bn"]
            if unit is not None:
                with overflow_allowed():  # inf where sigma_BN^2 is beyond the dtype's range
                    mu_bn, var_bn = mu_bn * unit, (var_bn * unit) * unit
            mom = self.momentum
            self.state["running_mean"] = (1 - mom) * self.state["running_mean"] + mom * xp.reshape(
                mu_bn, (c,)
            )
            correction = 1.0 if self.convention == "official" else m / (m - 1)
            self.state["running_var"] = (1 - mom) * self.state["running_var"] + mom * (
                correction
            ) * xp.reshape(var_bn, (c,))
        else:
            prefix = "running" if self.eval_mode == "moving_average" else "average"
            mu_bn = self._channel(self.state[f"{prefix}_mean"])
            var_bn = self._channel(self.state[f"{prefix}_var"])
            if not bool(xp.all(xp.isfinite(var_bn))):
                if prefix == "average" and bool(xp.any(xp.isnan(var_bn))):
                    raise RuntimeError(
                        "eval_mode='batch_average' needs compute_batch_average(batches) first"
                    )
                raise ValueError(
                    f"SwitchableNorm: state['{prefix}_var'] is not finite (a training batch's "
                    "variance exceeded the range of its dtype); evaluation needs finite BN "
                    "statistics"
                )
            if unit is not None:
                mu_bn, var_bn = mu_bn / unit, (var_bn / unit) / unit
            stats["bn"] = (mu_bn, var_bn)
        wm, wv = self.mean_weights, self.var_weights
        mu = sum(wm[k] * stats[name][0] for k, name in enumerate(COMPONENTS))
        var = sum(wv[k] * stats[name][1] for k, name in enumerate(COMPONENTS))
        inv_std = inverse_std(var, self.eps, unit)
        xc = x - mu
        self._cache = (x, stats, mu, inv_std, training, unit, forms)
        return xc, inv_std

    def _normalize_backward(self, dz: Any) -> Any:
        xp = self.xp
        x, stats, mu, s, training, unit, forms = self._cache
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
            dvar_in = dvar_in + dvar_k / count
            if forms[name]:
                # var_k = mean(var_in + (mu_in - mu_k)^2), mu_k = mean(mu_in): the mu_k
                # dependence of var_k drops out because mean(mu_in - mu_k) = 0
                dmu_in = dmu_in + dvar_k * 2.0 * (mu_in - mu_k) / count
            else:  # var_k = mean(var_in + mu_in^2) - mu_k^2, term by term
                dmu_in = dmu_in + dvar_k * 2.0 * mu_in / count
                dmu_k = dmu_k - 2.0 * mu_k * dvar_k
            dmu_in = dmu_in + dmu_k / count
        xc_in = x - mu_in
        dvar_in = dvar_in * self._in_variance_factor(x)  # the unbiased IN variance's factor
        dx = dz * s + dmu_in / (h * w) + dvar_in * 2.0 * xc_in / (h * w)
        # z is homogeneous of degree 0 in x: d z / d x = (d z / d(x/s)) / s
        return dx if unit is None else dx * (1.0 / unit)

    def compute_batch_average(self, batches: Iterable[Any]) -> None:
        """Set the batch-average BN statistics: the mean over ``batches`` of each batch's
        ``mu_BN`` and (unbiased) ``sigma^2_BN`` (article 000's "batch average"); for the
        official convention the pooled ``mean_k(mu_k^2 + sigma_k^2) - (mean_k mu_k)^2``."""
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
            if self.convention == "official":  # second moments, pooled below
                variances.append(xp.reshape(var_bn + mu_bn * mu_bn, (c,)))
            else:
                variances.append(xp.reshape(var_bn, (c,)) * (m / (m - 1)))
        if not means:
            raise ValueError("batches must contain at least one batch")
        mean = xp.mean(xp.stack(means), axis=0)
        var = xp.mean(xp.stack(variances), axis=0)
        self.state["average_mean"] = mean
        self.state["average_var"] = var - mean * mean if self.convention == "official" else var

    def __repr__(self) -> str:
        return (
            f"SwitchableNorm({self.num_channels}, eps={self.eps}, momentum={self.momentum}, "
            f"eval_mode={self.eval_mode!r}, convention={self.convention!r})"
        )
