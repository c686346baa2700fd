"""The model of the switchable-weights experiment: synthetic images, a teacher, an SN student.

Images ``x[n, c, i, j] = a_n b_{n,c} xi_{n,c,i,j} + o_{n,c}`` with per-image contrast
``a_n``, per-image-and-channel contrast ``b`` and brightness ``o`` (so IN and LN have
something to remove) and pixel noise ``xi`` either Gaussian (excess kurtosis 0) or Student-t
with 5 degrees of freedom (excess kurtosis 6: heavy tails, C16). The teacher is a
one-hidden-layer network of 1x1 convolutions with global average pooling,
``y = sum_k s_k mean_ij ReLU(t_k . x_ij) / scale`` (label noise is added by the protocol).
"""

from __future__ import annotations

import math

import numpy as np

from regnorm.backend import get_namespace
from regnorm.validation import check_choice, check_integer

__all__ = ["IN_CHANNELS", "INPUT_NOISE", "TEACHER_HIDDEN", "ImageTeacher", "SNConvStudent",
           "sample_images"]  # fmt: skip

#: Pixel laws and the excess kurtosis of their noise ``xi``. "gaussian_no_contrast" has no
#: per-image contrast or brightness (a = b = 1, o = 0): its pixels are exactly N(0, 1), so
#: BN's per-channel inputs have kurtosis ~0; with contrast, the scale mixture makes them
#: heavy-tailed even for Gaussian ``xi``.
INPUT_NOISE = {"gaussian": 0.0, "student_t5": 6.0, "gaussian_no_contrast": 0.0}

IN_CHANNELS = 3
TEACHER_HIDDEN = 4


def sample_images(n, size, noise, rng):
    """``n`` synthetic images ``(n, 3, size, size)`` (see the module docstring)."""
    check_choice("noise", noise, INPUT_NOISE)
    shape = (n, IN_CHANNELS, size, size)
    if noise == "student_t5":  # unit-variance Student-t, 5 d.o.f. (variance 5/3)
        xi = rng.standard_t(5, shape) / math.sqrt(5 / 3)
    else:
        xi = rng.standard_normal(shape)
    if noise == "gaussian_no_contrast":
        return xi
    a = np.exp(0.5 * rng.standard_normal((n, 1, 1, 1)))
    b = np.exp(0.3 * rng.standard_normal((n, IN_CHANNELS, 1, 1)))
    o = 0.5 * rng.standard_normal((n, IN_CHANNELS, 1, 1))
    return a * b * xi + o


class ImageTeacher:
    """``y = sum_k s_k mean_ij ReLU(t_k . x_ij) / scale``: unit directions ``t_k``, signs
    ``s_k = +-1`` alternating; ``scale`` is set by the caller (1 until then)."""

    def __init__(self, rng):
        t = rng.standard_normal((TEACHER_HIDDEN, IN_CHANNELS))
        self.t = t / np.linalg.norm(t, axis=1, keepdims=True)
        self.s = np.where(np.arange(TEACHER_HIDDEN) % 2 == 0, 1.0, -1.0)
        self.scale = 1.0

    def clean(self, x):
        """The noiseless labels of images ``x`` ``(n, 3, H, W)``."""
        h = np.maximum(np.einsum("kc,nchw->nkhw", self.t, x), 0.0).mean(axis=(2, 3))
        return h @ self.s / self.scale


class SNConvStudent:
    """``conv1x1 -> SN -> ReLU -> conv1x1 -> SN -> ReLU -> pool -> linear`` (one replicate).

    :class:`regnorm.normalizers.SwitchableNorm` with control logits ordered IN, LN, BN,
    started at equal weights. Convolutions are 1x1 (per-pixel matrix products): the
    statistics axes of IN (H, W), LN (C, H, W) and BN (N, H, W) are those of a CNN, without
    the cost of spatial kernels.

    Parameters
    ----------
    channels : int
        Width of both hidden layers.
    rng : numpy Generator
        He initialisation of the 1x1 convolutions, ``v ~ N(0, 1/C)``.
    xp : namespace, optional
    """

    def __init__(self, channels, rng, xp=None):
        from regnorm.normalizers import SwitchableNorm

        self.xp = xp = get_namespace(xp)
        C = check_integer("channels", channels, minimum=1)
        w1 = rng.standard_normal((C, IN_CHANNELS)) * math.sqrt(2 / IN_CHANNELS)
        w2 = rng.standard_normal((C, C)) * math.sqrt(2 / C)
        v = rng.standard_normal(C) / math.sqrt(C)
        self.params = {k: xp.asarray(a) for k, a in (("W1", w1), ("W2", w2), ("v", v))}
        self.params["c"] = xp.zeros(1, dtype=xp.float64)
        self.norms = [SwitchableNorm(C, xp=xp), SwitchableNorm(C, xp=xp)]
        self.grads = {}

    def forward(self, x, *, training=True):
        xp = self.xp
        n, _, hh, ww = x.shape
        a = x
        self._cache = []
        for i, W in enumerate((self.params["W1"], self.params["W2"])):
            flat = xp.reshape(a, (n, a.shape[1], hh * ww))
            u = xp.reshape(xp.matmul(W, flat), (n, W.shape[0], hh, ww))
            h = self.norms[i].forward(u, training=training)
            self._cache.append((flat, h))
            a = xp.where(h > 0, h, xp.zeros_like(h))
        self._pooled = xp.mean(a, axis=(2, 3))
        return xp.matmul(self._pooled, self.params["v"]) + self.params["c"]

    def backward(self, df):
        xp = self.xp
        n = df.shape[0]
        (flat1, h1), (flat2, h2) = self._cache
        hw = h2.shape[2] * h2.shape[3]
        g = {"v": xp.matmul(df, self._pooled), "c": xp.reshape(xp.sum(df), (1,))}
        da = (df[:, None] * self.params["v"][None, :])[:, :, None, None] / hw
        da = da * xp.ones_like(h2)
        for i, (flat, h) in ((1, (flat2, h2)), (0, (flat1, h1))):
            dh = xp.where(h > 0, da, xp.zeros_like(da))
            du = self.norms[i].backward(dh)
            du = xp.reshape(du, (n, du.shape[1], hw))
            W = self.params[f"W{i + 1}"]
            g[f"W{i + 1}"] = xp.sum(xp.matmul(du, xp.permute_dims(flat, (0, 2, 1))), axis=0)
            if i == 1:
                da = xp.reshape(xp.matmul(xp.permute_dims(W, (1, 0)), du), h1.shape)
        self.grads = g

    def step(self, lr, logit_lr):
        for k, gk in self.grads.items():
            self.params[k] = self.params[k] - lr * gk
        for norm in self.norms:
            for k, gk in norm.grads.items():
                rate = logit_lr if k.endswith("logits") else lr
                norm.params[k] = norm.params[k] - rate * gk
