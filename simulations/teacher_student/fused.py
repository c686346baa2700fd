"""Fused per-step kernels of the preconditioned teacher-student solver (NumPy + numba only).

:func:`simulations.teacher_student.sgd.train_students` writes each SGD step as array-API
expressions, which run on any backend but make about a dozen passes over the ``(K, N)``
parameters and some thirty small array calls per step; on a CPU that work, not the two
matrix products, dominates. For NumPy arrays and when numba is installed the same step is
done by two compiled kernels: one for the batch statistics and the backward pass on the
``(M, K)`` outputs, one that updates a column block of ``u`` in a single pass and returns its
part of the norms the next step needs. The matrix products stay with BLAS. Same
mathematics, same order of random draws: the results agree with the array-API path to
rounding (tested).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BLOCK", "ColumnSettings", "LoopSettings", "available", "kernels", "precond_loop"]

#: The rows of :meth:`ColumnSettings.stacked`, the per-column settings the batch kernel reads.
COLUMN_ROWS = ("lr", "center", "is_std", "is_rms", "is_none", "decay")


@dataclass(frozen=True)
class ColumnSettings:
    """The per-student (column) settings of a fused loop, each a NumPy array of shape (K,).

    Attributes
    ----------
    lr : ndarray
        Step size before annealing.
    center : ndarray
        1 where the student subtracts the batch mean, else 0.
    is_std, is_rms, is_none : ndarray
        One-hot of the scale: batch std, batch root mean square, or none (``||w||``).
    decay : ndarray
        Explicit gamma decay ``zeta_loss``.
    """

    lr: np.ndarray
    center: np.ndarray
    is_std: np.ndarray
    is_rms: np.ndarray
    is_none: np.ndarray
    decay: np.ndarray

    def stacked(self) -> np.ndarray:
        """The settings as one C-contiguous float64 array ``(6, K)``, rows :data:`COLUMN_ROWS`."""
        return np.ascontiguousarray(
            np.stack([np.asarray(getattr(self, k), dtype=np.float64) for k in COLUMN_ROWS])
        )


@dataclass(frozen=True)
class LoopSettings:
    """The schedule and the coordinates of a fused preconditioned loop.

    Attributes
    ----------
    M : int
        Batch size.
    epochs : int
        Passes over the data (``floor(P/M)`` steps each).
    start_avg, mid_avg : int
        Steps at which the averaging window and its second half start.
    anneal : bool
        Decay the step linearly to 0 over the averaging window.
    D, lam, mvec : ndarray, shape (N,)
        Diagonal preconditioner, ``diag(X^T X)/P`` and the training mean of the inputs.
    flat : ndarray, shape (N,), optional
        The centred columns' flat direction (``None``: none).
    """

    M: int
    epochs: int
    start_avg: int
    mid_avg: int
    anneal: bool
    D: np.ndarray
    lam: np.ndarray
    mvec: np.ndarray
    flat: Any = None


@functools.cache
def kernels():
    """The compiled kernels, or ``None`` if numba is not installed."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; the array-API path runs
        return None

    @numba.njit(cache=True)
    def batch(HT, yb, stats, f, cols, dHT, coef, wacc):
        """Forward/backward on a batch, ``HT = U X_B^T`` (K, M), from ``stats`` (K, 4) of
        ``u`` and the column settings ``cols`` (6, K) of :meth:`ColumnSettings.stacked`, the
        step scaled by the annealing factor ``f``; writes the step-scaled ``dHT`` (K, M),
        ``coef`` (K, 3) = a, b, m_k of the update and ``wacc`` (K,), the factor of the
        population predictor ``v = wacc u``."""
        lr, center, is_std, is_rms, is_none, decay = (
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
        )
        K, M = HT.shape
        gamma = np.empty(K)
        nu = np.empty(K)
        mt = np.empty(K)
        lr_t = np.empty(K)
        for k in range(K):
            n2, q, mt[k], dt = stats[k, 0], stats[k, 1], stats[k, 2], stats[k, 3]
            # variance and ||Qu||^2 clipped at 0 where rounding makes them negative
            sig2 = is_std[k] * max(q - mt[k] ** 2, 0.0) + is_rms[k] * q
            gamma[k] = math.sqrt(sig2 + is_none[k] * n2)
            nu[k] = math.sqrt(n2)
            lr_t[k] = f * lr[k]
            nq2 = max(n2 - center[k] * dt**2, 0.0)  # flat direction removed (centred columns)
            # v = sigma_T(Qu) Qu/||Qu|| = wacc Qu: 1 without a scale (sigma_T = ||.||); where
            # Qu = 0 the student's centred output is constant and v = 0 for any factor
            if is_none[k] > 0.0:
                wacc[k] = 1.0
            elif nq2 > 0.0:
                wacc[k] = math.sqrt(sig2) / math.sqrt(nq2)
            else:
                wacc[k] = 0.0
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
                c = h - center[k] * mu
                r = gamma[k] * c / s - yb[i]
                rh += r * c / s
                g = (2.0 / M) * gamma[k] * r
                g_mean += g
                gc += g * c
            g_mean /= M
            dgamma = 2.0 * rh / M + 2.0 * decay[k] * gamma[k]
            cc = 0.0
            scale = lr_t[k] * inv
            for i in range(M):
                h = HT[k, i] * inv
                c = h - center[k] * mu
                g = (2.0 / M) * gamma[k] * (gamma[k] * c / s - yb[i])
                dh = (g - center[k] * g_mean) / s
                dh -= (is_std[k] * (h - mu) + is_rms[k] * h) * gc / (M * s**3)
                cc += h * dh
                dHT[k, i] = dh * scale
            dg = lr_t[k] * dgamma
            coef[k, 0] = is_none[k] * dg * inv - lr_t[k] * cc * inv * inv
            coef[k, 1] = (is_std[k] + is_rms[k]) * dg / gamma[k]
            coef[k, 2] = -is_std[k] * dg * mt[k] / gamma[k]

    # reassociation lets LLVM vectorize the four running sums (no NaN/inf assumptions)
    @numba.njit(cache=True, fastmath={"reassoc", "contract", "nsz"})
    def update(U, G, V, coef, acc, wacc, stats, averaging):
        """One column block: ``u <- u (1 - a D - b lam D) - G D - m_k D m`` in one pass, with
        ``V`` (5, B) = ``D, lam, m, D m, d`` on the block; if ``averaging``, adds
        ``wacc_k u`` (the iterate before the step) to ``acc``; adds the block's part of the
        new ``||u||^2, u^T diag(lam) u, m^T u, d^T u`` to ``stats`` (K, 4)."""
        K, B = U.shape
        D = V[0]
        lam = V[1]
        mvec = V[2]
        Dm = V[3]
        flat = V[4]
        for k in range(K):
            a = coef[k, 0]
            b = coef[k, 1]
            mk = coef[k, 2]
            n2 = 0.0
            q = 0.0
            mt = 0.0
            dt = 0.0
            # two copies of the loop: outside the averaging window there is no accumulator
            # to touch (acc is a placeholder), and a branch inside would stop vectorization
            if averaging:
                w = wacc[k]
                for j in range(B):
                    u0 = U[k, j]
                    acc[k, j] += w * u0
                    u = u0 * (1.0 - a * D[j] - b * lam[j] * D[j]) - G[k, j] * D[j] - mk * Dm[j]
                    U[k, j] = u
                    n2 += u * u
                    q += lam[j] * u * u
                    mt += mvec[j] * u
                    dt += flat[j] * u
            else:
                for j in range(B):
                    u = U[k, j] * (1.0 - a * D[j] - b * lam[j] * D[j]) - G[k, j] * D[j] - mk * Dm[j]
                    U[k, j] = u
                    n2 += u * u
                    q += lam[j] * u * u
                    mt += mvec[j] * u
                    dt += flat[j] * u
            stats[k, 0] += n2
            stats[k, 1] += q
            stats[k, 2] += mt
            stats[k, 3] += dt

    return batch, update


