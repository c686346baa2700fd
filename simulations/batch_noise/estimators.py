"""Monte-Carlo estimators of the noise of batch statistics (claims C1-C4), with standard errors.

Every estimator simulates ``trials`` independent batches on the chunked engine
(:mod:`simulations.batch_noise.engine`: bit-identical whatever the chunking or executor,
memory bounded by one block) and returns the estimate with its standard error.

:func:`gaussian_standardization_error`
    C1 for ``N(0,1)`` input with **two random draws per batch**: ``mu_B ~ N(0, 1/M)`` and
    ``S = sum_i (x_i - mu_B)^2 ~ chi2(M-1)`` are independent (Cochran), and the per-batch
    error is a function of them alone: ``(sqrt(M - ddof) - sqrt(S))^2/M + mu_B^2`` (``x``
    inside the batch, averaged over its members) or ``(1/s - 1)^2 + mu_B^2/s^2`` (``x``
    outside, averaged over ``x ~ N(0,1)`` analytically).
:func:`standardization_error_mc`
    the same error from full batches of any input distribution (standardized by its
    population statistics).
:func:`batch_statistics_mc`
    C2: ``Var(mu_B)``, ``E[sigma_B]``, ``Var(sigma_B)``.
:func:`conditional_error_mc`
    C3: ``E[((h - mu_B)/sigma_B - z)^2 | z]`` on a grid of ``z`` (conditioning exactly on the
    value, no binning; common random numbers across ``z``).
:func:`loss_gap_mc`
    C4: the expected BN loss minus the PN loss, ``E[l(h_hat) - l(h_bar)]``, on a grid of
    ``gamma`` (compare with :func:`simulations.batch_noise.population_zeta`).

Conventions: ``inside=True`` means the standardized value belongs to its batch (training);
``inside=False`` that it is independent of it. With ``x`` outside the batch the per-batch
error has a finite variance only for ``M >= 6`` (it involves ``E[1/sigma_B^4]``), so those
estimators refuse ``M < 6`` (a standard error could not be estimated).

Backends: every estimator takes ``backend=`` (None: NumPy, with its kernels and executors;
``"cupy"``, ``"array_api_strict:device1"``, any spec of
:func:`regnorm.backend.resolve_backend`): then every draw is made on the device from the
same block streams, the power sums are reduced there, and only their total crosses to the
host (see :mod:`simulations.batch_noise.engine`). On array-api-strict the draws are NumPy's
own numbers (a Student-t input excepted, see
:mod:`simulations.batch_noise.input_distributions`), so the estimates equal NumPy's to
rounding; CuPy draws its own numbers, so its estimates agree with NumPy's within their
standard errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from regnorm.estimates import Estimate
from regnorm.gamma_decay import LOSSES
from regnorm.validation import (
    check_bool,
    check_choice,
    check_integer,
    check_real,
    check_real_array,
)

from . import _kernels
from .engine import (
    GAUSSIAN_BLOCK,
    block_size,
    device_backend,
    mean_from_sums,
    simulate,
    variance_from_sums,
)
from .input_distributions import InputDistribution, input_distribution

__all__ = [
    "MIN_M_OUTSIDE",
    "BatchStatisticsEstimate",
    "GridEstimate",
    "MonteCarloEstimate",
    "batch_statistics_mc",
    "conditional_error_mc",
    "gaussian_standardization_error",
    "loss_gap_mc",
    "standardization_error_mc",
]

#: With x outside the batch, the error's variance needs E[1/sigma_B^4] < inf: M - 1 > 4.
MIN_M_OUTSIDE = 6


class MonteCarloEstimate(NamedTuple):
    """A Monte-Carlo estimate, its standard error, and the number of batches simulated.

    ``trials`` is the number of Monte-Carlo draws (batches), not degrees of freedom: the
    estimate is a large-sample normal one, :meth:`as_estimate` gives it as a
    :class:`regnorm.estimates.Estimate` (``dof=None``).
    """

    estimate: float
    stderr: float
    trials: int

    def as_estimate(self) -> Estimate:
        """The estimate as a :class:`regnorm.estimates.Estimate` (``dof=None``)."""
        return Estimate(self.estimate, self.stderr, None)


class GridEstimate(NamedTuple):
    """Estimates on a grid (``z`` of C3, ``gamma`` of C4): arrays of the grid's shape."""

    grid: np.ndarray
    estimate: np.ndarray
    stderr: np.ndarray
    trials: int


