"""The training protocol of the BN students and the Monte-Carlo experiments of C5-C8.

What is measured is the ``lr -> 0`` limit of the averaged SGD iterate: the zero of the
batch-averaged gradient, where BN's batch noise acts as a regularizer. Two solvers reach it
(``solver`` of :func:`learning_curve_point`); they agree within the reported error (README).

* **precond (default).** The data set is rotated into the eigenbasis of ``X^T X`` restricted
  to its row span (:func:`~.data.spectral_view`, from the decomposition the ridge curve needs
  anyway: exact, and ``N/P`` times smaller for ``P < N``). The student is parametrized by
  ``u = gamma w / sigma_T(w)``, its linear predictor under training-set statistics, in which
  the batch loss is close to least squares, and trained by preconditioned SGD
  ``u <- u - lr D grad_u L_B`` with ``D = diag(1/(lam + c))``, ``lam = s^2/P``,
  ``c = 1/(4M)`` (``precond_c``). Every mode then relaxes at about ``2 lr``; the stable step
  is set by the trace of the preconditioned batch Hessian, ``lr = lr_scale M / dof`` with
  ``dof = sum lam/(lam + c)`` (``lr_scale = 0.25``): a few epochs per e-fold at any
  ``alpha``, against thousands near ``alpha = 1`` for the sphere solver. (In ``v = gamma w``
  instead of ``u`` the radial curvature is not scaled by the data and ``D`` makes it
  unstable.)
* **sphere.** SGD on ``(gamma, w)`` in input space: BN's output does not depend on
  ``||w||``, so plain SGD lets ``||w||`` grow and silently shrinks the effective step; we keep
  ``||w|| = 1`` (projected gradient, renormalized after every step, i.e. Riemannian SGD),
  ``lr = lr_scale / (1 + sqrt(N/M))^2`` (the batch Hessian's largest eigenvalue is about
  ``2 (1+sqrt(N/M))^2``), epochs for e-folds of the slowest mode
  ``2 lr (lambda_- + zeta_lo)/alpha``; annealed linearly to 0 over the averaging window.
* **Initialization in the data span.** For ``alpha < 1`` the gradient lies in the row span of
  ``X``, so a component outside it never decays. We start from ridge solutions (which lie in
  the span) at TWO ridge parameters that bracket the candidates; burn-in at constant step in
  chunks until both starts agree to ``tol`` = 1% (``converged``, ``start_gap``). For
  ``P <= N`` a centred student also has a flat direction (``X d = 1``), along which it starts
  with no component and, under ``precond``, is kept from moving (``flat``).
* **Averaging and step size -> 0.** Polyak-Ruppert averaging of ``v = gamma w`` over the last
  ``avg_epochs`` (at least 40) epochs at constant step (``precond``) or over the annealed
  phase (``sphere``); step sizes ``lr, lr/2`` run side by side (``lr_factors``) and ``v`` is
  extrapolated linearly to ``lr -> 0``. The SGD noise left in the average would bias
  ``||v - w*||^2`` upwards by its variance; the reported error is the product
  ``(v_a - w*)^T (v_b - w*)`` of the averages over the two halves of the window (independent
  once the window is much longer than the relaxation time), unbiased for the noise-free
  error; the bias it removes is reported (``noise_*``).
* **Minibatches.** Each epoch a fresh random permutation of the ``P`` samples is cut into
  ``floor(P/M)`` batches of ``M`` (the remainder waits for the next epoch's permutation).
* **Inference.** The students are evaluated with the population statistics of the test
  distribution (``mu = 0``, ``sigma = ||w||``, which is also what a large fresh test batch
  gives), i.e. as the linear predictor ``v = gamma w``. The alternative, statistics of the
  training set (what re-estimated running averages converge to), is reported alongside
  (``eps_*_trainstats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from regnorm import learning_curves as lc
from regnorm.backend import array_namespace, random_generator, resolve_backend, to_numpy
from regnorm.marchenko_pastur import lambda_minus
from regnorm.sweeps import sweep
from regnorm.validation import check_choice, check_integer, check_real

from .data import TeacherData, spectral_view, teacher
from .ridge import (
    matched_zeta,
    paired_zeta,
    ridge_path,
    ridge_path_derivative,
    ridge_weights,
    shrunk_pseudo_inverse_error,
)
from .sgd import VARIANTS, train_students

__all__ = [
    "DEFAULT_VARIANTS",
    "DELTA2_PAPER",
    "M_PAPER",
    "bn_sweep",
    "learning_curve_point",
    "ridge_errors",
]

#: The article's setting (001 §2.3): the label-noise variance and the batch size of its
#: experiments. Only the callers that reproduce the article use them; an analysis reads its
#: setting from the table it analyses.
DELTA2_PAPER = 0.25
M_PAPER = 32

#: The normalized students :func:`learning_curve_point` trains unless told otherwise (the
#: ``weight_norm`` student with explicit decay is always trained as well).
DEFAULT_VARIANTS = ("batch_norm", "batch_norm_rms", "batch_norm_mean", "batch_norm_variance")


def ridge_errors(
    N: int,
    alpha: float,
    repetitions: int,
    zetas: Any,
    delta2: float,
    rng: Any,
    *,
    derivative: bool = False,
    backend: Any = None,
) -> np.ndarray:
    """Ridge-path errors (or their ``zeta`` derivatives) on independent data sets.

    The data sets are drawn and decomposed on ``backend``'s device; the ``(repetitions, Z)``
    errors cross to the host once, at the end.

    Parameters
    ----------
    N : int
        Input dimension; ``P = round(alpha N)``.
    alpha : float
        ``P / N``.
    repetitions : int
        Independent data sets (teachers and training sets).
    zetas : array_like, shape (Z,)
        Ridge parameters.
    delta2 : float
        Label-noise variance.
    rng : seed, numpy.random.Generator or regnorm.backend.ArrayGenerator
        Draws the data sets in order (on the device, :func:`regnorm.backend.random_generator`;
        NumPy's numbers on NumPy and array-api-strict, CuPy's own stream on CuPy).
    derivative : bool
        Return :func:`~.ridge.ridge_path_derivative` instead of :func:`~.ridge.ridge_path`.
    backend : spec or Backend, optional
        Where the data sets are made and decomposed (:func:`regnorm.backend.resolve_backend`;
        default NumPy). The decomposition is ``xp.linalg.eigh`` of the array API.

    Returns
    -------
    ndarray, shape (repetitions, Z)
    """
    P = round(alpha * N)
    backend = resolve_backend(backend)
    gen = random_generator(backend, rng)
    out = []
    chunk = max(1, int(4e7 // (P * N)))  # bound memory: <= ~320 MB of float64 per batch
    f = ridge_path_derivative if derivative else ridge_path
    with backend.activate():  # CuPy: its kernels run on the current device
        for start in range(0, repetitions, chunk):
            data = teacher(
                N, P, delta2, repetitions=min(chunk, repetitions - start), rng=gen, backend=backend
            )
            out.append(f(data, zetas))
        return backend.to_numpy(backend.xp.concat(out, axis=0))


def _epochs_for(alpha: float, N: int, M: int, lr: float, n_relax: float, zeta_lo: float) -> int:
    rate = 2.0 * lr * (lambda_minus(alpha) + zeta_lo) / alpha  # slowest mode per step
    steps = n_relax / rate
    return max(4, math.ceil(steps / (int(alpha * N) // M)))


def _bool_param(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def _variants_param(params: dict[str, Any]) -> list[str]:
    value = params.get("variants", DEFAULT_VARIANTS)
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(
            f"variants must be a tuple of variant names (of {sorted(VARIANTS)}), got {value!r}"
        )
    variants = [check_choice("variant", v, VARIANTS) for v in value]
    if not variants or "weight_norm" in variants:
        raise ValueError(
            "variants must name at least one normalized student other than 'weight_norm' "
            f"(which is always trained), got {value!r}"
        )
    return variants


def _lr_factors_param(params: dict[str, Any]) -> list[float]:
    value = params.get("lr_factors", (1.0, 0.5))
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or not len(value):
        raise TypeError(f"lr_factors must be a non-empty tuple of numbers > 0, got {value!r}")
    return [check_real("lr_factors", f, minimum=0.0, min_inclusive=False) for f in value]


def learning_curve_point(params: dict[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """One data set at one ``alpha``: every student's generalization error (a sweep task).

    ``params``: ``N``, ``alpha``, ``delta2``, ``M`` (required); ``variants`` (a tuple of
    :data:`~.sgd.VARIANTS` names, default :data:`DEFAULT_VARIANTS`), ``solver``
    (``"precond"``, default, or ``"sphere"``; see below), ``lr_scale`` (0.25: the step size
    in units of the solver's reference step, a different quantity from the step ``lr``
    itself), ``lr_factors`` (a tuple, ``(1.0, 0.5)``: the students' steps are ``lr`` times
    these), ``precond_c`` (``1/(4M)``), ``avg_epochs`` (precond: at least this many averaged
    epochs, default 40), ``anneal`` (a bool; default: for sphere only), ``tol`` (0.01),
    ``max_chunks`` (40), ``backend`` (a spec of :func:`regnorm.backend.resolve_backend`,
    default NumPy), ``train`` (a bool, default True). Every draw comes from ``rng`` (turned
    into a generator of the backend, :func:`regnorm.backend.random_generator`): the data set
    first, then the minibatches, all made on the backend's device. The data, the students and
    every intermediate array stay there; what crosses to the host is scalars, the ridge
    curves and the small ``(r, K)`` coordinates :func:`~.ridge.paired_zeta` searches over.
    Always also trains ``weight_norm`` with explicit decay ``zeta_loss = 1/(2M)`` (to check
    that SGD reaches the ridge solution). Two initializations: ridge solutions at
    ``zeta = alpha/(8M)`` and ``zeta = 6 alpha/M`` (bracketing every candidate).

    Solvers (same ``lr -> 0`` limit, see :func:`~.sgd.train_students`): ``"sphere"`` trains
    in input space with Riemannian SGD, step ``lr = lr_scale/(1+sqrt(N/M))^2``, whose slowest
    mode relaxes at ``2 lr (lambda_- + zeta)``: near ``alpha = 1`` thousands of epochs.
    ``"precond"`` trains on :func:`~.data.spectral_view` with ``D = 1/(lam + precond_c)``,
    which makes every mode relax at about the same rate, with step ``lr = lr_scale M / dof``
    (``dof = sum lam D``, the trace of the preconditioned Hessian, which bounds the stable
    step of a batch of ``M``): a few epochs per e-fold at any ``alpha``.

    Returns columns ``eps_pinv``, ``eps_ridge_M`` (``zeta = 1/(2M)``), ``eps_ridge_opt``
    (``zeta = delta2``), ``eps_ridge_<candidate>`` (:func:`regnorm.learning_curves.
    candidate_zetas`), ``eps_shrunk_M`` (:func:`~.ridge.shrunk_pseudo_inverse_error` at
    ``f = 1/(2M)``), ``epochs``, ``lr``, ``converged`` and ``start_gap`` (convergence
    criterion); for each variant ``eps_<variant>`` (step size extrapolated to 0, averaged
    over the two starts; population statistics; SGD noise removed: the product
    ``(v_a - w*)^T (v_b - w*)`` of the averages over the two halves of the averaging window,
    unbiased for the noise-free error), ``eps_<variant>_naive`` (``||v_avg - w*||^2``, biased
    up by the noise), ``noise_<variant>`` (their difference, the SGD noise),
    ``eps_<variant>_lr<k>`` per step factor, ``lrdep_<variant>`` (difference between the two
    step sizes), ``gap_<variant>`` (difference between the two starts),
    ``eps_<variant>_trainstats`` (inference with training-set statistics, minus the noise),
    ``zmatch_<variant>[_trainstats]`` (ridge zeta matching the error on the same data, see
    :func:`~.ridge.matched_zeta`), ``zpair_<variant>``/``dpair_<variant>``
    (:func:`~.ridge.paired_zeta`); ``weight_norm_vs_ridge`` and ``eps_weight_norm_ridge``
    (SGD-trained WN + decay vs its ridge solution).
    """
    backend = resolve_backend(params.get("backend"))
    with backend.activate():  # CuPy: its kernels run on the current device
        return _learning_curve_point(params, rng, backend)


def _learning_curve_point(params: dict[str, Any], rng: Any, backend: Any) -> dict[str, float]:
    """:func:`learning_curve_point` on ``backend`` (a resolved Backend)."""
    N = check_integer("N", params["N"], minimum=1)
    alpha = check_real("alpha", params["alpha"], minimum=0.0, min_inclusive=False)
    delta2 = check_real("delta2", params["delta2"], minimum=0.0)
    M = check_integer("M", params["M"], minimum=2)
    solver = check_choice("solver", params.get("solver", "precond"), ("precond", "sphere"))
    train = _bool_param(params, "train", True)
    anneal = _bool_param(params, "anneal", solver == "sphere")
    P = max(1, round(alpha * N))
    xp = backend.xp
    gen = random_generator(backend, rng)
    data = teacher(N, P, delta2, rng=gen, backend=backend)
    out: dict[str, float] = {"P": float(P)}
    zeta_m = 1.0 / (2 * M)
    ridge = to_numpy(ridge_path(data, [0.0, zeta_m, delta2]))
    out.update(eps_pinv=float(ridge[0]), eps_ridge_M=float(ridge[1]), eps_ridge_opt=float(ridge[2]))
    preds = lc.candidate_zetas(alpha, M)
    at = to_numpy(ridge_path(data, list(preds.values())))
    for k, name in enumerate(preds):
        out[f"eps_ridge_{name}"] = float(at[k])
    out["eps_shrunk_M"] = float(to_numpy(shrunk_pseudo_inverse_error(data, [zeta_m]))[0])
    if not train:
        return out
    if P < M:
        raise ValueError(f"alpha*N = {P} samples is fewer than the batch size M={M}")
    variants = _variants_param(params) + ["weight_norm"]
    factors = _lr_factors_param(params)
    lr_scale = check_real(
        "lr_scale", params.get("lr_scale", 0.25), minimum=0.0, min_inclusive=False
    )
    z_inits = [alpha / (8 * M), 6 * alpha / M]
    v_init = ridge_weights(data, z_inits)  # (N, 2)
    cols, col_factors, v0cols, dec = [], [], [], []
    for fi, f in enumerate(factors):
        for ii in range(2):
            for v in variants:
                cols.append((v, fi, ii))
                col_factors.append(f)
                v0cols.append(ii)
                dec.append(zeta_m if v == "weight_norm" else 0.0)
    v0 = xp.take(v_init, backend.asarray(np.asarray(v0cols)), axis=-1)
    names = [c[0] for c in cols]
    center = backend.asarray([float(VARIANTS[n][0]) for n in names], dtype=data.X.dtype)
    d = None
    if P <= N:
        # For P <= N a centred student has a flat direction: d with X d = 1 (all ones) shifts
        # every h by the same constant, which mu_B removes, so the gradient never touches it
        # and its component is whatever the initialization put there. We start with none
        # (the minimum-norm choice, as for the null space of X).
        # minimum-norm d = V S^-1 U^T 1 with U^T 1 = S^-1 V^T X^T 1 (s > 0 for P <= N)
        _, s_, Vt_, _, _ = data.spectral
        d = xp.matmul(xp.matrix_transpose(Vt_), xp.matmul(Vt_, xp.sum(data.X, axis=0)) / s_**2)
        d = d / _norm(xp, d)
        v0 = v0 - center * (d[:, None] * xp.matmul(d, v0)[None, :])
    train_kw: dict[str, Any] = {}
    if solver == "sphere":
        view, train_data = None, data
        lr = lr_scale / (1.0 + math.sqrt(N / M)) ** 2
        chunk = _epochs_for(alpha, N, M, lr * min(factors), 1.0, zeta_lo=min(alpha, 1.0) / (2 * M))
        final = 2 * chunk
    else:
        view = spectral_view(data)
        train_data = view.data
        v0 = view.to_view(v0)
        c_pre = check_real(
            "precond_c", params.get("precond_c", 1.0 / (4 * M)), minimum=0.0, min_inclusive=False
        )
        lam = view.lam
        dof = float(xp.sum(lam / (lam + c_pre)))
        lr = lr_scale * M / dof
        # slowest relaxation per step if zeta_eff >= c/4: 2 lr min_k (lam + c/4)/(lam + c)
        rate = 2.0 * lr * min(factors) * float(xp.min((lam + c_pre / 4) / (lam + c_pre)))
        chunk = max(2, math.ceil(1.0 / (rate * (P // M))))
        final = max(2 * chunk, int(params.get("avg_epochs", 40)))
        train_kw["precond"] = 1.0 / (lam + c_pre)
        if d is not None:
            train_kw["flat"] = view.to_view(d[:, None])[:, 0]
    col_lr = [lr * f for f in col_factors]
    kidx = {c: k for k, c in enumerate(cols)}
    # Burn-in at constant step in chunks until the two starts agree (convergence criterion:
    # their distance contracts at the slowest relaxation rate, so once it is below `tol`
    # relative to ||v|| each start is that close to the common fixed point), then a phase
    # whose iterates are averaged: annealed for sphere, at constant step for precond (the
    # tail average of a stationary chain, whose two halves are then independent, which the
    # noise-free error estimate needs).
    tol = float(params.get("tol", 0.01))
    max_epochs = int(params.get("max_chunks", 40)) * chunk
    k0 = [k for k, c in enumerate(cols) if c[2] == 0]
    k1 = [kidx[cols[k][0], cols[k][1], 1] for k in k0]

    def run(v_start, epochs, anneal):
        return train_students(
            train_data,
            names,
            M=M,
            v0=v_start,
            lr=col_lr,
            epochs=epochs,
            zeta_loss=dec,
            rng=gen,
            anneal=anneal,
            **train_kw,
        )

    v_cur, done, gap = v0, 0, math.inf
    k0_x, k1_x = backend.asarray(np.asarray(k0)), backend.asarray(np.asarray(k1))
    while done < max_epochs:
        v_cur, done = run(v_cur, chunk, False)["v"], done + chunk
        a0, a1 = xp.take(v_cur, k0_x, axis=1), xp.take(v_cur, k1_x, axis=1)
        gaps = to_numpy(_norm(xp, a0 - a1, axis=0) / _norm(xp, a0, axis=0))
        gap = float(np.max(gaps))
        if gap < tol:
            break
    res = run(v_cur, final, anneal)
    epochs = done + final
    out["converged"] = float(gap < tol)
    out["start_gap"] = gap
    for k, g in zip(k0, gaps, strict=True):
        if cols[k][1] == 0:
            out[f"start_gap_{cols[k][0]}"] = float(g)
    full = (lambda v: v) if view is None else view.to_full
    v_avg, v_a, v_b = (full(res[k]) for k in ("v_avg", "v_avg_a", "v_avg_b"))
    w_star = data.w_star
    err = to_numpy(xp.sum((v_avg - w_star[:, None]) ** 2, axis=0))
    out["epochs"] = float(epochs)
    out["burn_in_epochs"] = float(done)
    out["lr"] = lr
    # Step size -> 0: linear (Richardson) extrapolation of v from the two smallest steps,
    # per start; the SGD-noise bias of the averaged iterate is O(lr).
    order = np.argsort(factors)
    f_s = factors[order[0]]
    f_b = factors[order[1]] if len(factors) > 1 else None

    def extrapolated(vs, v, ii):
        x = vs[:, kidx[v, order[0], ii]]
        if f_b is not None:
            x = x - (vs[:, kidx[v, order[1], ii]] - x) * f_s / (f_b - f_s)
        return x

    ext_cols, ext_names, noise = [], [], []
    for v in variants:
        for fi in range(len(factors)):
            out[f"eps_{v}_lr{fi}"] = 0.5 * float(err[kidx[v, fi, 0]] + err[kidx[v, fi, 1]])
        starts = [extrapolated(v_avg, v, ii) for ii in range(2)]
        naive = [float(xp.sum((x - w_star) ** 2)) for x in starts]
        cross = [
            float(xp.matmul(extrapolated(v_a, v, ii) - w_star, extrapolated(v_b, v, ii) - w_star))
            for ii in range(2)
        ]
        out[f"eps_{v}_naive"] = 0.5 * (naive[0] + naive[1])
        out[f"eps_{v}"] = 0.5 * (cross[0] + cross[1])
        out[f"noise_{v}"] = out[f"eps_{v}_naive"] - out[f"eps_{v}"]
        out[f"gap_{v}"] = naive[1] - naive[0]
        if f_b is not None:  # how much the error moved between the two step sizes
            out[f"lrdep_{v}"] = out[f"eps_{v}_lr{order[1]}"] - out[f"eps_{v}_lr{order[0]}"]
        ext_cols.append(0.5 * (starts[0] + starts[1]))
        ext_names.append(v)
        noise.append(out[f"noise_{v}"])
    v_ext = xp.stack(ext_cols, axis=1)
    ts = _trainstats_errors(data, v_ext, ext_names) - np.asarray(noise)
    zp, dp = paired_zeta(data, v_ext)
    zgrid = np.geomspace(1e-5, max(delta2, 1e-5), 241)
    rcurve = to_numpy(ridge_path(data, zgrid))
    for k, v in enumerate(ext_names):
        out[f"zmatch_{v}"] = matched_zeta(out[f"eps_{v}"], zgrid, rcurve)
        out[f"zmatch_{v}_trainstats"] = matched_zeta(float(ts[k]), zgrid, rcurve)
        out[f"eps_{v}_trainstats"] = float(ts[k])
        out[f"zpair_{v}"] = float(zp[k])
        out[f"dpair_{v}"] = float(dp[k])
    v_r = ridge_weights(data, [alpha * zeta_m])[:, 0]
    v_w = v_ext[:, ext_names.index("weight_norm")]
    out["weight_norm_vs_ridge"] = float(_norm(xp, v_w - v_r) / _norm(xp, v_r))
    out["eps_weight_norm_ridge"] = float(xp.sum((v_r - w_star) ** 2))
    return out


def _norm(xp: Any, x: Any, axis: int | None = None) -> Any:
    """The Euclidean norm of a vector (``axis=None``) or of the columns/rows along ``axis``,
    written as NumPy's ``linalg.norm`` computes it (a dot product for a vector, a sum of
    squares along an axis), so the NumPy path keeps its numbers to the last bit."""
    if axis is None:
        return xp.sqrt(xp.matmul(x, x))
    return xp.sqrt(xp.sum(x * x, axis=axis))


def _trainstats_errors(data: TeacherData, v: Any, variants: Sequence[str]) -> np.ndarray:
    """Test error when inference uses the training set's statistics instead of the population's.

    ``phi(x) = gamma (w^T x - c mu_T)/s_T`` with ``mu_T, s_T`` the training-set mean and
    std (or rms) of ``h = w^T x``; error ``||gamma w/s_T - w*||^2 + (gamma c mu_T/s_T)^2``.
    Computed on the data's device (``v`` of shape ``(N, K)`` there); K numbers come back.
    """
    xp = array_namespace(data.X)
    w = data.w_star
    gamma = _norm(xp, v, axis=0)
    W = v / gamma
    H = xp.matmul(data.X, W)
    mu = xp.mean(H, axis=0)
    gamma_h, mu_h = to_numpy(gamma), to_numpy(mu)
    out = np.empty(len(variants))
    for k, name in enumerate(variants):
        center, scale = VARIANTS[name]
        h = H[:, k]
        s = {
            "std": lambda h=h: float(xp.std(h)),
            "rms": lambda h=h: math.sqrt(float(xp.mean(h**2))),
            "none": lambda: 1.0,
        }[scale]()
        m = mu_h[k] if center else 0.0
        out[k] = float(xp.sum((gamma[k] * W[:, k] / s - w) ** 2)) + (gamma_h[k] * m / s) ** 2
    return out


def bn_sweep(
    N: int,
    alphas: Sequence[float],
    repetitions: int,
    *,
    M: int,
    delta2: float,
    seed: int,
    executor: Any = None,
    store: Any = None,
    backend: Any = None,
    **kw: Any,
):
    """The BN-student numerics: a :func:`regnorm.sweeps.sweep` of :func:`learning_curve_point`.

    One point per ``alpha`` with ``N``, ``delta2``, ``M`` and the further parameters ``kw``;
    ``repetitions`` independent data sets each. The returned table carries every parameter
    as a column, so its analysis (:func:`~.analysis.c8_summary`) reads ``M`` and ``delta2``
    from it.

    ``backend`` (a spec or Backend of :func:`regnorm.backend.resolve_backend`; default None,
    NumPy) runs every task there; it becomes the parameter (and column) ``backend``, its
    spec. The tasks' streams are keyed by the other parameters only, so every backend is
    handed the same seeds: array-api-strict reproduces NumPy's numbers, CuPy draws its own
    stream from them. With CuPy use the in-process executor (the default): one process owns
    the GPU.
    """
    grid = [dict(N=N, alpha=float(a), delta2=delta2, M=M, **kw) for a in alphas]
    seed_key = None
    if backend is not None:
        names = list(grid[0]) if grid else []
        spec = resolve_backend(backend).spec
        grid = [{**p, "backend": spec} for p in grid]
        seed_key = names
    return sweep(
        learning_curve_point,
        grid,
        repetitions=repetitions,
        seed=seed,
        executor=executor,
        store=store,
        progress=None,  # a bar on a terminal, nothing in logs
        name="teacher_student.learning_curve_point",
        seed_key=seed_key,
    )
