"""What the batch-noise Monte-Carlo is judged against, beyond :mod:`regnorm.batch_noise`.

:func:`population_zeta`
    ``zeta`` of C4 from the population of an input law of
    :mod:`simulations.batch_noise.input_distributions`, by quadrature.
:func:`gaussian_batch_std_law` and :func:`exact_loss_gap`
    closed forms for Gaussian input (the exact C2 laws of ``sigma_B``; the exact C4 gap of a
    quadratic log-partition), built on :mod:`regnorm.batch_noise`.
"""

from __future__ import annotations

import numpy as np

from regnorm.batch_noise import expected_batch_std, standardization_error
from regnorm.gamma_decay import (
    LOSSES,
    ZetaEstimate,
    gamma_decay_coefficient,
    glm_log_partition,
)
from regnorm.validation import check_choice, check_real

from .input_distributions import input_distribution

__all__ = ["exact_loss_gap", "gaussian_batch_std_law", "population_zeta"]


def population_zeta(
    M: int,
    *,
    loss: str = "squared",
    distribution: str = "gaussian",
    df: float | None = None,
    gamma: float = 1.0,
    beta: float = 0.0,
    center: bool = True,
) -> ZetaEstimate:
    """``zeta`` of C4 from the population (quadrature), not from a sample.

    ``F_gamma = E[A''(gamma Z + beta) Z^2]`` and ``mean_A2 = E[A''(gamma Z + beta)]`` for the
    standardized input ``Z``, integrated by adaptive quadrature (split at the kink of ReLU's
    ``A''``), then :func:`regnorm.gamma_decay.gamma_decay_coefficient` (``center=False``: no
    mean subtraction, the ``mu_B`` part is 0).
    """
    check_choice("loss", loss, LOSSES)
    gamma = check_real("gamma", gamma)
    beta = check_real("beta", beta)
    dist = input_distribution(distribution, df=df)
    rho = dist.excess_kurtosis

    def a2(z: float) -> float:
        return float(glm_log_partition(np.asarray(gamma * z + beta), loss, order=2))

    kinks = (-beta / gamma,) if (loss == "relu" and gamma != 0) else ()
    F = dist.standardized_expect(lambda z: a2(z) * z * z, kinks)
    mean_a2 = dist.standardized_expect(a2, kinks)
    zeta = gamma_decay_coefficient(M, rho=rho, F_gamma=F, mean_A2=mean_a2, center=center)
    var_part = gamma_decay_coefficient(M, rho=rho, F_gamma=F, mean_A2=mean_a2, center=False)
    return ZetaEstimate(
        zeta=zeta,
        variance_part=var_part,
        mean_part=zeta - var_part,
        F_gamma=F,
        mean_A2=mean_a2,
        rho=rho,
    )


def gaussian_batch_std_law(M: int, sigma: float) -> dict[str, float]:
    """Exact ``E[sigma_B]`` and ``Var(sigma_B)`` (``ddof=0``) of a Gaussian batch of ``M``.

    ``M sigma_B^2 / sigma^2`` is chi-squared with ``M - 1`` degrees of freedom, so

    .. math::

        E[\\sigma_B] = \\sigma\\, E_{\\chi}, \\qquad
        \\mathrm{Var}(\\sigma_B) = \\sigma^2 \\frac{M - 1}{M} - E[\\sigma_B]^2

    with ``E_chi`` the chi mean (:func:`regnorm.batch_noise.expected_batch_std`). Claim C2.

    Returns
    -------
    dict
        ``{"std_mean": ..., "std_variance": ...}``, the fields of
        :class:`simulations.batch_noise.BatchStatisticsEstimate` they are compared with.
    """
    mean = sigma * float(expected_batch_std(M, ddof=0))
    return {"std_mean": mean, "std_variance": sigma**2 * (M - 1) / M - mean**2}


def exact_loss_gap(M: int, gamma: float, loss: str, distribution: str, center: bool):
    """The exact C4 gap where ``A`` is quadratic and the input Gaussian, else None.

    For ``A(h) = c h^2`` the Bregman gap is ``c (h_hat - h_bar)^2 = c gamma^2 (z_hat - z)^2``,
    so its mean is ``c gamma^2`` times the C1 error (inside, ``ddof=0``): ``c = 1`` for the
    squared loss, ``1/2`` for the identity link (see
    :func:`regnorm.gamma_decay.glm_log_partition`). None for another loss, another input or
    without mean subtraction (``center=False``).
    """
    half_curvature = {"squared": 1.0, "identity": 0.5}.get(loss)
    if half_curvature is None or distribution != "gaussian" or not center:
        return None
    return half_curvature * gamma * gamma * float(standardization_error(M, inside=True, ddof=0))
