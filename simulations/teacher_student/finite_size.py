"""The finite-size study of C6 and C8: do the N = 4096 findings hold in the N -> inf limit?

The closed forms of C5-C8 are limits ``N -> inf`` at fixed ``alpha = P/N``; the simulations
see finite ``N``. :func:`finite_size_study` measures, at several ``N`` on the same ``alpha``
grid and with independent data sets at each point,

* the C6 ridge error (WN + gamma decay) at ``zeta = 1/(2M)`` and at the optimum
  ``zeta = delta2``, next to its limit :func:`regnorm.learning_curves.eps_wn`, and
* C8's effective ridge parameter of the BN student (population statistics): the ridge
  ``zeta`` whose error on the same data set equals the student's
  (:func:`~.ridge.matched_zeta`, as :func:`~.analysis.c8_summary` reads it),

both from one :func:`~.protocol.learning_curve_point` per data set (the ridge errors are
those of the data set the student is trained on). Its analysis,
:func:`~.analysis.finite_size_analysis`, gives the difference to the limit with its
t-interval per ``N`` and fits the trend ``a + c/N``.

Sizes and memory. The defaults (``N`` = 1024, 4096, 16384; ``alpha`` = 0.5, 0.9, 2.0; three
data sets each: 27 data sets) are meant for a GPU (``backend="cupy"``). One task holds, at
``N = 16384`` and ``alpha = 2`` (``P = 32768``), the inputs ``X`` (``P x N`` float64,
4.3 GB), their rotation into the eigenbasis (another 4.3 GB), the Gram matrix and its
eigenvectors (``N x N``, 2.1 GB each): the peak measured on NumPy is 3.2 times the size of
``X`` (tracemalloc at ``N = 1024``; memory grows like ``N^2``), 13.5 GB at ``N = 16384``
(``alpha = 0.9``: 8 GB). On CuPy add the ``P x N`` temporary of ``vecdot`` and what the
memory pool keeps: plan for about 20 GB, one task per GPU at a time, in-process (the
default executor). ``N = 4096`` needs 1/16 of it. The cost of a data set is one ``eigh`` of
an ``N x N`` (or ``P x P``) matrix and the SGD steps: about 40-100 epochs of ``floor(P/M)``
steps, each two products ``(M, r) x (r, K)`` with ``K = 8`` students (``r = min(P, N)``) and
some forty small array operations, so on a GPU the steps are bound by launch overhead
(tens of thousands of steps per data set at ``N = 16384``), not by arithmetic. On the CPU
(NumPy) the default sizes take hours; ``N <= 1024`` takes minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from regnorm import learning_curves as lc
from regnorm.backend import resolve_backend
from regnorm.validation import check_integer, check_real

from .protocol import bn_sweep

__all__ = ["FINITE_SIZE_COLUMNS", "finite_size_study"]

#: The columns of :func:`finite_size_study`'s table, in order.
FINITE_SIZE_COLUMNS = (
    "N",
    "alpha",
    "rep",
    "M",
    "delta2",
    "backend",
    "P",
    "eps_ridge_half_M",
    "eps_wn_half_M",
    "eps_ridge_opt",
    "eps_wn_opt",
    "zeta_eff",
    "eps_batch_norm",
    "converged",
    "epochs",
)


def finite_size_study(
    Ns: Sequence[int] = (1024, 4096, 16384),
    alphas: Sequence[float] = (0.5, 0.9, 2.0),
    repetitions: int = 3,
    *,
    M: int,
    delta2: float,
    backend: Any = None,
    seed: int = 0,
    executor: Any = None,
):
    """C6's ridge error and C8's effective zeta of the BN student at several ``N``.

    Parameters
    ----------
    Ns : sequence of int
        Input dimensions, distinct, each ``>= 1`` with ``round(alpha N) >= M``.
    alphas : sequence of float
        ``P/N`` values, ``> 0`` (include one near 1, where the finite-size effects are
        largest).
    repetitions : int
        Independent data sets per ``(N, alpha)``, ``>= 2`` (the analysis needs a standard
        error).
    M : int
        Batch size of the BN student (``>= 2``).
    delta2 : float
        Label-noise variance (``>= 0``).
    backend : spec or Backend, optional
        Where every data set is drawn, decomposed and trained
        (:func:`regnorm.backend.resolve_backend`; default NumPy). The same seeds on every
        backend: array-api-strict gives NumPy's numbers, CuPy its own stream.
    seed : int
        Root seed. Each ``(N, alpha, rep)`` has its own stream
        (:func:`~.protocol.bn_sweep`'s, keyed by the point's parameters).
    executor : optional
        Executor of :func:`regnorm.sweeps.sweep`; keep the default (in-process) with CuPy.

    Returns
    -------
    pandas.DataFrame
        One row per data set, columns :data:`FINITE_SIZE_COLUMNS`: ``eps_ridge_half_M`` and
        ``eps_ridge_opt`` (ridge error at ``zeta = 1/(2M)`` and ``delta2`` on this data set)
        next to ``eps_wn_half_M`` and ``eps_wn_opt`` (their ``N -> inf`` closed forms at the
        data set's own ``P/N``),
        ``zeta_eff`` (the BN student's matched ridge zeta; NaN where it beats every ridge
        solution), ``eps_batch_norm``, ``converged`` and ``epochs`` of its training,
        ``backend`` (the spec) and ``P``. ``attrs["settings"]`` holds ``M``, ``delta2``,
        ``backend`` and ``seed``.

    Raises
    ------
    ValueError
        For fewer than two distinct ``Ns``, a repeated ``N``, ``repetitions < 2``, a point
        with fewer than ``M`` samples, or any bad number (the message names it).
    """
    import pandas as pd

    Ns = _distinct_ints("Ns", Ns)
    alphas = [check_real("alphas", a, minimum=0.0, min_inclusive=False) for a in alphas]
    if not alphas:
        raise ValueError("alphas must name at least one alpha > 0, got an empty sequence")
    repetitions = check_integer("repetitions", repetitions, minimum=2)
    M = check_integer("M", M, minimum=2)
    delta2 = check_real("delta2", delta2, minimum=0.0)
    spec = resolve_backend(backend).spec
    for N in Ns:
        for a in alphas:
            if max(1, round(a * N)) < M:
                raise ValueError(
                    f"Ns={Ns}, alphas={alphas}: N={N} at alpha={a} gives "
                    f"{max(1, round(a * N))} samples, fewer than the batch size M={M}"
                )
    frames = [
        bn_sweep(
            N,
            alphas,
            repetitions,
            M=M,
            delta2=delta2,
            seed=seed,
            executor=executor,
            backend=backend,
            variants=("batch_norm",),
        )
        for N in Ns
    ]
    raw = pd.concat(frames, ignore_index=True)
    half_m = 1.0 / (2 * M)
    alpha = raw["alpha"].to_numpy(dtype=float)
    # the limit at the data set's own P/N: round(alpha N)/N differs from alpha by up to
    # 1/(2N), an O(1/N) shift of the closed form that is not a finite-size effect
    own_alpha = raw["P"].to_numpy(dtype=float) / raw["N"].to_numpy(dtype=float)
    df = pd.DataFrame(
        {
            "N": raw["N"].astype(int),
            "alpha": alpha,
            "rep": raw["rep"].astype(int),
            "M": M,
            "delta2": delta2,
            "backend": spec,
            "P": raw["P"].astype(int),
            "eps_ridge_half_M": raw["eps_ridge_M"],
            "eps_wn_half_M": np.asarray(lc.eps_wn(own_alpha, half_m, delta2), dtype=float),
            "eps_ridge_opt": raw["eps_ridge_opt"],
            "eps_wn_opt": np.asarray(lc.eps_wn(own_alpha, delta2, delta2), dtype=float),
            "zeta_eff": raw["zmatch_batch_norm"],
            "eps_batch_norm": raw["eps_batch_norm"],
            "converged": raw["converged"],
            "epochs": raw["epochs"],
        },
        columns=list(FINITE_SIZE_COLUMNS),
    )
    df.attrs["settings"] = {"M": M, "delta2": delta2, "backend": spec, "seed": seed}
    return df


def _distinct_ints(name: str, values: Sequence[int]) -> list[int]:
    out = [check_integer(name, v, minimum=1) for v in values]
    if len(set(out)) != len(out) or len(out) < 2:
        raise ValueError(
            f"{name} must hold at least two distinct input dimensions (a trend in N needs "
            f"two), got {tuple(values)!r}"
        )
    return out
