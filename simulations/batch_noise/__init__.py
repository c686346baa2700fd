"""Monte-Carlo of the noise of batch statistics (claims C1-C4), with standard errors.

The family, by concern:

:mod:`~simulations.batch_noise.input_distributions`
    the input laws (Gaussian, uniform, Laplace, Student-t, exponential) with the population
    moments the theory needs.
:mod:`~simulations.batch_noise.engine`
    the chunked engine: blocks with their own streams, chunks on a :mod:`regnorm.sweeps`
    executor, power sums added in block order (bit-identical whatever the chunking).
:mod:`~simulations.batch_noise.estimators`
    the Monte-Carlo estimators of C1 (two draws per batch for Gaussian input, full batches
    otherwise), C2, C3 and C4.
:mod:`~simulations.batch_noise.predictions`
    what they are judged against beyond :mod:`regnorm.batch_noise`: ``zeta`` of C4 by
    quadrature over an input law, and two Gaussian closed forms.
:mod:`~simulations.batch_noise.experiments`
    the grids that the figure and the claims checks both run.
:mod:`~simulations.batch_noise.next_order`
    the C1 error's next term ``7/(16 M^2)`` by Monte-Carlo, and its judgement.

Every estimator takes ``backend=`` (None: NumPy; ``"cupy"``; ``"array_api_strict:device1"``
...): the batches are drawn and reduced on that backend's device.

The claims checks are in :mod:`simulations.checks.batch_noise`.

Examples
--------
>>> from simulations.batch_noise import gaussian_standardization_error
>>> est = gaussian_standardization_error(32, 10_000, rng=0)
>>> est.trials
10000
"""

from .engine import BLOCK_DRAWS, GAUSSIAN_BLOCK, block_size
from .estimators import (
    MIN_M_OUTSIDE,
    BatchStatisticsEstimate,
    GridEstimate,
    MonteCarloEstimate,
    batch_statistics_mc,
    conditional_error_mc,
    gaussian_standardization_error,
    loss_gap_mc,
    standardization_error_mc,
)
from .experiments import (
    CONVENTIONS,
    M_GRID,
    conditional_error_rows,
    convention_points,
    standardization_error_rows,
)
from .input_distributions import DISTRIBUTIONS, InputDistribution, input_distribution
from .next_order import (
    NEXT_TERM,
    c1_next_order,
    error_variance,
    next_order_fit,
    trials_for_stderr,
)
from .predictions import exact_loss_gap, gaussian_batch_std_law, population_zeta

__all__ = [
    "BLOCK_DRAWS",
    "CONVENTIONS",
    "DISTRIBUTIONS",
    "GAUSSIAN_BLOCK",
    "MIN_M_OUTSIDE",
    "M_GRID",
    "NEXT_TERM",
    "BatchStatisticsEstimate",
    "GridEstimate",
    "InputDistribution",
    "MonteCarloEstimate",
    "batch_statistics_mc",
    "block_size",
    "c1_next_order",
    "conditional_error_mc",
    "conditional_error_rows",
    "convention_points",
    "error_variance",
    "exact_loss_gap",
    "gaussian_batch_std_law",
    "gaussian_standardization_error",
    "input_distribution",
    "loss_gap_mc",
    "next_order_fit",
    "population_zeta",
    "standardization_error_mc",
    "standardization_error_rows",
    "trials_for_stderr",
]
