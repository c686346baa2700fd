"""Noise of batch statistics: the exact and asymptotic laws of claims C1, C2 and C3.

Batch normalization standardizes a value with the mean ``mu_B`` and standard deviation
``sigma_B`` of its minibatch of ``M`` values instead of the population's ``mu_P, sigma_P``.
This module gives the error that this adds, in closed form:

* **C1** (article 001 §1.1): for ``x ~ N(0, 1)`` the mean squared error
  ``E[((x - mu_B)/sigma_B - x)^2]`` exactly, for each convention (``x`` inside or outside the
  batch; biased ``ddof=0`` or unbiased ``ddof=1`` standard deviation), and its leading term
  ``3/(2M)``;
* **C2** (001 §1.3): the asymptotic laws of ``mu_B`` and ``sigma_B`` for any input with a finite
  fourth moment;
* **C3** (001 §1.3): the first-order conditional error ``E[(h_hat - h_bar)^2 | z]`` and, for
  Gaussian input and ``x`` outside the batch, its exact value.

All functions here are scalar closed forms, vectorized over ``M`` (and ``z``) with NumPy
broadcasting; they are NumPy/SciPy-only (not backend-generic).

Numerics
--------
The exact forms are ratios of Gamma functions, ``Gamma(x + 1/2) / Gamma(x)``, whose deviation
from ``sqrt(x)`` carries the whole O(1/M) error. Differences of ``gammaln`` lose that deviation
at large ``M`` (``gammaln(5e6)`` is 7e7, so its rounding error is 1e-8 while the error of C1 is
1.5e-7 at ``M = 10^7``). We therefore compute

.. math::

    r(x) = \\log\\Gamma(x + 1/2) - \\log\\Gamma(x) - \\tfrac12 \\log x
         = \\sum_{k \\ge 1} \\frac{(2^{1-2k} - 2) B_{2k}}{2k (2k - 1) x^{2k - 1}}

by its asymptotic series for ``x >= 8`` (ten terms; truncation below 2e-17) and from
``scipy.special.gamma`` below, and form every error with ``expm1``/``log1p``, so each result
keeps full relative precision from ``M = 2`` to ``M = 10^7`` and beyond.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import special

from .validation import check_choice, check_real, check_real_array

__all__ = [
    "BatchStatisticsLaw",
    "batch_renorm_noise",
    "batch_statistics_law",
    "conditional_error",
    "expected_batch_std",
    "gaussian_conditional_error",
    "standardization_error",
    "standardization_error_asymptotic",
]

# (2^(1-2k) - 2) B_2k / (2k (2k-1)) for k = 1..10: the series of r(x) above.
_R_SERIES = tuple(
    float((2.0 ** (1 - 2 * k) - 2.0) * special.bernoulli(2 * k)[-1] / (2 * k * (2 * k - 1)))
    for k in range(1, 11)
)
_R_SERIES_FROM = 8.0


def _log_gamma_half_ratio(x: np.ndarray) -> np.ndarray:
    """``r(x) = log Gamma(x + 1/2) - log Gamma(x) - log(x)/2`` for ``x > 0`` (see module doc)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    big = x >= _R_SERIES_FROM
    xb = x[big]
    inv2 = 1.0 / (xb * xb)
    acc = np.zeros_like(xb)
    for c in reversed(_R_SERIES):  # Horner in 1/x^2; the series is c_k / x^(2k-1)
        acc = acc * inv2 + c
    out[big] = acc / xb
    xs = x[~big]
    # Gamma does not overflow below 8; the ratio is 1 + O(1/x), so log1p keeps its precision.
    out[~big] = np.log1p(special.gamma(xs + 0.5) / (special.gamma(xs) * np.sqrt(xs)) - 1.0)
    return out


def _batch_size(M, *, minimum: int = 2, name: str = "M") -> np.ndarray:
    """``M`` as a float64 array after checking it holds integers >= ``minimum``.

    Accepts a Python/NumPy integer or an integer array; floats (even ``32.0``) and booleans are
    refused, as in :func:`regnorm.validation.check_integer`.
    """
    arr = np.asarray(M)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be an integer or an array of integers (a batch size), got {M!r} "
            f"({type(M).__name__}, dtype {arr.dtype})"
        )
    if np.any(arr < minimum):
        bad = int(arr[arr < minimum].ravel()[0])
        raise ValueError(
            f"{name} must be an integer >= {minimum} (batch statistics need at least two values "
            f"for a standard deviation), got {bad}"
        )
    return arr.astype(np.float64)


