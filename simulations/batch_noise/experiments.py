"""The batch-noise experiments that the figure and the claims checks both run.

Each returns plain rows (one dict per point) that carry every parameter they were computed
at, so a figure and a check computing the same quantity share the code and differ only in
their sizes and seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from regnorm.batch_noise import conditional_error, standardization_error

from .estimators import MIN_M_OUTSIDE, conditional_error_mc, gaussian_standardization_error
from .input_distributions import InputDistribution, input_distribution

__all__ = [
    "CONVENTIONS",
    "M_GRID",
    "conditional_error_rows",
    "convention_points",
    "standardization_error_rows",
]

#: Batch sizes of the C1 experiment.
M_GRID = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: ``(inside, ddof)``: x inside/outside its batch, biased/unbiased batch std.
CONVENTIONS = ((True, 0), (True, 1), (False, 0), (False, 1))


def convention_points(M_grid: Sequence[int] = M_GRID) -> Iterator[tuple[int, bool, int]]:
    """``(M, inside, ddof)`` for each convention, then each ``M``.

    Outside the batch ``M < MIN_M_OUTSIDE`` is left out: the error is infinite (``M <= 3``)
    or has an infinite variance, so no standard error exists.
    """
    for inside, ddof in CONVENTIONS:
        for M in M_grid:
            if inside or M >= MIN_M_OUTSIDE:
                yield M, inside, ddof


def standardization_error_rows(
    trials: int,
    seeds: Callable[[int, bool, int], Any],
    *,
    M_grid: Sequence[int] = M_GRID,
    executor: Any = None,
    backend: Any = None,
) -> list[dict[str, Any]]:
    """C1 for ``N(0,1)`` input: the two-draw estimate and the exact error at each point.

    Parameters
    ----------
    trials : int
        Batches per point.
    seeds : callable ``(M, inside, ddof) -> rng``
        The stream of each point (see :func:`simulations.batch_noise.engine.root_seed`).
    M_grid : sequence of int
        Batch sizes, visited per convention by :func:`convention_points`.
    executor : None or executor spec
    backend : None, str or regnorm.backend.Backend
        Where the batches are drawn (see
        :func:`simulations.batch_noise.gaussian_standardization_error`).

    Returns
    -------
    list of dict
        ``M``, ``inside``, ``ddof``, ``estimate``, ``stderr``, ``exact`` and ``trials``.
    """
    rows = []
    for M, inside, ddof in convention_points(M_grid):
        est = gaussian_standardization_error(
            M,
            trials,
            inside=inside,
            ddof=ddof,
            rng=seeds(M, inside, ddof),
            executor=executor,
            backend=backend,
        )
        rows.append(
            {
                "M": M,
                "inside": inside,
                "ddof": ddof,
                "estimate": est.estimate,
                "stderr": est.stderr,
                "exact": standardization_error(M, inside=inside, ddof=ddof),
                "trials": trials,
            }
        )
    return rows


def conditional_error_rows(
    z: Sequence[float] | np.ndarray,
    M: int,
    trials: int,
    distribution: str | InputDistribution,
    *,
    inside: bool = True,
    rng: Any = None,
    executor: Any = None,
    backend: Any = None,
) -> list[dict[str, Any]]:
    """C3: the conditional error at each ``z`` the input can take, with the first-order law.

    ``distribution`` is a name or an :class:`InputDistribution` (``input_distribution(
    "student_t", df=10)``); the rest as for
    :func:`simulations.batch_noise.conditional_error_mc` (``backend`` included). Values of
    ``z`` outside the standardized support are left out (a unit-variance uniform never
    exceeds ``sqrt(3)``).

    Returns
    -------
    list of dict
        ``distribution`` (its label), ``rho``, ``inside``, ``M``, ``z``, ``estimate``,
        ``stderr``, ``first_order`` (:func:`regnorm.batch_noise.conditional_error`) and
        ``trials``.
    """
    dist = input_distribution(distribution)
    rho = dist.excess_kurtosis
    est = conditional_error_mc(
        z, M, trials, distribution=dist, inside=inside, rng=rng, executor=executor, backend=backend
    )
    lo, hi = dist.standardized_support
    return [
        {
            "distribution": dist.label,
            "rho": rho,
            "inside": inside,
            "M": M,
            "z": zv,
            "estimate": m,
            "stderr": se,
            "first_order": conditional_error(zv, M, rho=rho),
            "trials": trials,
        }
        for zv, m, se in zip(est.grid, est.estimate, est.stderr, strict=True)
        if lo <= zv <= hi
    ]
