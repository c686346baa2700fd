"""Fused per-step kernels of the preconditioned teacher-student solver (NumPy + numba only).

:func:`simulations.teacher_student.train_students` writes each SGD step as array-API
expressions, which run on any backend but make about a dozen passes over the ``(K, N)``
parameters and some thirty small array calls per step; on a CPU that work, not the two
matrix products, dominates. For NumPy arrays and when numba is installed the same step is
done by two compiled kernels: one for the batch statistics and the backward pass on the
``(M, K)`` outputs, one that updates ``u`` in a single pass over ``(K, N)`` and returns the
norms the next step needs. The two matrix products stay with BLAS. Same mathematics, same
order of random draws: the results agree with the array-API path to rounding (tested).
"""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.cache
def kernels():
    """The compiled kernels, or ``None`` if numba is not installed."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; the array-API path runs
        return None

    @numba.njit(cache=True)
    def batch(HT, yb, stats, f, lr, centre, is_std, is_rms, is_none, decay, dHT, coef, wacc):
        """Forward/backward on a batch, ``HT = U X_B^T`` (K, M), from ``stats`` (K, 4) of
        ``u``; writes the step-scaled ``dHT`` (K, M), ``coef`` (K, 3) = a, b, m_k of the
        update and ``wacc`` (K,), the factor of the population predictor ``v = wacc u``."""
        K, M = HT.shape
        gamma = np.empty(K)
        nu = np.empty(K)
        mt = np.empty(K)
        sl = np.empty(K)
        for k in range(K):
            n2, q, mt[k], dt = stats[k, 0], stats[k, 1], stats[k, 2], stats[k, 3]
            sig2 = is_std[k] * (q - mt[k] ** 2) + is_rms[k] * q
            gamma[k] = math.sqrt(sig2 + is_none[k] * n2)
            nu[k] = math.sqrt(n2)
            sl[k] = f * lr[k]
            nq2 = n2 - centre[k] * dt**2  # flat direction removed (centred columns)
            wacc[k] = math.sqrt(sig2 + is_none[k] * nq2) / math.sqrt(nq2)
        for k in range(K):
            inv = 1.0 / nu[k]
            mu = 0.0
            for i in range(M):
                mu += HT[k, i] * inv
            mu /= M
            var = 0.0
            ms = 0.0
            for i in range(M):
                h = HT[k, i] * inv
                var += (h - mu) ** 2
                ms += h * h
            var /= M
            ms /= M
            s = is_std[k] * math.sqrt(var) + is_rms[k] * math.sqrt(ms) + is_none[k]
            g_mean = 0.0
            gc = 0.0
            rh = 0.0
            for i in range(M):
                h = HT[k, i] * inv
                c = h - centre[k] * mu
                r = gamma[k] * c / s - yb[i]
                rh += r * c / s
                g = (2.0 / M) * gamma[k] * r
                g_mean += g
                gc += g * c
            g_mean /= M
            dgamma = 2.0 * rh / M + 2.0 * decay[k] * gamma[k]
            cc = 0.0
            scale = sl[k] * inv
            for i in range(M):
                h = HT[k, i] * inv
                c = h - centre[k] * mu
                g = (2.0 / M) * gamma[k] * (gamma[k] * c / s - yb[i])
                dh = (g - centre[k] * g_mean) / s
                dh -= (is_std[k] * (h - mu) + is_rms[k] * h) * gc / (M * s**3)
                cc += h * dh
                dHT[k, i] = dh * scale
            dg = sl[k] * dgamma
            coef[k, 0] = is_none[k] * dg * inv - sl[k] * cc * inv * inv
            coef[k, 1] = (is_std[k] + is_rms[k]) * dg / gamma[k]
            coef[k, 2] = -is_std[k] * dg * mt[k] / gamma[k]

    # reassociation lets LLVM vectorize the four running sums (no NaN/inf assumptions)
    @numba.njit(cache=True, fastmath={"reassoc", "contract", "nsz"})
    def update(U, G, D, lam, mvec, Dm, flat, coef, acc, wacc, stats):
        """``u <- u (1 - a D - b lam D) - G D - m_k D m`` in one pass; adds ``wacc_k u`` (the
        iterate before the step) to ``acc`` if ``wacc`` is non-empty; writes the new
        ``||u||^2, u^T diag(lam) u, m^T u, d^T u`` to ``stats`` (K, 4)."""
        K, N = U.shape
        averaging = wacc.shape[0] > 0
        for k in range(K):
            a = coef[k, 0]
            b = coef[k, 1]
            mk = coef[k, 2]
            n2 = 0.0
            q = 0.0
            mt = 0.0
            dt = 0.0
            if averaging:  # a separate loop over the row (in cache): keeps both vectorized
                w = wacc[k]
                for j in range(N):
                    acc[k, j] += w * U[k, j]
            for j in range(N):
                u = U[k, j] * (1.0 - a * D[j] - b * lam[j] * D[j]) - G[k, j] * D[j] - mk * Dm[j]
                U[k, j] = u
                n2 += u * u
                q += lam[j] * u * u
                mt += mvec[j] * u
                dt += flat[j] * u
            stats[k, 0] = n2
            stats[k, 1] = q
            stats[k, 2] = mt
            stats[k, 3] = dt

    return batch, update


def available() -> bool:
    return kernels() is not None


def precond_loop(
    X, y, U, *, M, epochs, rng, D, lam, mvec, flat, centre, is_std, is_rms, is_none, decay, lr_c,
    start_avg, mid_avg, total, anneal,
):  # fmt: skip
    """The preconditioned training loop of ``train_students`` with fused kernels.

    All arrays NumPy float64: ``X`` (P, N); ``U`` (K, N), updated in place; ``D``, ``lam``
    (``diag(X^T X)/P``), ``mvec`` (training mean), ``flat`` (N,); per-column arrays (K,).
    Returns ``(U, v_sum, n_avg)``, ``v_sum`` the two half-window sums of the population
    predictor (before the flat direction is removed).
    """
    batch, update = kernels()
    P, N = X.shape
    K = U.shape[0]
    Dm = D * mvec
    flatv = np.zeros(N) if flat is None else np.ascontiguousarray(flat, dtype=np.float64)
    uu = U * U
    stats = np.stack([uu.sum(axis=1), uu @ lam, U @ mvec, U @ flatv], axis=1)  # (K, 4)
    v_sum = [np.zeros_like(U), np.zeros_like(U)]
    n_avg = [0, 0]
    dHT = np.empty((K, M))
    coef = np.empty((K, 3))
    wacc = np.empty(K)
    none = np.empty(0)
    # buffers for the products: no allocation per step
    HT = np.empty((K, M))
    G = np.empty((K, N))
    n_batches = P // M
    step = 0
    for _ in range(epochs):
        perm = rng.permutation(P)
        for j in range(n_batches):
            idx = perm[j * M : (j + 1) * M]
            Xb = X.take(idx, axis=0)  # (take with out= is 2x slower)
            yb = y.take(idx)
            f = 1.0 if (step < start_avg or not anneal) else (total - step) / (total - start_avg)
            np.matmul(U, Xb.T, out=HT)
            batch(HT, yb, stats, f, lr_c, centre, is_std, is_rms, is_none, decay, dHT, coef, wacc)
            np.matmul(dHT, Xb, out=G)
            if step >= start_avg:
                half = int(step >= mid_avg)
                update(U, G, D, lam, mvec, Dm, flatv, coef, v_sum[half], wacc, stats)
                n_avg[half] += 1
            else:
                update(U, G, D, lam, mvec, Dm, flatv, coef, U, none, stats)
            step += 1
    return U, v_sum, n_avg