def _ddof(ddof) -> int:
    return check_choice("ddof", ddof, (0, 1))


def _scalar_or_array(a: np.ndarray):
    return float(a) if np.ndim(a) == 0 else a


def expected_batch_std(M, ddof=0):
    """Expected batch standard deviation ``E[sigma_B]`` of ``M`` i.i.d. ``N(0, 1)`` values.

    .. math::

        E[\\sigma_B] = \\sqrt{\\frac{2}{M - \\mathrm{ddof}}}
                       \\frac{\\Gamma(M/2)}{\\Gamma((M - 1)/2)},
        \\qquad \\sigma_B^2 = \\frac{1}{M - \\mathrm{ddof}} \\sum_i (x_i - \\mu_B)^2,

    because ``sum_i (x_i - mu_B)^2 ~ chi2(M - 1)``. Claim C1, article 001 §1.1.

    Parameters
    ----------
    M : int or array of int
        Batch size(s), ``M >= 2``; any shape.
    ddof : {0, 1}
        0: biased (``1/M``, BN's convention); 1: unbiased (``1/(M-1)``).

    Returns
    -------
    float or ndarray
        Same shape as ``M``. Accurate to a few ulps up to ``M = 10^7`` and beyond.

    Examples
    --------
    >>> round(expected_batch_std(32), 6)
    0.976347
    """
    Mf = _batch_size(M)
    d = _ddof(ddof)
    # E[sigma_B] = sqrt((M-1)/(M-ddof)) exp(r((M-1)/2))
    log_es = 0.5 * np.log1p((d - 1.0) / (Mf - d)) + _log_gamma_half_ratio((Mf - 1.0) / 2.0)
    return _scalar_or_array(np.exp(log_es))


def standardization_error(M, *, inside=True, ddof=0):
    """Exact mean squared error of batch standardization of ``N(0, 1)`` data (claim C1).

    The error of standardizing ``x`` with batch statistics instead of the population's
    (``mu_P = 0``, ``sigma_P = 1``), ``eps(M) = E[((x - mu_B)/sigma_B - x)^2]``, for ``M``
    i.i.d. ``N(0, 1)`` batch values. With ``S = sum_i (x_i - mu_B)^2 ~ chi2(M - 1)``,
    ``sigma_B^2 = S/(M - d)`` and ``mu_B ~ N(0, 1/M)`` independent of ``S``:

    ``inside=True`` (``x`` is one of the batch values, as in training, averaged over them):
    the per-batch identity ``(1/M) sum_i ((x_i - mu_B)/sigma_B - x_i)^2
    = (S/M)(1/sigma_B - 1)^2 + mu_B^2`` gives

    .. math::

        \\varepsilon_{\\rm in}(M) = 1 + \\frac{M - d}{M}
            - 2 \\frac{M - d}{M} E[\\sigma_B],

    i.e. ``2 - 2 E[sigma_B]`` for ``d = 0`` (THEORY.md C1) and
    ``(2M - 1)/M - 2 (M - 1)/M E[sigma_B]`` for ``d = 1``.

    ``inside=False`` (``x ~ N(0, 1)`` independent of the batch, as at inference with batch
    statistics):

    .. math::

        \\varepsilon_{\\rm out}(M) = 1 - 2 E[1/\\sigma_B] + (1 + 1/M) E[1/\\sigma_B^2],
        \\quad E[1/\\sigma_B] = \\sqrt{\\frac{M - d}{2}}
               \\frac{\\Gamma((M - 2)/2)}{\\Gamma((M - 1)/2)},
        \\quad E[1/\\sigma_B^2] = \\frac{M - d}{M - 3}.

    ``E[1/sigma_B^2]`` is infinite for ``M <= 3`` (inverse chi-square with ``M - 1 <= 2``
    degrees of freedom), and so is the error: the function returns ``inf`` there — that is
    the mathematics, not a failure.

    Every convention equals ``3/(2M) + O(1/M^2)``
    (:func:`standardization_error_asymptotic`).

    Parameters
    ----------
    M : int or array of int
        Batch size(s), ``M >= 2``; any shape.
    inside : bool
        Whether ``x`` belongs to the batch its statistics come from.
    ddof : {0, 1}
        Biased (0, BN's convention) or unbiased (1) batch standard deviation.

    Returns
    -------
    float or ndarray
        Same shape as ``M``; full relative precision up to ``M = 10^7`` (no cancellation).

    Examples
    --------
    >>> round(standardization_error(32), 6)     # 3/(2M) = 0.046875
    0.047306
    >>> standardization_error(3, inside=False)
    inf
    """
    if not isinstance(inside, bool | np.bool_):
        raise TypeError(f"inside must be True or False, got {inside!r}")
    Mf = _batch_size(M)
    d = float(_ddof(ddof))
    if inside:
        r = _log_gamma_half_ratio((Mf - 1.0) / 2.0)
        # (M-d)/M E[sigma_B] = sqrt((M-d)(M-1))/M e^r = exp(L) with L = O(1/M) computed exactly
        log_term = 0.5 * np.log1p(-d / Mf) + 0.5 * np.log1p(-1.0 / Mf) + r
        # (M-d)/M + 1 - 2 exp(L) = -d/M - 2 expm1(L): no cancellation of O(1) terms
        out = -d / Mf - 2.0 * np.expm1(log_term)
    else:
        out = np.full_like(Mf, np.inf)
        ok = Mf > 3
        m = Mf[ok]
        r = _log_gamma_half_ratio((m - 2.0) / 2.0)
        # E[1/s] - 1 and E[1/s^2](1 + 1/M) - 1, each O(1/M) and computed without cancellation
        a_minus_1 = np.expm1(0.5 * np.log1p((2.0 - d) / (m - 2.0)) - r)
        b_minus_1 = ((4.0 - d) * m - d) / (m * (m - 3.0))
        out[ok] = b_minus_1 - 2.0 * a_minus_1
    return _scalar_or_array(out)


