"""Normalized linear students trained by minibatch SGD (the BN students of C8).

All K students of a call (variants x step sizes x initializations) share each minibatch, so
that a step costs one matrix-matrix product, and R data sets stack along a leading batch
axis:

=======================  =====================================  ======================
variant                  output ``phi(x)`` on a batch B          theory (loss scale)
=======================  =====================================  ======================
``batch_norm``           ``gamma (h - mu_B)/sigma_B``            ``3/(2M)`` (C4)
``batch_norm_rms``       ``gamma h / sqrt(mean_B h^2)``          ``1/(2M)`` (C4)
``batch_norm_mean``      ``gamma (h - mu_B)/||w||``              ``1/M`` (mu_B term)
``batch_norm_variance``  ``gamma h / sigma_B`` (no mean removed)  ``1/(2M)`` (sigma_B)
``weight_norm``          ``gamma h / ||w||`` + ``zeta_loss gamma^2``  explicit decay
=======================  =====================================  ======================

with ``h = w^T x`` and ``sigma_B`` the biased (ddof=0) batch std. The loss is the batch
mean ``(1/M) sum (phi - y)^2`` (+ ``zeta_loss gamma^2`` for ``weight_norm``). A loss-scale
coefficient maps to the ridge scale as ``zeta = alpha zeta_loss``. ``batch_norm_rms`` is
batch norm without centering (it divides by the batch root mean square, not the std).

The array code uses only the array-API namespace of its inputs and keeps its state on their
device (the minibatch permutations are drawn there too); for NumPy arrays the
preconditioned steps run in the compiled kernels of :mod:`.fused`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from regnorm.backend import array_namespace, random_generator
from regnorm.validation import check_choice, check_integer, check_real

from . import fused as _kernels
from .data import TeacherData, backend_of

__all__ = ["DEGENERATE_START_RTOL", "VARIANTS", "train_students"]

#: variant -> (center: subtract mu_B, scale): scale "std" = batch std, "rms" = sqrt(mean h^2),
#: "none" = ||w|| (kept at 1).
VARIANTS: dict[str, tuple[bool, str]] = {
    "batch_norm": (True, "std"),
    "batch_norm_rms": (False, "rms"),
    "batch_norm_mean": (True, "none"),
    "batch_norm_variance": (False, "std"),
    "weight_norm": (False, "none"),
}


def train_students(
    data: TeacherData,
    variants: Sequence[str],
    *,
    M: int,
    v0: Any,
    lr: Any,
    epochs: int,
    zeta_loss: Any = 0.0,
    rng: Any = None,
    average_from: float = 0.5,
    anneal: bool = True,
    precond: Any = None,
    flat: Any = None,
    fused: bool | None = None,
) -> dict[str, Any]:
    """Train K normalized students on each data set by minibatch SGD.

    Two update rules (the same forward/backward pass): without ``precond``, Riemannian SGD
    on the sphere ``||w|| = 1`` plus a step on ``gamma``; with ``precond``, preconditioned
    SGD ``u <- u - lr D grad_u L_B`` on ``u = gamma w / sigma_T(w)``, the predictor under
    training-set statistics (the student's output is a function of ``u`` alone, so ``u`` is a
    valid parametrization of every variant, and in it the batch loss is close to least
    squares). Both have the same ``lr -> 0`` limit: the zero of the batch-averaged gradient
    (``D`` is positive definite).

    All K students (columns) see the same minibatches, so each step is two matrix products
    ``X_B W`` and ``X_B^T dH`` of shapes ``(..., M, N) x (..., N, K)``. The per-column
    forward/backward pass handles every variant of :data:`VARIANTS` with masks, e.g. for
    ``batch_norm``: ``dL/dh = (g - mean_B g - h_hat mean_B(g h_hat))/sigma_B`` with
    ``g = 2 gamma (phi - y)/M``.

    Parameters
    ----------
    data : TeacherData
        ``X`` of shape ``(..., P, N)`` (leading axis = independent data sets).
    variants : sequence of str, length K
        Keys of :data:`VARIANTS`, one per column.
    M : int
        Batch size, ``2 <= M <= P``.
    v0 : array, shape (..., N, K)
        Initial linear predictors (on the data's backend, or NumPy: moved there once);
        ``w0 = v0/||v0||``, ``gamma0 = ||v0||`` (put ``v0`` in the span of the data, e.g. a
        ridge solution).
    lr : float or array_like, shape (K,)
        Step size per column.
    epochs : int
        Passes over the data (``floor(P/M)`` steps each).
    zeta_loss : float or array_like, shape (K,)
        Explicit gamma decay ``zeta_loss gamma^2`` added to the batch loss (for
        ``weight_norm``).
    rng : seed, numpy.random.Generator or regnorm.backend.ArrayGenerator, optional
        Shuffling randomness, turned into a generator of the data's backend and device
        (:func:`regnorm.backend.random_generator`): each epoch's permutation is drawn there.
        On NumPy it is NumPy's ``permutation`` of ``numpy.random.default_rng(rng)``.
    average_from : float
        Fraction of the steps after which ``v = gamma w`` is averaged (Polyak-Ruppert).
    anneal : bool
        Decay the step linearly to 0 over the averaging window (else keep it constant).
    precond : array, shape (N,), optional
        Positive diagonal preconditioner ``D`` (in the coordinates of ``X``; use
        :func:`~simulations.teacher_student.data.spectral_view` to make a useful one
        diagonal). ``None``: sphere SGD.
    flat : array, shape (N,), optional
        Unit vector removed from the outputs of the centred columns: their flat direction
        ``X d = 1``, which plain SGD never moves along but ``D`` mixes in (a drift that does
        not feed back into the loss, so removing it at the end equals removing it each step).
    fused : bool, optional
        Run the preconditioned steps with the compiled kernels of
        :mod:`simulations.teacher_student.fused` (NumPy arrays without leading axes, numba
        installed): the same numbers to rounding, several times less elementwise work.
        ``None`` (default): when possible; ``True``: required (error otherwise); ``False``:
        never.

    Returns
    -------
    dict
        ``v`` (last iterate) and ``v_avg`` (tail average), each ``(..., N, K)``; ``v_avg_a``
        and ``v_avg_b``, the averages over the first and the second half of the averaging
        window (their difference measures the SGD noise left in ``v_avg``); ``steps``.
    """
    xp = array_namespace(data.X)
    X, y = data.X, data.y
    P, N = X.shape[-2], X.shape[-1]
    M = check_integer("M", M, minimum=2)
    if M > P:
        raise ValueError(f"M must be <= P (the number of samples), got M={M} > P={P}")
    epochs = check_integer("epochs", epochs, minimum=1)
    average_from = check_real(
        "average_from", average_from, minimum=0.0, maximum=1.0, max_inclusive=False
    )
    K = len(variants)
    for v in variants:
        check_choice("variant", v, VARIANTS)
    if v0.shape[-2:] != (N, K):
        raise ValueError(f"v0 must have shape (..., {N}, {K}), got {tuple(v0.shape)}")
    backend = backend_of(X)
    gen = random_generator(backend, rng)
    dt = X.dtype
    v0 = backend.asarray(v0, dtype=dt)  # a host start is moved to the data's device once
    T = xp.matrix_transpose
    # Layout: students are rows, (..., K, N), so that every elementwise operation on the
    # parameters runs along contiguous rows of length N; batch quantities are (..., M, K).

    def col(values):
        arr = np.broadcast_to(np.asarray(values, dtype=np.float64), (K,))
        return backend.asarray(arr, dtype=dt)

    center = col([VARIANTS[v][0] for v in variants])
    is_std = col([VARIANTS[v][1] == "std" for v in variants])
    is_rms = col([VARIANTS[v][1] == "rms" for v in variants])
    is_none = col([VARIANTS[v][1] == "none" for v in variants])
    lr = col(lr)
    decay = col(zeta_loss)
    center_r = center[:, None]  # (K, 1), for (K, N) arrays

    v0t = T(v0)  # (..., K, N)
    sphere = precond is None
    if sphere:  # the training outputs' statistics of the start (two-pass; once per call)
        H0 = xp.matmul(X, v0)  # (..., P, K)
        m0 = xp.mean(H0, axis=-2)
        _check_start(
            variants, n2=xp.sum(v0t**2, axis=-1), q=xp.mean(H0**2, axis=-2),
            var=xp.mean((H0 - m0[..., None, :]) ** 2, axis=-2),
            lam_mean=xp.mean(data.column_stats[0], axis=-1),
        )  # fmt: skip
    gamma = xp.sqrt(xp.sum(v0t**2, axis=-1))  # (..., K)
    W = v0t / gamma[..., None]
    if not sphere:
        D = backend.asarray(precond, dtype=dt)
        if D.shape != (N,):
            raise ValueError(f"precond must have shape ({N},), got {tuple(D.shape)}")
        D = D[None, :]  # (1, N)
        # u = gamma w / sigma_T(w): the predictor with training-set statistics, in which the
        # loss is close to least squares (its Hessian is the data covariance, which D
        # inverts); for "none" columns sigma_T = ||w|| and u = v. X has orthogonal columns,
        # so X^T X / P = diag(lam).
        lam, mvec = (a[..., :, None] for a in data.column_stats)  # (..., N, 1); mvec: mean
        one = xp.ones_like(lam)
        norms_w = xp.concat([one, lam], axis=-1)  # (..., N, 2): ||u||^2 and u^T diag(lam) u
        # The step is u <- u o (1 - a D - b lam D) - G o D - m_k (D m) per student (see
        # below); the first factor is one small product (K, 3) x (3, N).
        basis = xp.concat([-D * T(one), -D * T(lam), T(one)], axis=-2)  # (..., 3, N)
        Dm = D * T(mvec)
        # The flat direction d of a centred student (P <= N): its loss does not depend on
        # d^T u and its gradient is orthogonal to d, so the d-component of the
        # preconditioned dynamics is a drift that never feeds back; it is removed from every
        # output (same result as projecting every step, without a pass per step).
        if flat is not None:
            flat = backend.asarray(flat, dtype=dt)[..., :, None]  # (N, 1)
            proj_vecs = xp.concat([mvec, flat * xp.ones_like(mvec)], axis=-1)
        else:
            proj_vecs = mvec

        def scale2(n2, q, mt):
            """sigma_T(u)^2 per column; the variance ``q - m_T^2`` is >= 0 exactly and is
            clipped where rounding makes it negative (a column on its flat direction)."""
            return is_std * xp.clip(q - mt**2, 0.0, None) + is_rms * q + is_none * n2

        def train_scale(U):
            """sigma_T(u) (= gamma), ||u||^2, m^T u and d^T u (0 without d), each (..., K)."""
            nq = xp.matmul(U * U, norms_w)
            md = xp.matmul(U, proj_vecs)
            n2, q, mt = nq[..., 0], nq[..., 1], md[..., 0]
            dtu = md[..., 1] if flat is not None else xp.zeros_like(mt)
            return xp.sqrt(scale2(n2, q, mt)), n2, mt, dtu, q

        def pop_factor(n2, q, mt, dtu):
            """v = sigma_T(Qu) Qu/||Qu||, Q removing d from centred columns: the factor.

            For a column without a scale ("none") sigma_T(Qu) = ||Qu|| and the factor is 1
            (no division). Otherwise, where Qu = 0 (u on the flat direction: the centred
            output is constant), v = 0 whatever the factor, and 0 is used; ``||Qu||^2 =
            ||u||^2 - (d^T u)^2`` is clipped at 0 where rounding makes it negative.
            """
            nq2 = xp.clip(n2 - center * dtu**2, 0.0, None)
            pos = nq2 > 0.0
            one, zero = xp.ones_like(nq2), xp.zeros_like(nq2)
            ratio = xp.sqrt(scale2(n2, q, mt)) / xp.sqrt(xp.where(pos, nq2, one))
            return xp.where(is_none > 0.0, one, xp.where(pos, ratio, zero))

        def unflat(V):
            if flat is None:
                return V
            return V - (center_r * xp.matmul(V, flat)) * T(flat)

        def _pop(U):
            _, n2, mt, dtu, q = train_scale(U)
            return unflat(U * pop_factor(n2, q, mt, dtu)[..., None])

        sig0, n0, mt0, _, q0 = train_scale(v0t)
        # in these coordinates the training statistics are the norms above (one pass)
        _check_start(variants, n2=n0, q=q0, var=q0 - mt0**2, lam_mean=xp.mean(lam[..., 0], axis=-1))
        U = v0t * (xp.sqrt(n0) / sig0)[..., None]
    n_batches = P // M
    total = epochs * n_batches
    start_avg = int(average_from * total)
    mid_avg = start_avg + (total - start_avg) // 2
    v_sum = [xp.zeros_like(v0t), xp.zeros_like(v0t)]
    n_avg = [0, 0]
    step = 0
    if not sphere and _use_fused(fused, xp, X):
        _, n2, mt, dtu, q = train_scale(U)
        columns = _kernels.ColumnSettings(
            lr=np.asarray(lr),
            center=np.asarray(center),
            is_std=np.asarray(is_std),
            is_rms=np.asarray(is_rms),
            is_none=np.asarray(is_none),
            decay=np.asarray(decay),
        )
        loop = _kernels.LoopSettings(
            M=M,
            epochs=epochs,
            start_avg=start_avg,
            mid_avg=mid_avg,
            anneal=anneal,
            D=np.ascontiguousarray(D[0, :]),
            lam=np.ascontiguousarray(lam[:, 0]),
            mvec=np.ascontiguousarray(mvec[:, 0]),
            flat=None if flat is None else np.asarray(flat[:, 0]),
        )
        U, v_sum, n_avg = _kernels.precond_loop(
            np.asarray(X, dtype=np.float64),
            np.asarray(y, dtype=np.float64),
            np.array(U, dtype=np.float64, order="C", copy=True),
            np.stack([n2, q, mt, dtu], axis=1),
            columns=columns,
            loop=loop,
            rng=gen.numpy,
        )
        epochs = 0  # done
    for _ in range(epochs):
        perm = gen.permutation(P)
        for j in range(n_batches):
            idx = perm[j * M : (j + 1) * M]
            Xb = xp.take(X, idx, axis=-2)  # (..., M, N)
            yb = xp.take(y, idx, axis=-1)[..., None]  # (..., M, 1)
            if sphere:
                H = xp.matmul(Xb, T(W))  # (..., M, K)
            else:
                gamma, n2, mt, dtu, q = train_scale(U)
                nu = xp.sqrt(n2)
                H = xp.matmul(Xb, T(U)) / nu[..., None, :]  # = X_B w with w = u/||u||
            mu = xp.mean(H, axis=-2, keepdims=True)
            Hc = H - mu
            var = xp.mean(Hc**2, axis=-2, keepdims=True)
            ms = xp.mean(H**2, axis=-2, keepdims=True)
            s = is_std * xp.sqrt(var) + is_rms * xp.sqrt(ms) + is_none
            c = H - center * mu
            hh = c / s
            r = gamma[..., None, :] * hh - yb
            dgamma = 2.0 * xp.mean(r * hh, axis=-2) + 2.0 * decay * gamma
            g = (2.0 / M) * gamma[..., None, :] * r
            gc = xp.sum(g * c, axis=-2, keepdims=True)
            dH = (g - center * xp.mean(g, axis=-2, keepdims=True)) / s
            dH = dH - (is_std * Hc + is_rms * H) * gc / (M * s**3)
            # c = w . GW = sum_B h dH (as H = X_B w): the radial part of GW, without a pass
            # over (K, N)
            c = xp.sum(H * dH, axis=-2)[..., None]  # (..., K, 1)
            # annealing: constant step, then linear decay to 0 over the averaging window
            f = 1.0 if (step < start_avg or not anneal) else (total - step) / (total - start_avg)
            lr_t = f * lr  # this step's step size per column
            if not sphere:  # fold the step's per-student factor into the small dH
                dH = dH * (lr_t / nu)[..., None, :]
            # dL/dw (||w|| treated as 1): dH^T X_B, one (K, M) x (M, N) product
            GW = xp.matmul(T(dH), Xb)  # (..., K, N)
            if sphere:
                # Tangent step and renormalization: with ||w|| = 1 the projected step is
                # w (1 + lr c) - lr GW, of norm sqrt(1 + lr^2 (||GW||^2 - c^2)).
                lr_k = lr_t[:, None]
                g2 = xp.sum(GW * GW, axis=-1)[..., None]
                # (||GW||^2 >= (w . GW)^2 for ||w|| = 1: clipped where rounding says otherwise)
                norm = xp.sqrt(1.0 + lr_k**2 * xp.clip(g2 - c**2, 0.0, None))
                W = W * ((1.0 + lr_k * c) / norm) - GW * (lr_k / norm)
                if step % 64 == 63:  # remove the slow drift of ||w|| by rounding
                    W = W / xp.sqrt(xp.sum(W**2, axis=-1, keepdims=True))
                gamma = gamma - lr_t * dgamma
            else:
                # dL/du = dL/dgamma grad sigma_T(u) + (GW - w c)/||u||, with grad sigma_T =
                # (diag(lam) u - m m^T u)/sigma_T ("std"), diag(lam) u/sigma_T ("rms"),
                # u/||u|| ("none"); the step is D dL/du, written as
                # u o (1 - a D - b lam D) - (lr GW/||u||) o D - m_k (D m).
                ig = 1.0 / nu
                dg = lr_t * dgamma
                a_k = is_none * dg * ig - lr_t * c[..., 0] * ig**2
                b_k = (is_std + is_rms) * dg / gamma
                m_k = (-is_std * dg * mt / gamma)[..., None]
                coef = xp.stack([a_k, b_k, xp.ones_like(a_k)], axis=-1)  # (..., K, 3)
                if step >= start_avg:  # average v (population predictor) before the step
                    half = int(step >= mid_avg)
                    v_sum[half] = v_sum[half] + U * pop_factor(n2, q, mt, dtu)[..., None]
                    n_avg[half] += 1
                U = U * xp.matmul(coef, basis) - GW * D - m_k * Dm
            step += 1
            if sphere and step > start_avg:
                half = int(step > mid_avg)
                v_sum[half] = v_sum[half] + gamma[..., None] * W
                n_avg[half] += 1
    v = gamma[..., None] * W if sphere else _pop(U)
    if not sphere:
        v_sum = [unflat(x) for x in v_sum]
    halves = [v_sum[h] / max(n_avg[h], 1) for h in (0, 1)]
    return {
        "v": T(v),
        "v_avg": T((v_sum[0] + v_sum[1]) / (n_avg[0] + n_avg[1])),
        "v_avg_a": T(halves[0]),
        "v_avg_b": T(halves[1] if n_avg[1] else halves[0]),
        "steps": total,
    }


#: A start ``v0`` whose training-statistics scale ``sigma_T(v0)^2`` is at most this fraction of
#: its reference (for "std" columns the training mean square of ``X v0``, for "rms" columns
#: ``||v0||^2 mean(diag(X^T X)/P)``, for "none" columns ``||v0||^2``) is refused: its training
#: output is constant (or zero) to rounding, and the normalized student is undefined there
#: (``h / sigma_B`` divides by zero): a centred column on its flat direction ``X d = 1``, an
#: uncentred one in the null space of ``X``, or ``v0 = 0``. The preconditioned solver's
#: one-pass variances keep about ``1 - N eps`` of it (``N eps ~ 1e-12`` at N = 4096), so the
#: bound lies far above rounding and far below the order-1 ratio of any start a protocol
#: makes (a ridge solution).
DEGENERATE_START_RTOL = 1e-9


def _check_start(variants: Sequence[str], *, n2: Any, q: Any, var: Any, lam_mean: Any) -> None:
    """Refuse a degenerate start (see :data:`DEGENERATE_START_RTOL`); arrays ``(..., K)``."""
    xp = array_namespace(n2)
    K = len(variants)
    kind = [VARIANTS[v][1] for v in variants]
    rows = []
    for k in range(K):
        c2 = {"std": var, "rms": q, "none": n2}[kind[k]][..., k]
        ref = {"std": q[..., k], "rms": n2[..., k] * lam_mean, "none": n2[..., k]}[kind[k]]
        rows.append(xp.any(~(c2 > DEGENERATE_START_RTOL * ref)))  # NaN counts as degenerate
    bad = [k for k in range(K) if bool(rows[k])]
    if bad:
        k = bad[0]
        what = {
            "std": "the variance of its training output X v0",
            "rms": "the mean square of its training output X v0",
            "none": "its norm",
        }[kind[k]]
        raise ValueError(
            f"v0[..., :, {k}] (variant {variants[k]!r}) is a degenerate start: {what} is zero "
            f"to rounding (relative size <= {DEGENERATE_START_RTOL:g}), where the "
            "normalized student is undefined "
            "(a centred column on its flat direction X d = 1, an uncentred one in the null "
            f"space of X, or v0 = 0); degenerate columns: {bad}"
        )


def _use_fused(fused: bool | None, xp: Any, X: Any) -> bool:
    if fused is False:
        return False
    from array_api_compat import is_numpy_namespace

    possible = is_numpy_namespace(xp) and X.ndim == 2 and _kernels.available()
    if fused is True and not possible:
        raise ValueError(
            "fused=True needs NumPy arrays without leading axes and numba installed "
            f"(namespace {xp.__name__}, X.ndim={X.ndim}, numba "
            f"{'installed' if _kernels.available() else 'not installed'})"
        )
    return possible