def available() -> bool:
    return kernels() is not None


#: Column block width of the update: the gradient of a block, ``(K, BLOCK)``, is computed
#: just before its update and stays in cache (the whole ``(K, N)`` gradient does not: at
#: ``N = 4096``, K = 20 the step was ~20% slower with it).
BLOCK = 512


def precond_loop(
    X: np.ndarray,
    y: np.ndarray,
    U: np.ndarray,
    stats: np.ndarray,
    *,
    columns: ColumnSettings,
    loop: LoopSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    """The preconditioned training loop of ``train_students`` with fused kernels.

    All arrays NumPy float64: ``X`` (P, N), ``y`` (P,); ``U`` (K, N); ``stats`` (K, 4), the
    columns' ``||u||^2, u^T diag(lam) u, m^T u, d^T u`` (0 without ``loop.flat``). ``rng``
    shuffles the samples each epoch. Returns ``(U, v_sum, n_avg)``, ``v_sum`` the two
    half-window sums of the population predictor (before the flat direction is removed).

    The parameters are held as column blocks (contiguous ``(K, B)`` arrays, ``B`` about
    :data:`BLOCK`): per step and block, the gradient product, the update and the next
    step's outputs (summed over blocks), so that the block is read once per step.
    """
    batch, update = kernels()
    M, epochs, start_avg, mid_avg, anneal = (
        loop.M, loop.epochs, loop.start_avg, loop.mid_avg, loop.anneal
    )  # fmt: skip
    D, lam, mvec = loop.D, loop.lam, loop.mvec
    cols_k = columns.stacked()
    P, N = X.shape
    K = U.shape[0]
    flatv = np.zeros(N) if loop.flat is None else np.asarray(loop.flat, dtype=np.float64)
    stats = np.array(stats, dtype=np.float64, order="C")  # next step's norms, updated in place
    edges = np.linspace(0, N, max(1, round(N / BLOCK)) + 1).astype(int)
    cols = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    V = np.stack([D, lam, mvec, D * mvec, flatv])  # (5, N)
    Vb = [np.ascontiguousarray(V[:, c]) for c in cols]
    Ub = [np.ascontiguousarray(U[:, c]) for c in cols]
    acc = [[np.zeros_like(u) for u in Ub] for _ in range(2)]  # the two half-windows
    n_avg = [0, 0]
    width = max(c.stop - c.start for c in cols)
    gbuf = np.empty(K * width)
    Gb = [gbuf[: K * (c.stop - c.start)].reshape(K, -1) for c in cols]  # one buffer, in cache
    dHT = np.empty((K, M))
    coef = np.empty((K, 3))
    wacc = np.empty(K)
    HT = np.empty((K, M))
    HTq = np.empty((K, M))
    n_batches = P // M
    total = epochs * n_batches

    def batches():
        for _ in range(epochs):
            perm = rng.permutation(P)  # drawn when the epoch's first batch is asked for
            for j in range(n_batches):
                idx = perm[j * M : (j + 1) * M]
                yield X.take(idx, axis=0), y.take(idx)  # (take with out= is 2x slower)

    def block_outputs(q, Xb):  # block q's part of HT = U Xb^T (block 0 starts the sum)
        np.matmul(Ub[q], Xb[:, cols[q]].T, out=HTq if q else HT)
        if q:
            np.add(HT, HTq, out=HT)

    # Each step's outputs are computed block by block right after the previous step updates
    # that block (one pass over u per step); the batch is fetched one step ahead.
    it = batches()
    Xb, yb = next(it)
    for q in range(len(cols)):
        block_outputs(q, Xb)
    for step in range(total):
        f = 1.0 if (step < start_avg or not anneal) else (total - step) / (total - start_avg)
        batch(HT, yb, stats, f, cols_k, dHT, coef, wacc)
        averaging = step >= start_avg
        half = int(step >= mid_avg)
        n_avg[half] += averaging
        ahead = step + 1 < total  # no draw beyond the last step: rng ends where it would
        if ahead:
            Xn, yn = next(it)
        stats[:] = 0.0
        for q, c in enumerate(cols):
            np.matmul(dHT, Xb[:, c], out=Gb[q])
            a = acc[half][q] if averaging else Ub[q]  # (not touched unless averaging)
            update(Ub[q], Gb[q], Vb[q], coef, a, wacc, stats, averaging)
            if ahead:
                block_outputs(q, Xn)
        if ahead:
            Xb, yb = Xn, yn
    for q, c in enumerate(cols):
        U[:, c] = Ub[q]
    v_sum = [np.concatenate(a, axis=1) for a in acc]
    return U, v_sum, n_avg