def standardization_error_asymptotic(M):
    """Leading term ``3/(2M)`` of the C1 error (article 001 §1.1: 0.046875 at ``M = 32``).

    .. math:: \\varepsilon(M) = \\frac{3}{2M} + O(M^{-2})

    The ``1/(2M)`` comes from ``sigma_B`` (``Var sigma_B ~ 1/(2M)``), the ``1/M`` from ``mu_B``.

    Parameters
    ----------
    M : int or array of int
        Batch size(s), ``M >= 2``.
    """
    Mf = _batch_size(M)
    return _scalar_or_array(1.5 / Mf)


class BatchStatisticsLaw(NamedTuple):
    """Asymptotic law of the batch statistics (claim C2)."""

    mean_variance: float | np.ndarray
    """``Var(mu_B) = sigma_P^2 / M`` (exact for every distribution with a finite variance)."""
    std_mean: float | np.ndarray
    """``E[sigma_B] -> sigma_P`` (to leading order; the bias is O(1/M))."""
    std_variance: float | np.ndarray
    """``Var(sigma_B) -> (rho + 2) sigma_P^2 / (4M)`` (to leading order)."""


def batch_statistics_law(M, *, sigma=1.0, rho=0.0) -> BatchStatisticsLaw:
    """Asymptotic laws of the batch mean and standard deviation (claim C2, article 001 §1.3).

    .. math::

        \\mu_B \\sim \\mathcal N\\Big(\\mu_P, \\frac{\\sigma_P^2}{M}\\Big), \\qquad
        \\sigma_B \\sim \\mathcal N\\Big(\\sigma_P, \\frac{(\\rho + 2)\\sigma_P^2}{4M}\\Big)

    as ``M`` grows, for i.i.d. input with a finite fourth moment and excess kurtosis ``rho``
    (``sigma_B`` biased, ``ddof=0``; the unbiased one has the same law to this order).
    **Erratum**: the article writes ``(rho + 2)/(4M)`` without the ``sigma_P^2``.

    Parameters
    ----------
    M : int or array of int
        Batch size(s), ``M >= 2``.
    sigma : float
        Population standard deviation ``sigma_P > 0``.
    rho : float
        Excess kurtosis ``E[(h - mu_P)^4]/sigma_P^4 - 3``; finite and ``>= -2`` (every
        distribution has kurtosis >= 1). A distribution without a finite fourth moment has no
        such law; pass it and you get a ``ValueError`` (``rho`` must be finite).

    Returns
    -------
    BatchStatisticsLaw
        ``(mean_variance, std_mean, std_variance)``, each broadcast to ``M``'s shape.
    """
    Mf = _batch_size(M)
    sigma = check_real("sigma", sigma, minimum=0.0, min_inclusive=False)
    rho = check_real("rho", rho, minimum=-2.0)
    return BatchStatisticsLaw(
        mean_variance=_scalar_or_array(sigma**2 / Mf),
        std_mean=_scalar_or_array(np.full_like(Mf, sigma)),
        std_variance=_scalar_or_array((rho + 2.0) * sigma**2 / (4.0 * Mf)),
    )