class BatchStatisticsEstimate(NamedTuple):
    """C2: estimates of ``Var(mu_B)``, ``E[sigma_B]`` and ``Var(sigma_B)``."""

    mean_variance: MonteCarloEstimate
    std_mean: MonteCarloEstimate
    std_variance: MonteCarloEstimate


def _scalar(est: Estimate, trials: int) -> MonteCarloEstimate:
    return MonteCarloEstimate(float(est.value), float(est.stderr), int(trials))


def _grid(grid: np.ndarray, est: Estimate, trials: int) -> GridEstimate:
    return GridEstimate(grid, est.value, est.stderr, trials)


# ---------------------------------------------------------------------------------------------
# Argument checks


def _grid_values(name: str, value: Any) -> np.ndarray:
    arr = check_real_array(name, value)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of values, got shape {arr.shape}")
    return arr


def _check_common(M, trials, ddof=0, inside=True):
    M = check_integer("M", M, minimum=2)
    trials = check_integer("trials", trials, minimum=2)
    ddof = check_choice("ddof", ddof, (0, 1))
    check_bool("inside", inside)
    if not inside and M < MIN_M_OUTSIDE:
        raise ValueError(
            f"M={M} with inside=False: the per-batch error has infinite variance for M < "
            f"{MIN_M_OUTSIDE} (it needs E[1/sigma_B^4]), so no standard error can be estimated "
            "(and for M <= 3 the error itself is infinite)"
        )
    return M, trials, ddof


def _dist_key(dist: InputDistribution) -> tuple:
    """``(name, df)``: what a kernel rebuilds the law from, small to send to a worker."""
    return (dist.name, dict(dist.params).get("df"))


# ---------------------------------------------------------------------------------------------
# C1


def gaussian_standardization_error(
    M: int,
    trials: int,
    *,
    inside: bool = True,
    ddof: int = 0,
    rng: Any = None,
    chunk_blocks: int = 8,
    executor: Any = None,
    backend: Any = None,
) -> MonteCarloEstimate:
    """C1 error for ``N(0,1)`` input by the two-draw-per-batch estimator.

    Estimates ``E[((x - mu_B)/sigma_B - x)^2]`` (claim C1, article 001 §1.1) from ``trials``
    batches, drawing only ``mu_B ~ N(0, 1/M)`` and ``S ~ chi2(M - 1)`` per batch:

    .. math::

        e_{\\rm in} = \\frac{(\\sqrt{M - d} - \\sqrt{S})^2}{M} + \\mu_B^2, \\qquad
        e_{\\rm out} = \\Big(\\frac{1}{s} - 1\\Big)^2 + \\frac{\\mu_B^2}{s^2},
        \\quad s^2 = \\frac{S}{M - d}.

    ``e_in`` is the exact average of the error over the batch's own ``M`` members; ``e_out``
    the exact average over an independent ``x ~ N(0, 1)``.

    Parameters
    ----------
    M : int
        Batch size, ``>= 2`` (``>= 6`` with ``inside=False``).
    trials : int
        Number of simulated batches, ``>= 2``.
    inside, ddof
        The convention (see :func:`regnorm.batch_noise.standardization_error`).
    rng : None, int, SeedSequence or Generator
        Root of the block seeds (a Generator spawns a child ``SeedSequence``).
    chunk_blocks : int
        Blocks of ``GAUSSIAN_BLOCK`` batches per task; changes nothing in the result.
    executor : None or executor spec
        Where the chunks run (see :func:`regnorm.sweeps.resolve_executor`); with a device
        ``backend`` only None or ``"inprocess"``.
    backend : None, str or regnorm.backend.Backend
        Where the batches are drawn and reduced (see the module docstring); None: NumPy.

    Returns
    -------
    MonteCarloEstimate

    Raises
    ------
    ValueError, TypeError
        A parameter out of range (named in the message), an unknown ``backend``, or a device
        ``backend`` with an executor that runs elsewhere.
    regnorm.backend.BackendUnavailableError
        ``backend`` names a library or device that this machine does not have.
    """
    M, trials, ddof = _check_common(M, trials, ddof, inside)
    device = device_backend(backend, executor)
    ps = simulate(
        _kernels.gaussian_c1 if device is None else _kernels.gaussian_c1_device,
        (M, ddof, inside),
        trials,
        block_size(M, gaussian_two_draw=True),
        rng=rng,
        chunk_blocks=chunk_blocks,
        executor=executor,
        backend=device,
    )
    return _scalar(mean_from_sums(ps, 0.0), trials)


