"""The Marchenko-Pastur law of ``X^T X / N`` and its Stieltjes transform (THEORY C6).

``X`` has shape ``(P, N)`` with i.i.d. N(0, 1) entries and ``alpha = P / N``. In the limit
``N, P -> inf`` at fixed ``alpha`` the eigenvalues of the ``N x N`` matrix ``W = X^T X / N``
follow

.. math::

    \\rho(\\lambda) = (1-\\alpha)^+ \\delta(\\lambda)
        + \\frac{\\sqrt{(\\lambda_+ - \\lambda)(\\lambda - \\lambda_-)}}{2\\pi\\lambda}
          \\mathbf 1[\\lambda_- \\le \\lambda \\le \\lambda_+],
    \\qquad \\lambda_\\pm = (1 \\pm \\sqrt\\alpha)^2 ,

and its Stieltjes transform at ``-zeta`` (``zeta >= 0``) is

.. math::

    G(\\zeta) = \\int \\frac{\\rho(\\lambda)\\,d\\lambda}{\\lambda + \\zeta}
      = \\frac{1 - \\alpha - \\zeta + D}{2\\zeta}, \\qquad
      D = \\sqrt{(\\zeta + \\lambda_-)(\\zeta + \\lambda_+)}
        = \\sqrt{(1-\\alpha-\\zeta)^2 + 4\\zeta},

the positive root of :math:`\\zeta G^2 - (1-\\alpha-\\zeta) G - 1 = 0`. Source: article 001
§2.3 (its square root is garbled; **erratum** in THEORY C6).

Numerical stability
-------------------
* ``D`` is computed as ``sqrt((zeta + lambda_-)(zeta + lambda_+))``: a product of positive
  factors, never the difference ``(1-alpha-zeta)^2 + 4 zeta`` of nearly equal terms, and
  ``lambda_- = ((1 - alpha)/(1 + sqrt(alpha)))^2`` so it keeps full relative accuracy near
  ``alpha = 1``.
* When ``b = 1 - alpha - zeta < 0`` the root is rationalized,
  ``G = 2 / (D - b)``, so no cancellation occurs between ``b`` and ``D``; for ``b >= 0`` the
  sum ``b + D`` has no cancellation.
* ``dG/dzeta`` comes from differentiating the quadratic: ``G' = -G (1 + G) / D`` (exact).

All functions are NumPy-only closed forms, vectorized (broadcast) over ``alpha`` and ``zeta``;
they return ``float`` for scalar input and an array otherwise.

Values at the edge of the domain (by the mathematics, not errors): ``G(0) = 1/(alpha - 1)`` for
``alpha > 1`` and ``+inf`` for ``alpha <= 1`` (the point mass at 0, or the ``lambda^{-1/2}``
divergence of the density at ``alpha = 1``); ``dG/dzeta(0) = -inf`` there likewise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import check_real_array

__all__ = [
    "density",
    "lambda_minus",
    "lambda_plus",
    "point_mass",
    "resolvent_parts",
    "stieltjes",
    "stieltjes_derivative",
]


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _alpha(alpha: Any) -> np.ndarray:
    return check_real_array("alpha", alpha, minimum=0.0, min_inclusive=False)


def _zeta(zeta: Any) -> np.ndarray:
    return check_real_array("zeta", zeta, minimum=0.0)


def _lambda_minus(a: np.ndarray) -> np.ndarray:
    # (1 - sqrt a)^2 written without the cancellation of 1 - sqrt(a) near a = 1.
    return ((1.0 - a) / (1.0 + np.sqrt(a))) ** 2


def _lambda_plus(a: np.ndarray) -> np.ndarray:
    return (1.0 + np.sqrt(a)) ** 2


def lambda_minus(alpha: Any) -> Any:
    """Lower edge ``lambda_- = (1 - sqrt(alpha))^2`` of the continuous Marchenko-Pastur part.

    Parameters
    ----------
    alpha : float or array_like
        ``P / N > 0``.

    Returns
    -------
    float or ndarray
        Same shape as ``alpha``. Computed as ``((1-alpha)/(1+sqrt(alpha)))^2`` (full relative
        accuracy near ``alpha = 1``).
    """
    return _out(_lambda_minus(_alpha(alpha)))


def lambda_plus(alpha: Any) -> Any:
    """Upper edge ``lambda_+ = (1 + sqrt(alpha))^2`` of the Marchenko-Pastur law."""
    return _out(_lambda_plus(_alpha(alpha)))


def point_mass(alpha: Any) -> Any:
    """Mass of the atom at ``lambda = 0``: ``max(0, 1 - alpha)`` (rank deficiency of ``X^T X``)."""
    a = _alpha(alpha)
    return _out(np.maximum(0.0, 1.0 - a))


def density(lam: Any, alpha: Any) -> Any:
    """Density of the continuous part of the Marchenko-Pastur law of ``X^T X / N``.

    .. math::

        \\rho_c(\\lambda) = \\frac{\\sqrt{(\\lambda_+ - \\lambda)(\\lambda - \\lambda_-)}}
                                  {2 \\pi \\lambda}, \\quad \\lambda_- \\le \\lambda \\le
                                  \\lambda_+ ,

    zero outside the support. It integrates to ``min(1, alpha)``; the atom at 0 of mass
    :func:`point_mass` is not included. At ``alpha = 1`` and ``lam = 0`` the density is
    ``+inf`` (it diverges like ``lam^{-1/2}``), by the mathematics.

    Parameters
    ----------
    lam : float or array_like
        Eigenvalue(s) ``>= 0``.
    alpha : float or array_like
        ``P / N > 0``; broadcast against ``lam``.
    """
    lam = check_real_array("lam", lam, minimum=0.0)
    a = _alpha(alpha)
    lo, hi = _lambda_minus(a), _lambda_plus(a)
    lam, lo, hi = np.broadcast_arrays(lam, lo, hi)
    inside = (lam >= lo) & (lam <= hi)
    prod = np.where(inside, (hi - lam) * (lam - lo), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.sqrt(np.maximum(prod, 0.0)) / (2.0 * np.pi * lam)
    rho = np.where(inside, rho, 0.0)
    rho = np.where(inside & (lam == 0.0), np.inf, rho)  # only reachable at alpha = 1
    return _out(rho)


def resolvent_parts(zeta: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""The stable pieces of the Stieltjes transform at ``-zeta``, for closed forms built on it.

    Returns ``(zeta, alpha, b, D, s)`` broadcast together, with ``b = 1 - alpha - zeta``,
    ``D = sqrt((zeta + lambda_-)(zeta + lambda_+))`` and ``s = zeta G(-zeta)``, each finite and
    computed without cancellation (``s = (b + D)/2`` for ``b >= 0``, ``2 zeta/(D - b)``
    otherwise). ``zeta >= 0`` and ``alpha > 0`` are the caller's to check (arrays of float64).
    """
    zeta, a = np.broadcast_arrays(zeta, a)
    b = (1.0 - a) - zeta
    d = np.sqrt((zeta + _lambda_minus(a)) * (zeta + _lambda_plus(a)))
    with np.errstate(divide="ignore", invalid="ignore"):
        # s = zeta G = (b + D)/2 for b >= 0 and 2 zeta/(D - b) for b < 0 (D - b > 0 there).
        s = np.where(b >= 0.0, 0.5 * (b + d), 2.0 * zeta / np.where(b < 0.0, d - b, 1.0))
    return zeta, a, b, d, s