def conditional_error(z, M, *, rho=0.0, gamma=1.0):
    """First-order conditional BN-vs-PN error at standardized value ``z`` (claim C3).

    .. math::

        E[(\\hat h - \\bar h)^2 \\mid z] \\approx \\gamma^2 \\Big[\\frac{\\rho + 2}{4M} z^2
            + \\frac{1}{M}\\Big(1 + \\frac{3(\\rho + 2)}{4M}\\Big)\\Big],
        \\qquad z = \\frac{h - \\mu_P}{\\sigma_P},

    with ``h_hat = gamma (h - mu_B)/sigma_B + beta`` (BN) and ``h_bar = gamma z + beta`` (PN).
    It averages to ``gamma^2 (rho + 6)/(4M) + O(1/M^2)`` over ``z`` (``3/(2M)`` for Gaussian,
    C1). Article 001 §1.3. It is a first-order (independence) approximation: see
    :func:`gaussian_conditional_error` for the exact Gaussian value with ``x`` outside the
    batch, and the README for where it holds.

    Parameters
    ----------
    z : float or array
        Standardized value(s); broadcast against ``M``.
    M : int or array of int
        Batch size(s), ``M >= 2``.
    rho : float
        Excess kurtosis, finite and ``>= -2``.
    gamma : float
        BN scale ``gamma``.
    """
    z = check_real_array("z", z)
    Mf = _batch_size(M)
    rho = check_real("rho", rho, minimum=-2.0)
    gamma = check_real("gamma", gamma)
    k = (rho + 2.0) / (4.0 * Mf)
    return _scalar_or_array(gamma**2 * (k * z**2 + (1.0 + 3.0 * k) / Mf))