def standardization_error_mc(
    M: int,
    trials: int,
    *,
    distribution: str = "gaussian",
    df: float | None = None,
    inside: bool = True,
    ddof: int = 0,
    rng: Any = None,
    chunk_blocks: int = 4,
    executor: Any = None,
    backend: Any = None,
) -> MonteCarloEstimate:
    """C1 error from full batches of ``M`` draws of ``distribution`` (standardized).

    ``h`` is standardized with its population statistics, ``x = (h - mu_P)/sigma_P``, then
    batch-standardized; the per-batch error is the same function of ``(mu_B, S)`` as in
    :func:`gaussian_standardization_error` (for ``x`` outside the batch the average over an
    independent ``x`` with mean 0 and variance 1 is exact for any distribution). To first order
    the expected error is ``(rho + 6)/(4M)`` (C3 averaged over ``z``).

    Parameters are those of :func:`gaussian_standardization_error` (``backend`` included),
    plus ``distribution`` (a name or an ``InputDistribution``) and ``df``, as in every
    estimator here (see :func:`simulations.batch_noise.input_distribution`).
    """
    M, trials, ddof = _check_common(M, trials, ddof, inside)
    dist = input_distribution(distribution, df=df)
    device = device_backend(backend, executor)
    ps = simulate(
        _kernels.full_c1,
        (M, ddof, inside, _dist_key(dist)),
        trials,
        block_size(M),
        rng=rng,
        chunk_blocks=chunk_blocks,
        executor=executor,
        backend=device,
    )
    return _scalar(mean_from_sums(ps, 1.5 / M), trials)


# ---------------------------------------------------------------------------------------------
# C2


def batch_statistics_mc(
    M: int,
    trials: int,
    *,
    distribution: str = "gaussian",
    df: float | None = None,
    rng: Any = None,
    chunk_blocks: int = 4,
    executor: Any = None,
    backend: Any = None,
) -> BatchStatisticsEstimate:
    """C2: the law of ``mu_B`` and ``sigma_B`` (``ddof=0``) measured on full batches.

    Returns estimates of ``Var(mu_B) = E[(mu_B - mu_P)^2]`` (``mu_P`` known), ``E[sigma_B]``
    and ``Var(sigma_B)`` (sample variance; its standard error by the delta method,
    ``sqrt((m4 - m2^2)/trials)``), on the distribution's natural scale (``sigma_P != 1``
    for uniform, Laplace and Student-t). Compare with
    :func:`regnorm.batch_noise.batch_statistics_law`.

    ``rng``, ``chunk_blocks``, ``executor`` and ``backend`` as in
    :func:`gaussian_standardization_error`.

    Raises
    ------
    ValueError
        for a distribution without a finite fourth moment (Student-t with ``df <= 4``).
    """
    M, trials, _ = _check_common(M, trials)
    dist = input_distribution(distribution, df=df)
    sd = dist.std
    device = device_backend(backend, executor)
    ps = simulate(
        _kernels.batch_statistics,
        (M, _dist_key(dist), sd * sd / M, sd),
        trials,
        block_size(M),
        rng=rng,
        chunk_blocks=chunk_blocks,
        executor=executor,
        backend=device,
    )
    return BatchStatisticsEstimate(
        mean_variance=_scalar(mean_from_sums(ps[0], sd * sd / M), trials),
        std_mean=_scalar(mean_from_sums(ps[1], sd), trials),
        std_variance=_scalar(variance_from_sums(ps[1]), trials),
    )


# ---------------------------------------------------------------------------------------------
# C3


