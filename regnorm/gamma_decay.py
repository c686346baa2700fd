"""Gamma decay: the penalty ``zeta(h) gamma^2`` that batch-statistics noise adds (claim C4).

Article 001 §1.3-1.4. Expanding a generalized-linear-model loss ``l(h) = A(h) - y h`` of the
BN output ``h_hat = gamma (h - mu_B)/sigma_B + beta`` around the population-normalized
``h_bar = gamma (h - mu_P)/sigma_P + beta`` to second order, and averaging over ``mu_B`` and
``sigma_B`` with their laws (C2) and the conditional error (C3), gives

.. math::

    L_{BN} \\approx L_{PN} + \\zeta(h)\\gamma^2, \\qquad
    \\zeta(h) = \\underbrace{\\frac{\\rho + 2}{8M} F_\\gamma}_{\\text{from } \\sigma_B}
              + \\underbrace{\\frac{\\mu_{A''}}{2M}}_{\\text{from } \\mu_B},

with ``F_gamma = mean A''(h_bar) z^2``, ``mu_A'' = mean A''(h_bar)``, ``z = (h - mu_P)/sigma_P``
and ``rho`` the excess kurtosis of ``h``. The linear term drops out because
``E[y | h] = A'(h_bar)`` at the model's optimum.

The GLM "losses" (log-partition functions ``A``) provided here:

``"identity"``
    identity activation with the canonical Gaussian GLM: ``A(h) = h^2/2`` (``A'' = 1``), i.e.
    ``l = (h - y)^2/2`` up to a term free of ``h``. With ``N(0, 1)`` data ``zeta = 3/(4M)``.
    (The article's "mu_d2A = mean h_bar" for this case is garbled; ``A'' = 1``.)
``"squared"``
    the squared loss ``(h - y)^2``, ``A(h) = h^2`` (``A'' = 2``): ``zeta = 3/(2M)``, the C1 error.
``"relu"``
    ReLU as the limit of softplus: ``A'(h) = relu(h)``, ``A(h) = relu(h)^2/2``,
    ``A'' = H(h)`` (Heaviside, ``H(0) = 1/2``).
``"logistic"``
    logistic regression: ``A(h) = log(1 + e^h)``, ``A' = sigmoid``, ``A'' = sigmoid'``.

Without mean subtraction (``center=False``: no ``mu_B``, as in a layer without bias) the
``mu_B`` term is absent: ``zeta = 1/(2M)`` for the squared loss on ``N(0, 1)`` data.

:func:`glm_log_partition` and :func:`zeta_from_data` are backend-generic (array API);
:func:`gamma_decay_coefficient` is a scalar closed form.
"""

from __future__ import annotations

from typing import NamedTuple

from .backend import array_namespace
from .validation import check_bool, check_choice, check_integer, check_real, check_real_dtype

__all__ = [
    "LOSSES",
    "ZetaEstimate",
    "gamma_decay_coefficient",
    "glm_log_partition",
    "zeta_from_data",
]

#: The GLM log-partition functions ``A`` known to :func:`glm_log_partition`.
LOSSES = ("identity", "squared", "relu", "logistic")


def gamma_decay_coefficient(M, *, rho=0.0, F_gamma, mean_A2, center=True) -> float:
    """The gamma-decay coefficient ``zeta`` of claim C4 from its ingredients.

    .. math::

        \\zeta = \\frac{\\rho + 2}{8M} F_\\gamma + [\\text{center}] \\frac{\\mu_{A''}}{2M}

    Parameters
    ----------
    M : int
        Batch size, ``M >= 2``.
    rho : float
        Excess kurtosis of the pre-activation ``h`` (finite, ``>= -2``).
    F_gamma : float
        ``mean A''(h_bar) z^2`` (the gamma entry of the Fisher information), ``>= 0``.
    mean_A2 : float
        ``mean A''(h_bar)``, ``>= 0``.
    center : bool
        Whether BN subtracts the batch mean (the ``mu_B`` term is present only then).

    Returns
    -------
    float

    Examples
    --------
    >>> gamma_decay_coefficient(32, F_gamma=2.0, mean_A2=2.0)   # squared loss, N(0,1): 3/(2M)
    0.046875
    """
    M = check_integer("M", M, minimum=2)
    rho = check_real("rho", rho, minimum=-2.0)
    F_gamma = check_real("F_gamma", F_gamma, minimum=0.0)
    mean_A2 = check_real("mean_A2", mean_A2, minimum=0.0)
    center = check_bool("center", center)
    zeta = (rho + 2.0) / (8.0 * M) * F_gamma
    if center:
        zeta += mean_A2 / (2.0 * M)
    return zeta