def gaussian_conditional_error(z, M, *, ddof=0, inside=False):
    r"""Exact conditional error ``E[((x - mu_B)/sigma_B - z)^2 | x = z]`` for ``N(0,1)`` data.

    The exact counterpart of the first-order :func:`conditional_error` (C3, ``rho = 0``:
    ``z^2/(2M) + (1 + 3/(2M))/M``) for Gaussian input; averaging it over ``z ~ N(0,1)`` gives
    ``standardization_error(M, inside=inside, ddof=ddof)``.

    ``inside=False`` (``x = z`` independent of the batch): ``mu_B`` is independent of
    ``sigma_B`` and has mean 0, so, in closed form with the inverse-chi moments of
    :func:`standardization_error`,

    .. math::

        z^2\big(1 - 2E[1/\sigma_B] + E[1/\sigma_B^2]\big) + \frac{1}{M} E[1/\sigma_B^2],

    infinite for ``M <= 3``.

    ``inside=True`` (``z`` is one of the ``M`` batch values): with the other ``M - 1`` values'
    mean ``m ~ N(0, 1/(M-1))`` and scatter ``S' ~ chi2(M-2)`` (independent),
    ``z - mu_B = (M-1)/M (z - m)`` and ``S = S' + c``, ``c = (M-1)/M (z - m)^2``, so

    .. math::

        E\big[(r - z)^2\big], \qquad
        r = \operatorname{sign}(z - m) \sqrt{\frac{(M - d)(M - 1)}{M} \frac{c}{S' + c}},

    a two-dimensional integral with no closed form that we know of; it is computed by
    Gauss-Legendre quadrature (300 nodes on each side of ``m = z`` in ``m``, 400 in
    ``log S'``). Checked: averaged over ``z`` it reproduces the exact C1 error to 3e-13
    relative for ``M >= 4`` (4e-10 at ``M = 3``, where ``S' ~ chi2(1)`` makes the integrand
    singular). ``M = 2`` is closed-form: ``r = sign(z - m) sqrt((2 - d)/2)``.
    About 0.1 s per point (NumPy, loops over the broadcast points).

    Parameters
    ----------
    z : float or array
        Value(s) of ``x``; broadcast against ``M``.
    M : int or array of int
        Batch size(s), ``M >= 2``.
    ddof : {0, 1}
        Biased or unbiased batch standard deviation.
    inside : bool
        Whether ``x`` is one of the batch's values.
    """
    if not isinstance(inside, bool | np.bool_):
        raise TypeError(f"inside must be True or False, got {inside!r}")
    z = check_real_array("z", z)
    Mf = _batch_size(M)
    d = float(_ddof(ddof))
    z, Mf = np.broadcast_arrays(z, Mf)
    if inside:
        out = np.array(
            [
                _inside_conditional(float(zi), int(mi), d)
                for zi, mi in zip(z.ravel(), Mf.ravel(), strict=True)
            ]
        ).reshape(z.shape)
        return _scalar_or_array(out)
    out = np.full(z.shape, np.inf)
    ok = Mf > 3
    m = Mf[ok]
    r = _log_gamma_half_ratio((m - 2.0) / 2.0)
    a_minus_1 = np.expm1(0.5 * np.log1p((2.0 - d) / (m - 2.0)) - r)  # E[1/s] - 1
    inv_s2 = (m - d) / (m - 3.0)  # E[1/s^2]
    # 1 - 2E[1/s] + E[1/s^2] = (E[1/s^2] - 1) - 2(E[1/s] - 1), each O(1/M)
    var_part = (3.0 - d) / (m - 3.0) - 2.0 * a_minus_1
    out[ok] = z[ok] ** 2 * var_part + inv_s2 / m
    return _scalar_or_array(out)


@functools.lru_cache(maxsize=8)
def _legendre_nodes(n: int):
    return np.polynomial.legendre.leggauss(n)  # O(n^3): computed once per n


def _gauss_legendre(a: float, b: float, n: int):
    x, w = _legendre_nodes(n)
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