def conditional_error_mc(
    z: Sequence[float] | np.ndarray,
    M: int,
    trials: int,
    *,
    distribution: str = "gaussian",
    df: float | None = None,
    inside: bool = True,
    ddof: int = 0,
    rng: Any = None,
    chunk_blocks: int = 4,
    executor: Any = None,
    backend: Any = None,
) -> GridEstimate:
    """C3: ``E[((h - mu_B)/sigma_B - z)^2 | z]`` for each standardized value ``z`` (gamma=1).

    Conditioning is exact: ``h = mu_P + sigma_P z`` is placed in a batch of ``M - 1`` other
    draws (``inside=True``) or standardized with the statistics of ``M`` independent draws
    (``inside=False``). The batch statistics with ``h`` included follow from the others' mean
    ``m`` and scatter ``S'``: ``mu_B = ((M-1) m + z)/M``, ``S = S' + (M-1)/M (z - m)^2``.
    For Gaussian input ``m`` and ``S'`` are drawn directly (2 draws per batch). The same
    batches serve every ``z`` (common random numbers: smooth curves).
    ``distribution``, ``df`` as in :func:`standardization_error_mc`;
    ``rng``, ``chunk_blocks``, ``executor`` and ``backend`` as in
    :func:`gaussian_standardization_error`.

    Returns
    -------
    GridEstimate
        ``grid`` = ``z``; compare ``estimate`` with
        :func:`regnorm.batch_noise.conditional_error` (and, for Gaussian input outside the
        batch, :func:`regnorm.batch_noise.gaussian_conditional_error`).
    """
    zs = _grid_values("z", z)
    M, trials, ddof = _check_common(M, trials, ddof, inside)
    dist = input_distribution(distribution, df=df)
    block = block_size(M) if dist.name != "gaussian" else GAUSSIAN_BLOCK // 4
    device = device_backend(backend, executor)
    ps = simulate(
        _kernels.conditional_error,
        (M, ddof, inside, _dist_key(dist), tuple(float(v) for v in zs)),
        trials,
        block,
        rng=rng,
        chunk_blocks=chunk_blocks,
        executor=executor,
        backend=device,
    )
    return _grid(zs, mean_from_sums(ps, 0.0), trials)


# ---------------------------------------------------------------------------------------------
# C4


def loss_gap_mc(
    gamma: Sequence[float] | np.ndarray,
    M: int,
    trials: int,
    *,
    loss: str = "squared",
    distribution: str = "gaussian",
    df: float | None = None,
    beta: float = 0.0,
    center: bool = True,
    rng: Any = None,
    chunk_blocks: int = 4,
    executor: Any = None,
    backend: Any = None,
) -> GridEstimate:
    """C4: expected BN loss minus PN loss, ``E[l(h_hat) - l(h_bar)]``, for each ``gamma``.

    Batches of ``M`` standardized draws ``z`` (each sample inside its batch, as in training);
    ``h_bar = gamma z + beta`` (PN) and ``h_hat = gamma (z - mu_B)/sigma_B + beta`` (BN;
    ``center=False``: ``gamma z / sigma_B + beta``, no ``mu_B``). Targets follow the GLM,
    ``E[y | h] = A'(h_bar)``; since ``l = A(h) - y h`` is linear in ``y``, ``y`` is integrated
    out exactly, leaving the Bregman divergence

    .. math::

        E[l(\\hat h) - l(\\bar h)] = E[A(\\hat h) - A(\\bar h) - A'(\\bar h)(\\hat h - \\bar h)],

    which C4 predicts to be ``zeta gamma^2``
    (:func:`simulations.batch_noise.population_zeta`). For the squared loss it is exactly
    ``gamma^2`` times the C1 error (inside, ``ddof=0``).

    ``rng``, ``chunk_blocks``, ``executor`` and ``backend`` as in
    :func:`gaussian_standardization_error`.

    Returns
    -------
    GridEstimate
        ``grid`` = ``gamma``.
    """
    gammas = _grid_values("gamma", gamma)
    check_choice("loss", loss, LOSSES)
    beta = check_real("beta", beta)
    check_bool("center", center)
    M, trials, _ = _check_common(M, trials)
    dist = input_distribution(distribution, df=df)
    device = device_backend(backend, executor)
    ps = simulate(
        _kernels.loss_gap,
        (M, _dist_key(dist), tuple(float(v) for v in gammas), beta, loss, center),
        trials,
        block_size(M),
        rng=rng,
        chunk_blocks=chunk_blocks,
        executor=executor,
        backend=device,
    )
    return _grid(gammas, mean_from_sums(ps, 0.0), trials)
