"""The next term of the C1 error, ``7/(16 M^2)``, resolved by Monte-Carlo (meant for a GPU).

For ``x ~ N(0, 1)`` inside its batch of ``M`` with the biased batch std (THEORY.md C1), the
exact error ``eps(M) = 2 - 2 E[sigma_B]`` (:func:`regnorm.batch_noise.standardization_error`)
has the series

.. math::

    \\varepsilon(M) = \\frac{3}{2M} + \\frac{7}{16 M^2} + \\frac{9}{64 M^3} + O(M^{-4})

(from ``E[sigma_B] = sqrt((M-1)/M) E[chi_{M-1}]/sqrt(M-1)`` and the series of the Gamma ratio
in :mod:`regnorm.batch_noise`), so ``y(M) = M^2 (eps(M) - 3/(2M)) = 7/16 + 9/(64 M) + ...``.
:func:`c1_next_order` estimates ``y(M)`` with the two-draw estimator (one normal and one gamma
draw per batch) and :func:`next_order_fit` judges ``7/16`` from the estimates.

**Cost.** ``M e`` has variance ``v(M) -> 5/2`` (:func:`error_variance`), so the standard error
of the estimate of ``y(M)`` from ``T`` batches is ``M sqrt(v(M)/T)``: a standard error ``s``
needs ``T = v(M) M^2 / s^2`` batches (:func:`trials_for_stderr`), for ``s = 0.01``

====== ================= =====================================================
M      batches T         at ``R`` normal + gamma pairs per second
====== ================= =====================================================
64     1.02e8            ``1.02e8 / R`` s
256    1.64e9            ``1.64e9 / R`` s
1024   2.62e10           ``2.62e10 / R`` s (e.g. 26 s at ``R = 1e9/s``)
====== ================= =====================================================

whatever the memory: the engine keeps one block on the device (about 6 float64 vectors of the
block's length: 13 MB for the default ``2^18`` batches, 0.8 GB for ``block=2**24``). ``R`` is
the rate that ``benchmarks/gpu.py`` measures for CuPy's raw draws; each block starts a fresh
generator of the seed rule, so on a GPU a large ``block`` keeps that start-up cost small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from regnorm.batch_noise import expected_batch_std, standardization_error
from regnorm.claims import DEFAULT_Z_BOUND
from regnorm.seeding import seed_sequence
from regnorm.validation import check_integer, check_real

from . import _kernels
from .engine import GAUSSIAN_BLOCK, device_backend, mean_from_sums, simulate

__all__ = [
    "NEXT_TERM",
    "c1_next_order",
    "error_variance",
    "next_order_fit",
    "trials_for_stderr",
]

#: The coefficient of ``1/M^2`` in the C1 error (inside the batch, biased std): exact.
NEXT_TERM = 7.0 / 16.0

_STREAM = "C1 next order"


def error_variance(M: int) -> float:
    """``Var(M e)`` of the per-batch C1 error ``e`` (inside, ``ddof=0``), exactly.

    ``M e = A + Z^2`` with ``A = (sqrt(S) - sqrt(M))^2``, ``S ~ chi2(M - 1)`` and
    ``Z ~ N(0, 1)`` independent; the moments of ``sqrt(S)`` give
    ``Var(A) = 4M^2 - 2M - 2 - 4q^2 - 4q`` with ``q = sqrt(M) E[sqrt(S)] = M E[sigma_B]``,
    and ``Var(Z^2) = 2``; ``v -> 5/2`` as ``M`` grows.
    """
    M = check_integer("M", M, minimum=2)
    q = M * expected_batch_std(M)
    return 4.0 * M * M - 2.0 * M - 4.0 * q * q - 4.0 * q


def trials_for_stderr(M: int, stderr: float = 0.01) -> int:
    """Batches for a standard error ``stderr`` of ``M^2 (eps - 3/(2M))``: ``v(M) M^2/s^2``."""
    M = check_integer("M", M, minimum=2)
    stderr = check_real("stderr", stderr, minimum=0.0, min_inclusive=False, allow_inf=False)
    return math.ceil(error_variance(M) * M * M / (stderr * stderr))


def _trials_per_M(Ms: tuple[int, ...], trials: Any) -> tuple[int, ...]:
    if isinstance(trials, Sequence | np.ndarray) and not isinstance(trials, str):
        if len(trials) != len(Ms):
            raise ValueError(
                f"trials has {len(trials)} entries for {len(Ms)} batch sizes Ms={Ms}; give one "
                "int for all, or one per M"
            )
        return tuple(check_integer("trials", t, minimum=2) for t in trials)
    return (check_integer("trials", trials, minimum=2),) * len(Ms)


def c1_next_order(
    Ms: Sequence[int] = (64, 256, 1024),
    trials: int | Sequence[int] = 10**6,
    *,
    backend: Any = None,
    seed: int = 0,
    block: int | None = None,
    executor: Any = None,
) -> pd.DataFrame:
    """Monte-Carlo estimates of ``y(M) = M^2 (eps(M) - 3/(2M))``, whose limit is ``7/16``.

    Parameters
    ----------
    Ms : sequence of int
        Batch sizes, each ``>= 2``, distinct.
    trials : int or sequence of int
        Batches per ``M`` (one for all, or one per ``M``), each ``>= 2``; see
        :func:`trials_for_stderr` for what a standard error costs.
    backend : None, str or regnorm.backend.Backend
        Where the batches are drawn and reduced (None: NumPy; ``"cupy"`` on a GPU).
    seed : int
        Root seed; the stream of ``M`` is ``seed_sequence(seed, "C1 next order", M)``.
    block : int or None
        Batches per block, one generator each (default ``GAUSSIAN_BLOCK``, as the C1
        estimator); another value draws other batches from the same seed.
    executor : None or executor spec
        Where NumPy's chunks run (with a device backend only None or ``"inprocess"``).

    Returns
    -------
    pandas.DataFrame
        One row per ``M``: ``M``, ``trials``, ``estimate`` and ``stderr`` of ``y(M)``,
        ``exact`` (``y(M)`` from the closed form), ``z_exact`` (estimate against it),
        ``next_term`` (7/16) and ``z_next_term`` (estimate against 7/16: the two differ
        by ``9/(64 M)``). ``attrs["settings"]`` holds the parameters; judge 7/16 with
        :func:`next_order_fit`.

    Raises
    ------
    ValueError, TypeError
        A parameter out of range (named in the message), an unknown backend, a device
        backend with an executor that runs elsewhere.
    regnorm.backend.BackendUnavailableError
        ``backend`` names a library or device that this machine does not have.

    Examples
    --------
    >>> df = c1_next_order(Ms=(8, 16), trials=20_000, seed=1)
    >>> df.columns.tolist()[:4]
    ['M', 'trials', 'estimate', 'stderr']
    """
    if not isinstance(Ms, Sequence | np.ndarray) or isinstance(Ms, str) or len(Ms) == 0:
        raise ValueError(f"Ms must be a non-empty sequence of batch sizes, got {Ms!r}")
    Ms = tuple(
        check_integer("M", int(M) if isinstance(M, np.integer) else M, minimum=2) for M in Ms
    )
    if len(set(Ms)) != len(Ms):
        raise ValueError(f"Ms must be distinct batch sizes, got {Ms}")
    per_M = _trials_per_M(Ms, trials)
    seed = check_integer("seed", seed, minimum=0)
    block = GAUSSIAN_BLOCK if block is None else check_integer("block", block, minimum=1)
    device = device_backend(backend, executor)
    kernel = _kernels.gaussian_c1 if device is None else _kernels.gaussian_c1_device
    rows = []
    for M, T in zip(Ms, per_M, strict=True):
        ps = simulate(
            kernel,
            (M, 0, True),
            T,
            block,
            rng=seed_sequence(seed, _STREAM, M),
            executor=executor,
            backend=device,
        )
        mean = mean_from_sums(ps, 0.0)
        est = M * M * float(mean.value) - 1.5 * M
        se = M * M * float(mean.stderr)
        exact = M * M * standardization_error(M) - 1.5 * M
        rows.append(
            {
                "M": M,
                "trials": T,
                "estimate": est,
                "stderr": se,
                "exact": exact,
                "z_exact": (est - exact) / se,
                "next_term": NEXT_TERM,
                "z_next_term": (est - NEXT_TERM) / se,
            }
        )
    df = pd.DataFrame(rows)
    df.attrs["settings"] = {
        "backend": "numpy" if device is None else device.spec,
        "seed": seed,
        "block": block,
    }
    return df


def _weighted_intercept(inv_M: np.ndarray, y: np.ndarray, se: np.ndarray):
    """Intercept ``a``, its standard error and the residual chi-square of ``y = a + b/M``
    weighted by ``1/se^2`` (known standard errors)."""
    X = np.stack([np.ones_like(inv_M), inv_M], axis=1) / se[:, None]
    coef, *_ = np.linalg.lstsq(X, y / se, rcond=None)
    cov = np.linalg.inv(X.T @ X)
    resid = y / se - X @ coef
    return float(coef[0]), float(math.sqrt(cov[0, 0])), float(resid @ resid)


def next_order_fit(df: pd.DataFrame, *, z_bound: float = DEFAULT_Z_BOUND) -> dict[str, Any]:
    """The judgement of ``7/16`` from :func:`c1_next_order`'s estimates.

    The estimates of ``y(M)`` are fitted by ``a + b/M`` (weighted least squares with their
    standard errors), whose intercept ``a`` is the limit ``7/16``. Each estimate is the mean
    of millions of independent batches with its own standard error, so it is normal with a
    known variance, and so is ``a`` (a fixed linear combination of them): ``a`` is judged
    with a normal z, not a Student t over the few points, and the fit's residual chi-square
    has ``len(M) - 2`` degrees of freedom. The same fit of the exact ``y(M)`` gives the
    model's own bias (the ``1/M^2`` terms it leaves out), which must be small against the
    standard error for the verdict to be about the Monte-Carlo.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`c1_next_order`, at least two ``M``.
    z_bound : float
        ``|z|`` at or below which the estimate agrees with a value.

    Returns
    -------
    dict
        ``intercept``, ``stderr``, ``z`` (against 7/16), ``holds`` (``|z| <= z_bound``),
        ``resolved`` (``7/16`` is more than ``z_bound`` standard errors from 0, so the fit
        sees the term), ``model_bias`` (the exact values' intercept minus 7/16), ``chi2``,
        ``chi2_dof``, ``chi2_p`` (None with two points) and ``per_M_holds`` (every
        ``|z_exact| <= z_bound``).
    """
    if len(df) < 2:
        raise ValueError(f"next_order_fit needs estimates at two M or more, got {len(df)}")
    z_bound = check_real("z_bound", z_bound, minimum=0.0, min_inclusive=False)
    inv_M = 1.0 / df["M"].to_numpy(dtype=np.float64)
    se = df["stderr"].to_numpy(dtype=np.float64)
    a, se_a, chi2 = _weighted_intercept(inv_M, df["estimate"].to_numpy(dtype=np.float64), se)
    exact_a, _, _ = _weighted_intercept(inv_M, df["exact"].to_numpy(dtype=np.float64), se)
    dof = len(df) - 2
    from scipy import stats

    z = (a - NEXT_TERM) / se_a
    return {
        "intercept": a,
        "stderr": se_a,
        "z": z,
        "holds": bool(abs(z) <= z_bound),
        "resolved": bool(NEXT_TERM / se_a > z_bound),
        "model_bias": exact_a - NEXT_TERM,
        "chi2": chi2,
        "chi2_dof": dof,
        "chi2_p": float(stats.chi2.sf(chi2, dof)) if dof > 0 else None,
        "per_M_holds": bool((df["z_exact"].abs() <= z_bound).all()),
    }
