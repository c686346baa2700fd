"""Weight normalization (WN): a linear map over channels with normalized weight rows (THEORY C13).

.. math::

    y_{n,o,i,j} = \\nu_o \\frac{w_o^\\top x_{n,:,i,j}}{\\lVert w_o\\rVert} + b_o ,

a dense layer on ``(N, C_in)`` input and a 1x1 convolution on ``(N, C_in, H, W)`` input.
WN normalizes the weights, not the activations, so a sample's output never depends on the rest
of the batch (C22). Gradients (Salimans & Kingma 2016), with ``u_o = w_o/||w_o||`` and
``G_o = dL/du_o``:

.. math::

    \\frac{\\partial L}{\\partial w_o} = \\frac{G_o - u_o (u_o^\\top G_o)}{\\lVert w_o\\rVert}.

Source: article 001 §2 (WN student, C6-C10) and article 002.
"""

from __future__ import annotations

from typing import Any

from ..backend import random_generator
from ..validation import check_integer
from .base import Normalizer, check_flag

__all__ = ["WeightNorm"]


class WeightNorm(Normalizer):
    """Weight-normalized linear layer over the channel axis.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` (checked against the input's axis 1) and ``C_out``.
    bias : bool
        Learn ``b`` (zeros).
    rng : seed, SeedSequence, Generator or ArrayGenerator, optional
        Draws the initial directions ``w ~ N(0, 1)`` (the scale of ``w`` does not matter), on
        the layer's device (:func:`regnorm.backend.random_generator`).
    xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.Normalizer`.

    Attributes
    ----------
    params : dict
        ``"w"`` ``(C_out, C_in)`` directions, ``"nu"`` ``(C_out,)`` gains (ones) and, with
        ``bias``, ``"b"`` ``(C_out,)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        rng: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(in_channels, **options)
        self.out_channels = check_integer("out_channels", out_channels, minimum=1)
        self.bias = check_flag("bias", bias)
        w = random_generator(self.backend, rng).standard_normal(
            (self.out_channels, self.num_channels)
        )
        xp, dt, device = self.xp, self.param_dtype, self.device
        self.params["w"] = xp.astype(w, dt)
        self.params["nu"] = xp.ones(self.out_channels, dtype=dt, device=device)
        if bias:
            self.params["b"] = xp.zeros(self.out_channels, dtype=dt, device=device)
        self.zero_grad()

    @property
    def in_channels(self) -> int:
        return self.num_channels

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "w": (self.out_channels, self.num_channels),
            "nu": (self.out_channels,),
            "b": (self.out_channels,),
        }

    def _forward(self, x: Any, training: bool) -> Any:
        xp = self.xp
        w = self.params["w"]
        norm = xp.sqrt(xp.sum(w * w, axis=1, keepdims=True))
        if not bool(xp.all(norm > 0)):
            raise ValueError("params['w'] has a zero row: its direction is undefined")
        u = w / norm
        # nu is folded into the (C_out, C_in) matrix: one product makes the output, and the
        # gradient of nu follows from the weight gradient's matrix (no stored pre-activations)
        a = u * self.params["nu"][:, None]
        n, cin, h, wd = x.shape
        if h * wd == 1:  # dense features: one (N, C_in) @ (C_in, C_out) product
            xs = xp.reshape(x, (n, cin))
            y = xs @ xp.matrix_transpose(a)
            if self.bias:
                y = y + self.params["b"]
        else:  # images: (C_out, C_in) @ (N, C_in, HW), both operands contiguous
            xs = xp.reshape(x, (n, cin, h * wd))
            y = a @ xs
            if self.bias:
                y = y + self.params["b"][:, None]
        self._cache = (xs, u, a, norm)
        return xp.reshape(y, (n, self.out_channels, h, wd))

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        xs, u, a, norm = self._cache
        n, cout, h, wd = dy.shape
        if h * wd == 1:
            d = xp.reshape(dy, (n, cout))
            g = xp.matrix_transpose(d) @ xs  # (C_out, C_in): dL/d(a)
            dx = d @ a
            if self.bias:
                self.grads["b"] = xp.sum(d, axis=0)
        else:
            d = xp.reshape(dy, (n, cout, h * wd))
            g = xp.sum(d @ xp.matrix_transpose(xs), axis=0)
            dx = xp.matrix_transpose(a) @ d
            if self.bias:
                self.grads["b"] = xp.sum(d, axis=(0, 2))
        self.grads["nu"] = xp.sum(g * u, axis=1)
        du = g * self.params["nu"][:, None]
        self.grads["w"] = (du - u * xp.sum(du * u, axis=1, keepdims=True)) / norm
        return xp.reshape(dx, (n, self.num_channels, h, wd))

    def __repr__(self) -> str:
        return f"WeightNorm({self.num_channels}, {self.out_channels}, bias={self.bias})"
