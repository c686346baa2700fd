"""Independent references the normalizer-family checks compare the layers against (C19, C20).

Each computes a layer's quantity from its definition, by another route than the layer's code:
adaptive quadrature for Proxy Norm's Gaussian moments, window by window for KernelNorm.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kernel_norm_reference", "relu_moments_by_quadrature"]


def relu_moments_by_quadrature(gamma: float, beta: float) -> tuple[float, float]:
    """Mean and variance of ``relu(gamma z + beta)``, ``z ~ N(0, 1)``, by adaptive quadrature.

    The integrand's kink at ``z = -beta/gamma`` is a break point of the quadrature; the
    tolerances (``epsabs`` 1e-14, ``epsrel`` 1e-13) are far below the checks' 1e-9.
    """
    from scipy import integrate, stats

    def moment(k):
        return integrate.quad(
            lambda z: max(gamma * z + beta, 0.0) ** k * stats.norm.pdf(z),
            -40,
            40,
            points=[-beta / gamma],
            epsabs=1e-14,
            epsrel=1e-13,
            limit=200,
        )[0]

    m = moment(1)
    return m, moment(2) - m * m


def kernel_norm_reference(x, k: int, s: int, p: int, q: float, rng, eps: float) -> np.ndarray:
    """KernelNorm in training computed window by window, independently of the layer's code.

    Each ``C x k x k`` window ``U`` of the zero-padded input is normalized by the mean and
    biased variance of its dropped-out copy ``U * keep / (1 - q)``, with ``keep`` drawn as
    ``rng.random((N, C, k, k, OH, OW)) >= q`` (the draw KernelNorm makes, so the masks are
    the same); the normalized windows are tiled into the ``(N, C, k OH, k OW)`` output.
    """
    xpad = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, hh, ww = xpad.shape
    oh, ow = (hh - k) // s + 1, (ww - k) // s + 1
    keep = np.random.default_rng(rng).random((n, c, k, k, oh, ow)) >= q
    out = np.empty((n, c, k * oh, k * ow))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                u = xpad[b, :, i * s : i * s + k, j * s : j * s + k]
                d = u * keep[b, :, :, :, i, j] / (1.0 - q)
                out[b, :, i * k : (i + 1) * k, j * k : (j + 1) * k] = (u - d.mean()) / np.sqrt(
                    d.var() + eps
                )
    return out
