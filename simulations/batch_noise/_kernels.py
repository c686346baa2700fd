"""The kernels of the batch-noise estimators: ``kernel(generator, n, *args) -> power sums``.

A kernel draws ``n`` batches from its block's generator and returns their power sums
(:func:`simulations.batch_noise.engine.power_sums`). On the NumPy path the generator is a
``numpy.random.Generator`` and the arrays are NumPy's; on a device backend it is a
:class:`regnorm.backend.ArrayGenerator` and every array lives on its device. The full-batch
kernels are written once for both (the namespace is the arrays'; on NumPy the calls are
NumPy's own, so its numbers are those of the NumPy-only code); the two-draw Gaussian kernel of
C1 keeps a NumPy form with in-place updates (the hot loop of the C1 checks) beside its
array-API form.
"""

from __future__ import annotations

import math

import numpy as np

from regnorm.backend import array_namespace, device_of
from regnorm.gamma_decay import glm_log_partition

from .engine import power_sums
from .input_distributions import input_distribution

__all__: list[str] = []


def _standardized_sample(g, key, shape):
    dist = input_distribution(key[0], df=key[1])
    return (dist.sample(g, shape) - dist.mean) / dist.std


# ---------------------------------------------------------------------------------------------
# C1


def per_batch_error(mu, S, M, ddof, inside):
    """The C1 error of one batch from its mean ``mu`` and scatter ``S`` (any namespace)."""
    xp = array_namespace(S)
    if inside:
        return (math.sqrt(M - ddof) - xp.sqrt(S)) ** 2 / M + mu * mu
    inv_s2 = (M - ddof) / S
    return (xp.sqrt(inv_s2) - 1.0) ** 2 + mu * mu * inv_s2


def gaussian_c1(g, n, M, ddof, inside):
    # The hot loop of C1: the formulas of per_batch_error computed in place with as few
    # passes over memory as possible; constant factors are applied to the sums, not to each
    # element. (No shift is needed: the error's mean and spread are of the same order.)
    Z2 = g.standard_normal(n)  # sqrt(M) mu_B
    Z2 *= Z2
    G = g.standard_gamma((M - 1) / 2.0, n)  # S/2, S ~ chi2(M-1)
    if inside:  # e = (sqrt(M - d) - sqrt(S))^2 / M + mu_B^2 = (2/M) [(sqrt(G) - c)^2 + Z^2/2]
        np.sqrt(G, out=G)
        G -= math.sqrt((M - ddof) / 2.0)
        G *= G
        Z2 *= 0.5
        G += Z2
        f = 2.0 / M
    else:  # e = (1/s - 1)^2 + mu_B^2 / s^2 with 1/s^2 = (M - d)/(2G)
        np.divide((M - ddof) / 2.0, G, out=G)
        Z2 *= G
        Z2 *= 1.0 / M
        np.sqrt(G, out=G)
        G -= 1.0
        G *= G
        G += Z2
        f = 1.0
    return np.array([float(n), f * G.sum(), f * f * float(np.dot(G, G))])


def gaussian_c1_device(g, n, M, ddof, inside):
    # gaussian_c1 on a device: the same draws in the same order and the same elementwise
    # operations (so NumPy's numbers on the host backends), sums on the device.
    xp = g.backend.xp
    Z = g.standard_normal(n)
    Z2 = Z * Z
    G = g.standard_gamma((M - 1) / 2.0, n)
    if inside:
        D = xp.sqrt(G) - math.sqrt((M - ddof) / 2.0)
        E = D * D + Z2 * 0.5
        f = 2.0 / M
    else:
        inv = (M - ddof) / 2.0 / G
        D = xp.sqrt(inv) - 1.0
        E = D * D + Z2 * inv * (1.0 / M)
        f = 1.0
    count = xp.asarray(float(n), dtype=E.dtype, device=device_of(E))
    return xp.stack([count, f * xp.sum(E), f * f * xp.sum(E * E)])


def full_c1(g, n, M, ddof, inside, key):
    z = _standardized_sample(g, key, (n, M))
    xp = array_namespace(z)
    mu = xp.mean(z, axis=1)
    S = xp.sum((z - mu[:, None]) ** 2, axis=1)
    e = per_batch_error(mu, S, M, ddof, inside)
    return power_sums(e - 1.5 / M, 2)


# ---------------------------------------------------------------------------------------------
# C2


def batch_statistics(g, n, M, key, shift_var, shift_std):
    z = _standardized_sample(g, key, (n, M))
    xp = array_namespace(z)
    dist = input_distribution(key[0], df=key[1])
    h = dist.mean + dist.std * z  # back to the natural scale: C2 carries sigma_P
    mu = xp.mean(h, axis=1)
    sb = xp.sqrt(xp.mean((h - mu[:, None]) ** 2, axis=1))
    a = power_sums((mu - dist.mean) ** 2 - shift_var, 4)
    b = power_sums(sb - shift_std, 4)
    return xp.stack([a, b])


# ---------------------------------------------------------------------------------------------
# C3


def conditional_error(g, n, M, ddof, inside, key, zs):
    k = M - 1 if inside else M  # the other batch members
    if key[0] == "gaussian":  # their mean and scatter: two draws per batch
        m_o = g.standard_normal(n) / math.sqrt(k)
        xp = array_namespace(m_o)
        if k > 1:
            S_o = 2.0 * g.standard_gamma((k - 1) / 2.0, n)
        else:
            S_o = xp.zeros(n, dtype=m_o.dtype, device=device_of(m_o))
    else:
        others = _standardized_sample(g, key, (n, k))
        xp = array_namespace(others)
        m_o = xp.mean(others, axis=1)
        S_o = xp.sum((others - m_o[:, None]) ** 2, axis=1)
    rows = []
    for z in zs:
        if inside:
            mu = (k * m_o + z) / M
            S = S_o + k / M * (z - m_o) ** 2
        else:
            mu, S = m_o, S_o
        s = xp.sqrt(S / (M - ddof))
        e = ((z - mu) / s - z) ** 2
        rows.append(power_sums(e - 0.0, 2))
    return xp.stack(rows)


# ---------------------------------------------------------------------------------------------
# C4


def loss_gap(g, n, M, key, gammas, beta, loss, center):
    z = _standardized_sample(g, key, (n, M))
    xp = array_namespace(z)
    mu = xp.mean(z, axis=1, keepdims=True)
    s = xp.sqrt(xp.mean((z - mu) ** 2, axis=1, keepdims=True))
    u = (z - mu) / s if center else z / s
    rows = []
    for gamma in gammas:
        h_hat = gamma * u + beta
        h_bar = gamma * z + beta
        # Bregman divergence of A: the loss gap once y is integrated out (E[y|h] = A'(h_bar))
        gap = (
            glm_log_partition(h_hat, loss)
            - glm_log_partition(h_bar, loss)
            - glm_log_partition(h_bar, loss, order=1) * (h_hat - h_bar)
        )
        rows.append(power_sums(xp.mean(gap, axis=1), 2))
    return xp.stack(rows)