def _stieltjes(zeta: np.ndarray, a: np.ndarray) -> np.ndarray:
    zeta, a, b, d, s = resolvent_parts(zeta, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_neg = 2.0 / np.where(b < 0.0, d - b, 1.0)
        g_pos = s / np.where(zeta > 0.0, zeta, 1.0)
    g = np.where(b < 0.0, g_neg, g_pos)
    # zeta = 0 with alpha <= 1: atom at 0 or lambda^{-1/2} edge -> G = +inf.
    return np.where((zeta == 0.0) & (b >= 0.0), np.inf, g)


def stieltjes(zeta: Any, alpha: Any) -> Any:
    """Stieltjes transform ``G(zeta)`` of the Marchenko-Pastur law of ``X^T X / N`` at ``-zeta``.

    .. math::

        G(\\zeta) = \\frac{1}{N}\\operatorname{tr}\\left(\\frac{X^T X}{N} + \\zeta\\right)^{-1}
          \\to \\frac{1 - \\alpha - \\zeta + \\sqrt{(\\zeta + \\lambda_-)(\\zeta + \\lambda_+)}}
                     {2 \\zeta}

    (THEORY C6, article 001 §2.3), evaluated without cancellation (see the module docstring).

    Parameters
    ----------
    zeta : float or array_like
        Ridge parameter ``>= 0``.
    alpha : float or array_like
        ``P / N > 0``; broadcast against ``zeta``.

    Returns
    -------
    float or ndarray
        ``G >= 0``. ``G(0) = 1/(alpha-1)`` for ``alpha > 1`` and ``+inf`` for ``alpha <= 1``.

    Raises
    ------
    ValueError
        ``zeta < 0``, ``alpha <= 0`` or a non-finite value.
    """
    return _out(_stieltjes(_zeta(zeta), _alpha(alpha)))


def _stieltjes_derivative(zeta: np.ndarray, a: np.ndarray) -> np.ndarray:
    g = _stieltjes(zeta, a)
    _, _, _, d, _ = resolvent_parts(zeta, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        gp = -g * (1.0 + g) / d
    return np.where(np.isinf(g), -np.inf, gp)


def stieltjes_derivative(zeta: Any, alpha: Any) -> Any:
    """Exact derivative ``dG/dzeta = -G (1 + G) / D`` of :func:`stieltjes`.

    Obtained by differentiating :math:`\\zeta G^2 - (1-\\alpha-\\zeta) G - 1 = 0`, with
    :math:`D = 2\\zeta G - (1-\\alpha-\\zeta) = \\sqrt{(\\zeta+\\lambda_-)(\\zeta+\\lambda_+)}`.
    Equals ``-(1/N) tr (X^T X/N + zeta)^{-2}`` in the limit. ``-inf`` at ``zeta = 0`` for
    ``alpha <= 1``; ``-alpha/(alpha-1)^3`` at ``zeta = 0`` for ``alpha > 1``.

    Parameters
    ----------
    zeta : float or array_like
        ``>= 0``.
    alpha : float or array_like
        ``> 0``; broadcast against ``zeta``.
    """
    return _out(_stieltjes_derivative(_zeta(zeta), _alpha(alpha)))