def _inside_conditional(z: float, M: int, d: float) -> float:
    """``gaussian_conditional_error(z, M, inside=True)`` for one point (see its docstring)."""
    k = M - 1
    if M == 2:
        c0 = math.sqrt((2.0 - d) / 2.0)
        return c0 * c0 + z * z - 2.0 * z * c0 * (2.0 * special.ndtr(z) - 1.0)
    a = (M - 2) / 2.0
    # nodes in l = log S', whose density a l - e^l/2 - a log 2 - log Gamma(a) is unimodal:
    # keep the range where it is within e^-46 of its maximum
    grid = np.linspace(-200.0, 25.0, 9001)
    log_norm = a * math.log(2.0) + special.gammaln(a)
    logf = a * grid - 0.5 * np.exp(grid) - log_norm
    keep = grid[logf > logf.max() - 46.0]
    l, wl = _gauss_legendre(keep[0] - 0.05, keep[-1] + 0.05, 400)
    wl = wl * np.exp(a * l - 0.5 * np.exp(l) - log_norm)
    t = np.exp(l)
    K = (M - d) * k / M
    s = 1.0 / math.sqrt(k)
    lo, hi = -14.0 * s, 14.0 * s  # the Gaussian weight of m is below 1e-42 outside
    # the integrand has a kink at m = z (sign change, c -> 0): split there
    segments = [(lo, min(z, hi)), (max(z, lo), hi)] if lo < z < hi else [(lo, hi)]
    total = 0.0
    for a_, b_ in segments:
        if b_ <= a_:
            continue
        m, wm = _gauss_legendre(a_, b_, 300)
        wm = wm * np.exp(-0.5 * (m / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
        c = (k / M) * (z - m) ** 2
        r = np.sign(z - m)[:, None] * np.sqrt(K * c[:, None] / (t[None, :] + c[:, None]))
        total += float(wm @ (((r - z) ** 2) @ wl))
    return total


def batch_renorm_noise(M, *, r_max, d_max):
    r"""Exact batch noise of batch renormalization (Ioffe 2017) at the population statistics.

    For ``M`` i.i.d. ``N(0, 1)`` values and running statistics equal to the population's
    (``mu = 0``, ``sigma = 1``), batch renormalization outputs
    ``y = x_hat r + d`` with ``x_hat = (x - mu_B)/sigma_B``, ``r = clip(sigma_B, 1/r_max,
    r_max)`` and ``d = clip(mu_B, -d_max, d_max)``, while the population normalization is
    ``x = x_hat sigma_B + mu_B``. Averaged over the batch (``mean x_hat = 0``,
    ``mean x_hat^2 = 1`` for the biased ``sigma_B``) the squared change of the output is
    exactly ``(sigma_B - r)^2 + (mu_B - d)^2``, so

    .. math::

        \epsilon_{BRN}(M) = E\big[(\sigma_B - \operatorname{clip}(\sigma_B))^2\big]
            + E\big[(\mu_B - \operatorname{clip}(\mu_B))^2\big],

    with ``M sigma_B^2 ~ chi2(M - 1)`` and ``mu_B ~ N(0, 1/M)`` independent (THEORY §1, C1);
    the truncated moments are closed forms in the chi-square and normal distribution
    functions. ``r_max = 1, d_max = 0`` is BN: ``(1 - sigma_B)^2 + mu_B^2``, C1's exact
    ``2 - 2 E[sigma_B]``. Without active clips the noise vanishes: the forward output is the
    population normalization exactly (C22).

    Parameters
    ----------
    M : int or array of int
        Values per statistic (batch size times ``H W``), ``M >= 2``.
    r_max : float, >= 1
    d_max : float, >= 0

    Returns
    -------
    float or ndarray
        Same shape as ``M``. The truncated second moments are differences of terms of order
        1 whose result is of order ``1/M``: the relative error is about ``M`` ulps (3e-14 at
        ``M = 1024``), far below any Monte-Carlo error it is compared with.

    Examples
    --------
    >>> bn = standardization_error(32)
    >>> bool(abs(batch_renorm_noise(32, r_max=1.0, d_max=0.0) / bn - 1) < 1e-12)
    True
    """
    from scipy import stats

    Mf = _batch_size(M)
    r_max = check_real("r_max", r_max, minimum=1.0)
    d_max = check_real("d_max", d_max, minimum=0.0)
    k = Mf - 1.0  # M sigma_B^2 ~ chi2(k)
    mean_s = expected_batch_std(np.rint(Mf).astype(np.int64))

    def below(a):  # E[(s - a)^2; s < a] for s = sigma_B
        c = Mf * a * a
        p0 = stats.chi2.cdf(c, k)
        p1 = stats.chi2.cdf(c, k + 1.0)  # E[s; s < a] = E[s] P(chi2(k+1) < c)
        p2 = stats.chi2.cdf(c, k + 2.0)  # E[s^2; s < a] = (k/M) P(chi2(k+2) < c)
        return (k / Mf) * p2 - 2.0 * a * mean_s * p1 + a * a * p0

    def above(a):  # E[(s - a)^2; s > a]
        c = Mf * a * a
        q0 = stats.chi2.sf(c, k)
        q1 = stats.chi2.sf(c, k + 1.0)
        q2 = stats.chi2.sf(c, k + 2.0)
        return (k / Mf) * q2 - 2.0 * a * mean_s * q1 + a * a * q0

    sd = 1.0 / np.sqrt(Mf)  # mu_B ~ N(0, sd^2): E[(|u| - d)^2; |u| > d], both tails
    t = d_max / sd
    tails = 2.0 * ((sd * sd + d_max * d_max) * special.ndtr(-t) - d_max * sd * np.exp(-t * t / 2)
                   / math.sqrt(2.0 * math.pi))  # fmt: skip
    return _scalar_or_array(below(1.0 / r_max) + above(r_max) + tails)