def glm_log_partition(h, loss, *, order=0):
    """The GLM log-partition ``A`` of ``loss`` or its derivative, elementwise (array API).

    Parameters
    ----------
    h : array
        Any shape, any array-API backend.
    loss : {"identity", "squared", "relu", "logistic"}
        See the module docstring for what each means.
    order : {0, 1, 2}
        0: ``A(h)``; 1: ``A'(h)`` (the mean of ``y`` given ``h``); 2: ``A''(h)``.

    Returns
    -------
    array
        Same shape and namespace as ``h``.
    """
    check_choice("loss", loss, LOSSES)
    order = check_choice("order", order, (0, 1, 2))
    xp = array_namespace(h)
    h = check_real_dtype("h", xp.asarray(h))
    if loss in ("identity", "squared"):
        c = 0.5 if loss == "identity" else 1.0
        if order == 0:
            return c * h * h
        if order == 1:
            return 2.0 * c * h
        return xp.full_like(h, 2.0 * c)
    if loss == "relu":
        pos = xp.where(h > 0, h, xp.zeros_like(h))
        if order == 0:
            return 0.5 * pos * pos
        if order == 1:
            return pos
        return 0.5 * (xp.sign(h) + 1.0)
    # logistic, in forms that do not overflow for large |h|
    if order == 0:
        return xp.where(h > 0, h, xp.zeros_like(h)) + xp.log1p(xp.exp(-xp.abs(h)))
    e = xp.exp(-xp.abs(h))
    sig = xp.where(h >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    if order == 1:
        return sig
    return sig * (1.0 - sig)


class ZetaEstimate(NamedTuple):
    """``zeta`` of C4 estimated from a sample, with its parts."""

    zeta: float
    variance_part: float
    """``(rho + 2)/(8M) F_gamma``, from the noise of ``sigma_B``."""
    mean_part: float
    """``mean_A2/(2M)`` from the noise of ``mu_B`` (0 when ``center=False``)."""
    F_gamma: float
    mean_A2: float
    rho: float


def zeta_from_data(h, M, *, loss="relu", gamma=1.0, beta=0.0, center=True) -> ZetaEstimate:
    """Estimate the gamma-decay coefficient ``zeta(h)`` of C4 from pre-activations ``h``.

    The population statistics are those of the sample: ``mu_P = mean h``,
    ``sigma_P = std h``, ``z = (h - mu_P)/sigma_P``, ``rho = mean z^4 - 3``,
    ``h_bar = gamma z + beta``, then

    .. math::

        F_\\gamma = \\overline{A''(\\bar h) z^2}, \\quad
        \\mu_{A''} = \\overline{A''(\\bar h)}, \\quad
        \\zeta = \\frac{\\rho + 2}{8M} F_\\gamma + \\frac{\\mu_{A''}}{2M}.

    Backend-generic (array API); the results are returned as Python floats.

    Parameters
    ----------
    h : array, shape (P,)
        A sample of pre-activations (one unit, all data points), at least 2 values, not all
        equal.
    M : int
        Batch size, ``M >= 2``.
    loss : {"identity", "squared", "relu", "logistic"}
        The GLM (see :func:`glm_log_partition`).
    gamma, beta : float
        BN scale and shift.
    center : bool
        Whether BN subtracts ``mu_B`` (the ``mu_B`` term is dropped otherwise).

    Returns
    -------
    ZetaEstimate

    Examples
    --------
    >>> import numpy as np
    >>> h = np.random.default_rng(0).standard_normal(200_000)
    >>> round(zeta_from_data(h, 32, loss="squared").zeta * 32, 2)   # 3/2
    1.5
    """
    M = check_integer("M", M, minimum=2)
    check_choice("loss", loss, LOSSES)
    gamma = check_real("gamma", gamma)
    beta = check_real("beta", beta)
    center = check_bool("center", center)
    xp = array_namespace(h)
    h = check_real_dtype("h", xp.asarray(h))
    if h.ndim != 1 or h.shape[0] < 2:
        raise ValueError(f"h must be a 1-D array of at least 2 values, got shape {h.shape}")
    if not bool(xp.all(xp.isfinite(h))):
        raise ValueError("h must contain only finite values")
    mu = xp.mean(h)
    sigma = xp.std(h)
    if not float(sigma) > 0:
        raise ValueError("h must not be constant (sigma_P = 0: nothing to normalize)")
    z = (h - mu) / sigma
    z2 = z * z
    rho = float(xp.mean(z2 * z2)) - 3.0
    a2 = glm_log_partition(gamma * z + beta, loss, order=2)
    F = float(xp.mean(a2 * z2))
    mean_a2 = float(xp.mean(a2))
    var_part = (rho + 2.0) / (8.0 * M) * F
    mean_part = mean_a2 / (2.0 * M) if center else 0.0
    return ZetaEstimate(
        zeta=var_part + mean_part,
        variance_part=var_part,
        mean_part=mean_part,
        F_gamma=F,
        mean_A2=mean_a2,
        rho=rho,
    )
