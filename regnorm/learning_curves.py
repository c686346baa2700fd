"""Learning curves of the linear teacher-student model (THEORY C5-C7, article 001 §2).

Teacher ``y = w*^T x + eps`` with ``x ~ N(0, I_N)``, ``||w*||^2 = 1`` (or ``w*_i ~ N(0, 1/N)``),
``eps ~ N(0, delta^2)``, ``P = alpha N`` training samples, ``N -> inf``. The generalization
error is ``E_x[(phi(x) - w*^T x)^2] = ||v - w*||^2`` for a linear student ``phi(x) = v^T x``.

* :func:`eps_sgd` (C5): the pseudo-inverse (minimum-norm least squares, what plain SGD from
  zero converges to).
* :func:`eps_wn` (C6): weight normalization + gamma decay, which is ridge regression
  ``min_v (1/N)||X v - y||^2 + zeta ||v||^2`` (Krogh & Hertz 1992).
* :func:`optimal_zeta` (C7): ``eps_wn`` is minimized at ``zeta = delta^2`` for every alpha.
* :func:`effective_zeta`: the inverse of ``eps_wn`` in ``zeta`` on the branch
  ``0 <= zeta <= delta^2`` (used to read an effective ridge parameter off a measured error, C8).
* :func:`finite_n_pinv`: the exact finite-N mean of the pseudo-inverse error (C5 at finite N).
* :func:`candidate_zetas`: the candidate effective ridge parameters of a BN student (C8).

The first four are NumPy/SciPy-only closed forms, vectorized (broadcast) over their arguments;
they return ``float`` for scalar input and an ndarray otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .marchenko_pastur import resolvent_parts
from .validation import check_integer, check_real, check_real_array

__all__ = [
    "candidate_zetas",
    "effective_zeta",
    "eps_sgd",
    "eps_wn",
    "finite_n_pinv",
    "optimal_zeta",
]


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _alpha(alpha: Any) -> np.ndarray:
    return check_real_array("alpha", alpha, minimum=0.0, min_inclusive=False)


def _delta2(delta2: Any) -> np.ndarray:
    return check_real_array("delta2", delta2, minimum=0.0)


def eps_sgd(alpha: Any, delta2: Any) -> Any:
    """Generalization error of the pseudo-inverse student (C5, article 001 §2.3).

    .. math::

        \\epsilon_{\\rm sgd} = \\begin{cases}
            1 - \\alpha + \\dfrac{\\alpha\\delta^2}{1 - \\alpha}, & \\alpha < 1 \\\\[4pt]
            \\dfrac{\\delta^2}{\\alpha - 1}, & \\alpha > 1
        \\end{cases}

    **Erratum**: the article prints ``delta^2/(1-alpha)`` for ``alpha > 1``, which is negative.

    At ``alpha = 1`` the error is ``+inf`` when ``delta2 > 0`` (the smallest eigenvalue of
    ``X^T X/N`` touches 0 and the pseudo-inverse amplifies the noise without bound) and ``0``
    when ``delta2 = 0`` (both one-sided limits are 0). This is the mathematics, not an error.

    The exact finite-N values for Gaussian ``X`` are :func:`finite_n_pinv`; :func:`eps_sgd`
    is their ``N -> inf`` limit.

    Parameters
    ----------
    alpha : float or array_like
        ``P / N > 0``.
    delta2 : float or array_like
        Teacher noise variance ``delta^2 >= 0``; broadcast against ``alpha``.

    Returns
    -------
    float or ndarray
    """
    a, d2 = np.broadcast_arrays(_alpha(alpha), _delta2(delta2))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = 1.0 - a + a * d2 / (1.0 - a)
        above = d2 / (a - 1.0)
    at_one = np.where(d2 > 0.0, np.inf, 0.0)
    return _out(np.where(a < 1.0, below, np.where(a > 1.0, above, at_one)))


def _eps_wn(a: np.ndarray, z: np.ndarray, d2: np.ndarray) -> np.ndarray:
    a, z, d2 = np.broadcast_arrays(a, z, d2)
    z, a, b, d, s = resolvent_parts(z, a)
    c = (1.0 - a) + z  # D^2 - c^2 = 4 alpha zeta
    with np.errstate(divide="ignore", invalid="ignore"):
        # d(zeta G)/dzeta = G (D - c) / (2 D): for c >= 0 use D - c = 4 alpha zeta/(D + c) and
        # G zeta = s; for c < 0 (alpha > 1 + zeta) D - c has no cancellation and G = 2/(D - b).
        dzg_a = 2.0 * a * s / (d * (d + c))
        g_b = 2.0 / np.where(b < 0.0, d - b, 1.0)
        dzg_b = g_b * (d - c) / (2.0 * d)
        dzg = np.where(c >= 0.0, dzg_a, dzg_b)
        bias = s * (z + s) / d  # = -zeta^2 dG/dzeta
        eps = d2 * dzg + bias
    singular = d == 0.0  # zeta = 0 and alpha = 1 only
    return np.where(singular, np.where(d2 > 0.0, np.inf, 0.0), eps)


def eps_wn(alpha: Any, zeta: Any, delta2: Any) -> Any:
    """Generalization error of WN + gamma decay = ridge regression (C6, article 001 §2.3).

    .. math::

        \\epsilon_{\\rm wn} = \\delta^2 \\frac{\\partial(\\zeta G)}{\\partial\\zeta}
            - \\zeta^2 \\frac{\\partial G}{\\partial \\zeta},

    with ``G`` the Marchenko-Pastur Stieltjes transform (:func:`regnorm.marchenko_pastur.
    stieltjes`), for the ridge problem ``min_v (1/N)||X v - y||^2 + zeta ||v||^2``. The first
    term is the noise variance ``delta^2 (1/N) tr W (W + zeta)^{-2}``, the second the
    shrinkage bias ``zeta^2 (1/N) tr (W + zeta)^{-2}`` (``W = X^T X / N``). Both are computed
    in closed form without finite differences or cancellation:
    ``d(zeta G)/dzeta = G (D - c)/(2D)`` with ``c = 1 - alpha + zeta``,
    ``D - c = 4 alpha zeta / (D + c)``, and ``-zeta^2 G' = s (zeta + s)/D``, ``s = zeta G``.

    ``zeta = 0`` gives :func:`eps_sgd` (C5) exactly, including ``+inf`` at ``alpha = 1``.

    Parameters
    ----------
    alpha : float or array_like
        ``P / N > 0``.
    zeta : float or array_like
        Ridge (gamma-decay) parameter ``>= 0`` on the ridge scale above. A loss-scale
        coefficient ``zeta_loss`` (penalty ``zeta_loss gamma^2`` added to the per-sample mean
        loss ``(1/P) sum``) corresponds to ``zeta = alpha zeta_loss``.
    delta2 : float or array_like
        Teacher noise variance ``>= 0``. All three broadcast together.

    Returns
    -------
    float or ndarray
    """
    z = check_real_array("zeta", zeta, minimum=0.0)
    return _out(_eps_wn(_alpha(alpha), z, _delta2(delta2)))


def optimal_zeta(alpha: Any, delta2: Any) -> Any:
    """The ``zeta`` minimizing :func:`eps_wn`: ``zeta* = delta^2`` for every alpha (C7).

    From :math:`\\partial_\\zeta \\epsilon_{\\rm wn} = (\\delta^2 - \\zeta)(2G' + \\zeta G'')`
    and :math:`2G' + \\zeta G'' = -(2/N)\\operatorname{tr} W (W+\\zeta)^{-3} < 0`. Returned
    broadcast to the shape of ``alpha`` and ``delta2`` (article 001 §2.3: 0.25 for
    ``delta^2 = 0.25``).
    """
    a, d2 = np.broadcast_arrays(_alpha(alpha), _delta2(delta2))
    return _out(np.array(d2, dtype=np.float64, copy=True))


def effective_zeta(eps: Any, alpha: Any, delta2: Any, *, xtol: float = 1e-13) -> Any:
    """Invert :func:`eps_wn` in ``zeta`` on the branch ``0 <= zeta <= delta^2``.

    ``eps_wn`` decreases strictly in ``zeta`` on ``[0, delta^2]`` (C7), from
    :func:`eps_sgd` to the optimum ``eps_wn(alpha, delta^2, delta^2)``. A measured error
    outside that range has no effective ``zeta`` on the branch: the result is ``0`` when
    ``eps >= eps_sgd`` (no regularization detectable) and ``nan`` when ``eps`` is below the
    optimum (no ridge solution is that good), both by the mathematics.

    Parameters
    ----------
    eps : float or array_like
        Measured generalization error(s) ``>= 0``.
    alpha, delta2 : float or array_like
        As in :func:`eps_wn` (``delta2 > 0``); broadcast with ``eps``.
    xtol : float
        Absolute tolerance in ``zeta`` (bisection on ``[0, delta^2]``).

    Returns
    -------
    float or ndarray
    """
    e = check_real_array("eps", eps, minimum=0.0)
    a = _alpha(alpha)
    d2 = check_real_array("delta2", delta2, minimum=0.0, min_inclusive=False)
    e, a, d2 = (np.array(x, dtype=np.float64) for x in np.broadcast_arrays(e, a, d2))
    lo, hi = np.zeros_like(e), d2.copy()
    best = _eps_wn(a, hi, d2)
    top = _eps_wn(a, lo, d2)
    # Vectorized bisection: eps_wn is monotone on the branch, ~50 halvings reach xtol.
    n_iter = int(np.ceil(np.log2(max(float(np.max(d2, initial=1.0)), 1e-300) / xtol))) + 1
    for _ in range(max(n_iter, 1)):
        mid = 0.5 * (lo + hi)
        above = _eps_wn(a, mid, d2) > e
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    z = 0.5 * (lo + hi)
    z = np.where(e >= top, 0.0, z)
    z = np.where(e < best, np.nan, z)
    return _out(z)


def finite_n_pinv(N: int, P: int, delta2: float) -> float:
    """Exact finite-N expected pseudo-inverse error for Gaussian ``X`` (inverse-Wishart means).

    .. math::

        \\epsilon_{\\rm pinv}(N, P) = \\begin{cases}
            1 - \\dfrac{P}{N} + \\dfrac{\\delta^2 P}{N - P - 1}, & P < N - 1 \\\\[4pt]
            \\dfrac{\\delta^2 N}{P - N - 1}, & P > N + 1
        \\end{cases}

    and ``inf`` for ``N - 1 <= P <= N + 1``, where the inverse-Wishart mean does not exist
    (C5, article 001 §2.3). :func:`eps_sgd` is the ``N -> inf`` limit at ``alpha = P/N``.

    Parameters
    ----------
    N, P : int
        Input dimension and number of samples (``>= 1``).
    delta2 : float
        Label-noise variance ``>= 0``.

    Returns
    -------
    float
    """
    N = check_integer("N", N, minimum=1)
    P = check_integer("P", P, minimum=1)
    delta2 = check_real("delta2", delta2, minimum=0.0)
    if P < N - 1:
        return 1.0 - P / N + delta2 * P / (N - P - 1)
    if P > N + 1:
        return delta2 * N / (P - N - 1)
    return math.inf


def candidate_zetas(alpha: float, M: int) -> dict[str, float]:
    """The candidate effective ridge parameters of a BN student (C8), on the ridge scale.

    .. math::

        \\zeta \\in \\Bigl\\{\\frac{1}{2M},\\ \\frac{\\alpha}{2M},\\ \\frac{3}{2M},\\
            \\frac{3\\alpha}{2M}\\Bigr\\}

    keyed ``half_M`` (the article), ``alpha_half_M`` (uncentred: a loss-scale ``1/(2M)``
    mapped to the ridge scale by ``zeta = alpha zeta_loss``), ``three_half_M`` and
    ``alpha_three_half_M`` (centred: the ``mu_B`` term of C4 added). Article 001 §2.3.

    Parameters
    ----------
    alpha : float
        ``P / N > 0``.
    M : int
        Batch size ``>= 1``.

    Returns
    -------
    dict of str to float
    """
    alpha = check_real("alpha", alpha, minimum=0.0, min_inclusive=False)
    M = check_integer("M", M, minimum=1)
    return {
        "half_M": 1.0 / (2 * M),
        "alpha_half_M": alpha / (2 * M),
        "three_half_M": 3.0 / (2 * M),
        "alpha_three_half_M": 3.0 * alpha / (2 * M),
    }
