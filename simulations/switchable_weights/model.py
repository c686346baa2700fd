"""The model of the switchable-weights experiment: synthetic images, a teacher, an SN student.

Images ``x[n, c, i, j] = a_n b_{n,c} xi_{n,c,i,j} + o_{n,c}`` with per-image contrast
``a_n``, per-image-and-channel contrast ``b`` and brightness ``o`` (so IN and LN have
something to remove) and pixel noise ``xi`` either Gaussian (excess kurtosis 0) or Student-t
with 5 degrees of freedom (excess kurtosis 6: heavy tails, C16). The teacher is a
one-hidden-layer network of 1x1 convolutions with global average pooling,
``y = sum_k s_k mean_ij ReLU(t_k . x_ij) / scale`` (label noise is added by the protocol).

Backends: the draws take a NumPy generator (the host) or a generator of any backend
(:func:`regnorm.backend.random_generator`), and the images, the teacher and the student live
on that backend's device. NumPy and array-api-strict draw NumPy's own numbers (Student-t
noise included, drawn by NumPy's ``standard_t`` and moved to the device); CuPy draws the
Student-t noise as ``Z / sqrt(chi2_5 / 5)`` from its own normal and chi-square draws (the
same law, another stream).
"""

from __future__ import annotations

import math

import numpy as np

from regnorm.backend import ArrayGenerator, array_namespace, random_generator, resolve_backend
from regnorm.validation import check_choice, check_integer

__all__ = ["IN_CHANNELS", "INPUT_NOISE", "TEACHER_HIDDEN", "ImageTeacher", "SNConvStudent",
           "contract_channels", "sample_images"]  # fmt: skip

#: Pixel laws and the excess kurtosis of their noise ``xi``. "gaussian_no_contrast" has no
#: per-image contrast or brightness (a = b = 1, o = 0): its pixels are exactly N(0, 1), so
#: BN's per-channel inputs have kurtosis ~0; with contrast, the scale mixture makes them
#: heavy-tailed even for Gaussian ``xi``.
INPUT_NOISE = {"gaussian": 0.0, "student_t5": 6.0, "gaussian_no_contrast": 0.0}

IN_CHANNELS = 3
TEACHER_HIDDEN = 4


def _generator(rng) -> ArrayGenerator:
    """``rng`` as a generator of its backend: a NumPy seed or Generator draws on the host."""
    return rng if isinstance(rng, ArrayGenerator) else random_generator(None, rng)


def contract_channels(W, x):
    """``u[n, o, i, j] = sum_c W[o, c] x[n, c, i, j]``: a 1x1 convolution of images ``x``.

    NumPy keeps its einsum (its rounding is NumPy's recorded numbers); other backends make
    the batched matrix product on their device.
    """
    if isinstance(x, np.ndarray):
        return np.einsum("oc,nchw->nohw", W, x)
    xp = array_namespace(x)
    n, c, hh, ww = x.shape
    u = xp.matmul(W, xp.reshape(x, (n, c, hh * ww)))
    return xp.reshape(u, (n, W.shape[0], hh, ww))


def sample_images(n, size, noise, rng):
    """``n`` synthetic images ``(n, 3, size, size)`` (see the module docstring), on the
    backend of ``rng`` (a NumPy seed or Generator: NumPy arrays; a
    :class:`regnorm.backend.ArrayGenerator`: arrays on its device)."""
    check_choice("noise", noise, INPUT_NOISE)
    g = _generator(rng)
    xp = g.backend.xp
    shape = (n, IN_CHANNELS, size, size)
    if noise == "student_t5":  # unit-variance Student-t, 5 d.o.f. (variance 5/3)
        if g.numpy is not None:  # NumPy's own Student-t numbers, moved to the device
            t5 = g.backend.asarray(g.numpy.standard_t(5, shape))
        else:
            t5 = g.standard_normal(shape) / xp.sqrt(g.chisquare(5, shape) / 5)
        xi = t5 / math.sqrt(5 / 3)
    else:
        xi = g.standard_normal(shape)
    if noise == "gaussian_no_contrast":
        return xi
    a = xp.exp(0.5 * g.standard_normal((n, 1, 1, 1)))
    b = xp.exp(0.3 * g.standard_normal((n, IN_CHANNELS, 1, 1)))
    o = 0.5 * g.standard_normal((n, IN_CHANNELS, 1, 1))
    return a * b * xi + o


class ImageTeacher:
    """``y = sum_k s_k mean_ij ReLU(t_k . x_ij) / scale``: unit directions ``t_k``, signs
    ``s_k = +-1`` alternating; ``scale`` is set by the caller (1 until then)."""

    def __init__(self, rng):
        g = _generator(rng)
        xp = g.backend.xp
        t = g.standard_normal((TEACHER_HIDDEN, IN_CHANNELS))
        # sqrt of the sum of squares: the reduction numpy.linalg.norm makes on NumPy
        self.t = t / xp.sqrt(xp.sum(t * t, axis=1, keepdims=True))
        self.s = g.backend.asarray(np.where(np.arange(TEACHER_HIDDEN) % 2 == 0, 1.0, -1.0))
        self.scale = 1.0

    def clean(self, x):
        """The noiseless labels of images ``x`` ``(n, 3, H, W)`` (on the teacher's backend)."""
        xp = array_namespace(x)
        h = xp.mean(xp.maximum(contract_channels(self.t, x), 0.0), axis=(2, 3))
        return xp.matmul(h, self.s) / self.scale


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
    rng : numpy Generator or regnorm.backend.ArrayGenerator
        He initialisation of the 1x1 convolutions, ``v ~ N(0, 1/C)``, drawn on ``backend``
        (:func:`regnorm.backend.random_generator` of ``rng``).
    backend : spec or Backend, optional
        Where the parameters live (default NumPy).
    """

    def __init__(self, channels, rng, backend=None):
        from regnorm.normalizers import SwitchableNorm

        backend = resolve_backend(backend)
        self.xp = xp = backend.xp
        C = check_integer("channels", channels, minimum=1)
        g = random_generator(backend, rng)
        w1 = g.standard_normal((C, IN_CHANNELS)) * math.sqrt(2 / IN_CHANNELS)
        w2 = g.standard_normal((C, C)) * math.sqrt(2 / C)
        v = g.standard_normal(C) / math.sqrt(C)
        self.params = {"W1": w1, "W2": w2, "v": v}
        self.params["c"] = xp.zeros(1, dtype=xp.float64, device=backend.device)
        self.norms = [SwitchableNorm(C, xp=backend), SwitchableNorm(C, xp=backend)]
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
