"""Population normalization equals weight normalization for isotropic Gaussian input (C13).

Article 001 §1.5. For ``h = w^T x`` with ``x ~ N(m, s^2 I)`` the population statistics are
``mu_P = w^T m`` and ``sigma_P = s ||w||``, so PN is WN with a shifted bias:

.. math::

    \\bar h = \\gamma \\frac{w^T x - \\mu_P}{\\sigma_P} + \\beta
            = v \\frac{w^T x}{\\|w\\|} + b, \\qquad
    v = \\frac{\\gamma}{s}, \\quad b = \\beta - \\frac{\\gamma \\mu_P}{s \\|w\\|}.

**Erratum** (found here): the article (and THEORY.md C13) writes ``v = gamma/a`` for
"covariance ``a I``". With covariance ``a I`` the standard deviation is ``sqrt(a)`` and the
mapping is ``v = gamma/sqrt(a)``; ``v = gamma/a`` is right when ``a`` is the per-coordinate
*standard deviation* (covariance ``a^2 I``). The functions here take that standard deviation
``std`` (so ``v = gamma/std`` is the article's formula with ``a = std``). For an anisotropic
covariance ``Sigma``, ``sigma_P = sqrt(w^T Sigma w)`` is not proportional to ``||w||`` and PN
is not a WN layer with a ``w``-independent scale.

Backend-generic (array API).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .backend import array_namespace, device_of
from .validation import check_real, check_real_array, check_real_dtype

__all__ = [
    "WNParameters",
    "pn_wn_gap",
    "population_normalize",
    "weight_normalize",
    "wn_parameters",
]


class WNParameters(NamedTuple):
    """WN parameters ``(v, b)`` equivalent to a PN layer (C13)."""

    v: float
    b: float


def _vector(name, w, xp):
    w = check_real_dtype(name, xp.asarray(w))
    if w.ndim != 1 or w.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {w.shape}")
    return w


def _real_like(name, value, w):
    """``value`` (a real number, a sequence of them or a real array) as an array of ``w``'s
    namespace, dtype and device."""
    xp = array_namespace(w)
    if hasattr(value, "dtype") and not isinstance(value, np.generic):
        return xp.asarray(check_real_dtype(name, value), dtype=w.dtype)
    return xp.asarray(check_real_array(name, value), dtype=w.dtype, device=device_of(w))


def wn_parameters(gamma, beta, w, *, mean, std) -> WNParameters:
    """WN parameters of the PN layer ``gamma (w^T x - mu_P)/sigma_P + beta`` (C13).

    .. math:: v = \\gamma / s, \\qquad b = \\beta - \\frac{\\gamma\\, w^T m}{s \\|w\\|}

    Parameters
    ----------
    gamma, beta : float
        PN scale and shift.
    w : array, shape (d,)
        Weight vector, not zero.
    mean : array, shape (d,), or float
        Input mean ``m`` (a float means ``m`` times the all-ones vector).
    std : float
        Per-coordinate standard deviation ``s > 0`` of the input (covariance ``s^2 I``);
        the article's ``a``.

    Returns
    -------
    WNParameters
        ``(v, b)`` as Python floats.
    """
    gamma = check_real("gamma", gamma)
    beta = check_real("beta", beta)
    std = check_real("std", std, minimum=0.0, min_inclusive=False)
    xp = array_namespace(w)
    w = _vector("w", w, xp)
    norm = float(xp.linalg.vector_norm(w))
    if not norm > 0:
        raise ValueError("w must not be the zero vector (||w|| = 0)")
    mu_p = float(xp.sum(w * _real_like("mean", mean, w)))
    return WNParameters(v=gamma / std, b=beta - gamma * mu_p / (std * norm))


def population_normalize(x, w, gamma, beta, *, mean, cov):
    """PN output ``gamma (w^T x - mu_P)/sigma_P + beta`` for Gaussian input ``N(mean, cov)``.

    ``mu_P = w^T mean`` and ``sigma_P = sqrt(w^T cov w)`` are the exact population statistics.

    Parameters
    ----------
    x : array, shape (N, d)
    w : array, shape (d,)
    gamma, beta : float
    mean : array (d,) or float
    cov : float or array (d, d)
        A float ``c`` means ``c I``.

    Returns
    -------
    array, shape (N,)
    """
    gamma = check_real("gamma", gamma)
    beta = check_real("beta", beta)
    xp = array_namespace(x, w)
    x, w = check_real_dtype("x", xp.asarray(x)), _vector("w", w, xp)
    mu_p = xp.sum(w * _real_like("mean", mean, w))
    cov = _real_like("cov", cov, w)
    if cov.ndim == 0:
        var_p = cov * xp.sum(w * w)
    else:
        var_p = xp.sum(w * (cov @ w))
    if not float(var_p) > 0:
        raise ValueError("the population variance w^T cov w must be positive")
    return gamma * (x @ w - mu_p) / xp.sqrt(var_p) + beta


def weight_normalize(x, w, v, b):
    """WN output ``v w^T x / ||w|| + b``; ``x`` shape (N, d), ``w`` shape (d,) -> (N,)."""
    v, b = check_real("v", v), check_real("b", b)
    xp = array_namespace(x, w)
    x, w = check_real_dtype("x", xp.asarray(x)), _vector("w", w, xp)
    return v * (x @ w) / xp.linalg.vector_norm(w) + b


def pn_wn_gap(x, w, gamma, beta, *, mean, cov, std) -> float:
    """``max |PN(x) - WN(x)|`` with WN's ``(v, b)`` from :func:`wn_parameters` (C13 check).

    Zero to rounding error when ``cov = std^2 I``; not zero for ``cov = a I`` with
    ``std = a != 1`` (the article's erratum) or for an anisotropic ``cov``.

    Parameters
    ----------
    x : array, shape (N, d)
        Points at which to compare (any points: the identity is algebraic once the population
        statistics are those of ``N(mean, cov)``).
    w : array, shape (d,)
    gamma, beta : float
    mean : array (d,) or float
    cov : float or array (d, d)
        The input covariance used by PN.
    std : float
        The standard deviation used by the WN mapping.
    """
    v, b = wn_parameters(gamma, beta, w, mean=mean, std=std)
    xp = array_namespace(x, w)
    pn = population_normalize(x, w, gamma, beta, mean=mean, cov=cov)
    wn = weight_normalize(x, w, v, b)
    return float(xp.max(xp.abs(pn - wn)))
