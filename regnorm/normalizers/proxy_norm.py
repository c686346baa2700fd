"""Proxy Normalization: normalize the activation with the moments of a Gaussian proxy (C18, C19).

Proxy Norm (article 003, Labatie et al. 2021) follows a batch-independent normalization (LN or
GN) and replaces its affine transform and activation ``phi`` by

.. math::

    \\tilde y = \\frac{\\phi(\\gamma y + \\beta) - m(\\gamma, \\beta)}
    {\\sqrt{v(\\gamma, \\beta) + \\epsilon}},
    \\qquad m = \\mathbb E\\,\\phi(\\gamma z + \\beta),
    \\quad v = \\operatorname{Var}\\phi(\\gamma z + \\beta),\\quad z \\sim N(0, 1),

per channel: the Gaussian "proxy" ``z`` goes through the same affine transform and activation
as the real activations, and its moments normalize them. The statistics depend on the
parameters only, never on the batch.

Two proxies (C19):

* ``proxy="closed_form"`` (ReLU only): the exact moments of ``relu(a z + b)``,
  :func:`relu_gaussian_moments`,

  .. math::

      E = a\\,\\varphi(b/a) + b\\,\\Phi(b/a), \\qquad
      E_2 = (a^2+b^2)\\,\\Phi(b/a) + a b\\,\\varphi(b/a), \\qquad v = E_2 - E^2

  (``a`` is replaced by ``|a|``: ``relu(a z + b)`` and ``relu(|a| z + b)`` have the same law);
* ``proxy="quantile"`` (any activation): ``z`` is the set of ``Q`` mid-point Gaussian
  quantiles ``Phi^{-1}((i + 1/2)/Q)``, ``i = 0..Q-1``, as in the reference code. With
  ``Q = 200`` their variance is 0.99360, not 1 (``standardize_quantiles=True`` rescales them
  to variance 1). This module's default for ReLU is the closed form; the quantile proxy's
  difference from it is measured by the C19 check (``simulations/normalizer_family.py``).

:func:`relu_gaussian_moments` is computed on the parameters' backend and device: the array
API standard has no ``erf``, so the Gaussian CDF (:func:`gaussian_cdf`) is SciPy's ``ndtr``
on NumPy, ``cupyx.scipy.special.ndtr`` on CuPy, and a series and continued fraction in
array-API operations elsewhere. The quantiles (:func:`gaussian_quantiles`, SciPy's
``ndtri``) are computed once, on the host, when the layer is built, and moved to its device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from ..backend import array_namespace, backend_name, device_of
from ..validation import check_choice, check_integer, check_real, check_real_dtype
from .base import AffineNormalizer, check_flag

__all__ = [
    "ACTIVATIONS",
    "ProxyNorm",
    "gaussian_cdf",
    "gaussian_quantiles",
    "relu_gaussian_moments",
]

_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


def _relu(xp):
    # maximum, not where: where is ~10x slower in NumPy
    return (lambda u: xp.maximum(u, 0.0), lambda u: xp.astype(u > 0, u.dtype))


def _tanh(xp):
    return (xp.tanh, lambda u: 1.0 - xp.tanh(u) ** 2)


def _sigmoid(xp):
    def f(u):
        return 1.0 / (1.0 + xp.exp(-u))

    return (f, lambda u: f(u) * (1.0 - f(u)))


def _identity(xp):
    return (lambda u: u, lambda u: xp.ones_like(u))


#: Named activations: each maps a namespace to ``(phi, phi')``.
ACTIVATIONS: dict[str, Callable[[Any], tuple[Callable, Callable]]] = {
    "relu": _relu,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "identity": _identity,
}


# erfc(x), x >= 0, in array-API operations: 1 - erf(x) with erf's series of positive terms
# below _SERIES_TO_FRACTION (erfc >= 0.077 there, so the subtraction costs under 4 bits),
# Laplace's continued fraction above it. The term counts reach full float64 accuracy at the
# switch point, where each converges slowest.
_SERIES_TO_FRACTION = 1.25
_SERIES_TERMS = 28
_FRACTION_TERMS = 100


def _exp_minus_square(x: Any, xp: Any) -> Any:
    """``exp(-x^2)`` without the rounding error of ``x^2`` (``x^2 u``, large in the tail):
    ``x = z + (x - z)`` with ``z`` of 24 bits, so ``z^2`` and ``x - z`` are exact."""
    z = xp.astype(xp.astype(x, xp.float32), xp.float64)
    return xp.exp(-z * z) * xp.exp((z - x) * (z + x))


def _erfc_array_api(x: Any, xp: Any) -> Any:
    x = xp.minimum(x, 40.0)  # erfc(40) underflows to 0; keeps z finite
    xs = xp.minimum(x, _SERIES_TO_FRACTION)
    q = 2.0 * xs * xs
    series = xp.ones_like(xs)
    for n in range(_SERIES_TERMS, 0, -1):  # sum_n (2x^2)^n / (1 3 ... (2n+1)), innermost first
        series = 1.0 + series * q / (2 * n + 1)
    erf = (2.0 / math.sqrt(math.pi)) * xs * _exp_minus_square(xs, xp) * series
    xc = xp.maximum(x, _SERIES_TO_FRACTION)
    fraction = xc
    for k in range(_FRACTION_TERMS, 0, -1):  # x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))
        fraction = xc + (0.5 * k) / fraction
    tail = _exp_minus_square(xc, xp) / (math.sqrt(math.pi) * fraction)
    return xp.where(x < _SERIES_TO_FRACTION, 1.0 - erf, tail)


def gaussian_cdf(t: Any) -> Any:
    """The standard normal CDF ``Phi(t) = P(Z <= t)``, elementwise, on ``t``'s backend.

    .. math::

        \\Phi(t) = \\tfrac12 \\operatorname{erfc}(-t/\\sqrt2)

    Parameters
    ----------
    t : array (float64)
        Any array-API backend; the result is on ``t``'s device.

    Returns
    -------
    array
        ``Phi(t)``, float64.

    Notes
    -----
    NumPy: ``scipy.special.ndtr``. CuPy: ``cupyx.scipy.special.ndtr``, on the GPU. Any other
    namespace (array-api-strict, ...): ``erfc`` from the series of ``erf`` (``|u| < 1.25``) or
    Laplace's continued fraction, in array-API operations; against SciPy its relative error
    is below ``2e-14`` for ``-8 <= t <= 10``, and grows like ``t^2 u`` below (``u`` the unit
    roundoff: the rounding of ``t / sqrt(2)``, amplified by the tail's steepness).
    """
    xp = array_namespace(t)
    name = backend_name(xp)
    if name == "numpy":
        return special.ndtr(t)
    if name == "cupy":  # UNTESTED HERE (no GPU in CI): CuPy's own SciPy port
        from cupyx.scipy import special as cupy_special

        return cupy_special.ndtr(t)
    u = t * -(1.0 / math.sqrt(2.0))
    e = _erfc_array_api(xp.abs(u), xp)
    return xp.where(u >= 0, 0.5 * e, 1.0 - 0.5 * e)


def _relu_moments_with_derivatives(a: Any, b: Any, xp: Any):
    """(m, v, dm/da, dm/db, dv/da, dv/db) of relu(a z + b), z ~ N(0,1); float64 arrays of
    the backend of ``a`` and ``b``."""
    a, b = xp.broadcast_arrays(xp.astype(a, xp.float64), xp.astype(b, xp.float64))
    abs_a = xp.abs(a)
    degenerate = abs_a == 0
    safe = xp.where(degenerate, 1.0, abs_a)
    t = b / safe
    pdf = _INV_SQRT_2PI * xp.exp(-0.5 * t * t)
    cdf = gaussian_cdf(t)
    relu_b = xp.maximum(b, 0.0)
    m = xp.where(degenerate, relu_b, abs_a * pdf + b * cdf)
    e2 = xp.where(degenerate, relu_b**2, (a * a + b * b) * cdf + abs_a * b * pdf)
    # Stein's lemma: dE/db = P(a z + b > 0), dE/da = sign(a) pdf(b/|a|), dE2/da = 2a cdf,
    # dE2/db = 2 E
    heaviside_b = xp.astype(b > 0, xp.float64)
    dm_da = xp.where(degenerate, 0.0, xp.sign(a) * pdf)
    dm_db = xp.where(degenerate, heaviside_b, cdf)
    de2_da = xp.where(degenerate, 0.0, 2.0 * a * cdf)
    de2_db = 2.0 * m
    v = xp.maximum(e2 - m * m, 0.0)  # rounding can make E2 - E^2 a hair negative
    return m, v, dm_da, dm_db, de2_da - 2 * m * dm_da, de2_db - 2 * m * dm_db


def relu_gaussian_moments(a: Any, b: Any) -> tuple[Any, Any]:
    """Mean and variance of ``relu(a z + b)`` for ``z ~ N(0, 1)`` (C19), closed form.

    .. math::

        E = |a|\\,\\varphi(b/|a|) + b\\,\\Phi(b/|a|), \\quad
        E_2 = (a^2+b^2)\\,\\Phi(b/|a|) + |a| b\\,\\varphi(b/|a|), \\quad
        \\operatorname{Var} = E_2 - E^2 .

    At ``a = 0`` the law is a point mass at ``relu(b)``: mean ``max(b, 0)``, variance 0.

    Parameters
    ----------
    a, b : float or array (broadcastable)
        Scale and shift (``gamma``, ``beta`` of the proxy). Arrays of any array-API backend
        are accepted; the result is computed and returned on their backend and device
        (float64; :func:`gaussian_cdf` for ``Phi``).

    Returns
    -------
    mean, variance : float or array

    Examples
    --------
    >>> m, v = relu_gaussian_moments(1.0, 0.0)
    >>> round(float(m), 6), round(float(v), 6)     # 1/sqrt(2 pi), 1/2 - 1/(2 pi)
    (0.398942, 0.340845)
    """
    scalar = all(isinstance(v, int | float | np.floating | np.integer) for v in (a, b))
    a, b = (
        check_real_dtype(n, v) if hasattr(v, "dtype") and not scalar else check_real(n, v)
        for n, v in (("a", a), ("b", b))
    )
    if scalar:
        m, v = _relu_moments_with_derivatives(np.float64(a), np.float64(b), array_namespace())[:2]
        return float(m), float(v)
    xp = array_namespace(a, b)
    device = device_of(a if hasattr(a, "dtype") else b)
    a, b = (v if hasattr(v, "dtype") else xp.asarray(v, device=device) for v in (a, b))
    return tuple(_relu_moments_with_derivatives(a, b, xp)[:2])


def gaussian_quantiles(num_quantiles: int = 200, *, standardize: bool = False) -> np.ndarray:
    """The mid-point quantiles ``Phi^{-1}((i + 1/2)/Q)``, ``i = 0..Q-1`` (the reference's proxy).

    Their mean is 0 and their variance is below 1 (0.99360 at ``Q = 200``);
    ``standardize=True`` rescales them to variance exactly 1.
    """
    q = check_integer("num_quantiles", num_quantiles, minimum=2)
    z = special.ndtri((np.arange(q) + 0.5) / q)
    if standardize:
        z = z / np.sqrt(np.mean(z * z))
    return z


#: The reference (Graphcore) code's proxy: 200 mid-point quantiles, and its ``eps``.
GRAPHCORE_NUM_QUANTILES = 200
GRAPHCORE_EPS = 0.03


class ProxyNorm(AffineNormalizer):
    """Affine transform + activation, normalized by the moments of a Gaussian proxy.

    Parameters
    ----------
    num_channels : int
    activation : {"relu", "tanh", "sigmoid", "identity"} or (phi, dphi)
        The activation and its derivative (callables on arrays of the layer's backend).
    proxy : {"closed_form", "quantile"}
        Closed-form moments (ReLU only, the default for ReLU) or the quantile proxy
        (default for every other activation).
    num_quantiles : int
        ``Q`` of the quantile proxy (200 as in the reference code).
    standardize_quantiles : bool
        Rescale the quantiles to variance 1 (the reference does not: variance 0.99360).
    eps : float, > 0, optional
        Added to the proxy's variance; default 1e-5, or 0.03 with ``convention="graphcore"``.
    convention : {"regnorm", "graphcore"}
        ``"graphcore"``: the reference code's numbers (Labatie et al., Graphcore): the
        quantile proxy of 200 mid-point quantiles, not standardized, and ``eps = 0.03``
        (``proxy``, ``num_quantiles``, ``standardize_quantiles`` and ``eps`` must then be
        left at their defaults). ``"regnorm"``: the closed form for ReLU, ``eps = 1e-5``.
    xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.Normalizer`.

    Attributes
    ----------
    params : dict
        ``"gamma"`` (ones) and ``"beta"`` (zeros), shape ``(C,)``, shared by the real
        activations and the proxy.
    """

    def __init__(
        self,
        num_channels: int,
        *,
        activation: str | tuple[Callable, Callable] = "relu",
        proxy: str | None = None,
        num_quantiles: int = 200,
        standardize_quantiles: bool = False,
        eps: float | None = None,
        convention: str = "regnorm",
        **options: Any,
    ) -> None:
        self.convention = check_choice("convention", convention, ("regnorm", "graphcore"))
        if self.convention == "graphcore":
            given = {
                "proxy": proxy not in (None, "quantile"),
                "num_quantiles": num_quantiles != GRAPHCORE_NUM_QUANTILES,
                "standardize_quantiles": standardize_quantiles is not False,
                "eps": eps is not None and eps != GRAPHCORE_EPS,
            }
            clash = [k for k, v in given.items() if v]
            if clash:
                raise ValueError(
                    f"convention='graphcore' fixes {', '.join(clash)} (the reference code's "
                    f"quantile proxy, {GRAPHCORE_NUM_QUANTILES} mid-point quantiles, eps="
                    f"{GRAPHCORE_EPS}); leave them at their defaults or use convention='regnorm'"
                )
            proxy, eps = "quantile", GRAPHCORE_EPS
        super().__init__(
            num_channels,
            eps=1e-5 if eps is None else eps,
            affine=True,
            **options,
        )
        if isinstance(activation, str):
            check_choice("activation", activation, tuple(ACTIVATIONS))
            self.phi, self.dphi = ACTIVATIONS[activation](self.xp)
        elif (
            isinstance(activation, tuple)
            and len(activation) == 2
            and all(callable(f) for f in activation)
        ):
            self.phi, self.dphi = activation
        else:
            raise TypeError(
                f"activation must be one of {tuple(ACTIVATIONS)} or a pair (phi, dphi) of "
                f"callables, got {activation!r}"
            )
        self.activation = activation if isinstance(activation, str) else "custom"
        if proxy is None:
            proxy = "closed_form" if self.activation == "relu" else "quantile"
        self.proxy = check_choice("proxy", proxy, ("closed_form", "quantile"))
        if self.proxy == "closed_form" and self.activation != "relu":
            raise ValueError(
                f"proxy='closed_form' exists for activation='relu' only, got "
                f"activation={self.activation!r}; use proxy='quantile'"
            )
        self.standardize_quantiles = check_flag("standardize_quantiles", standardize_quantiles)
        self.num_quantiles = check_integer("num_quantiles", num_quantiles, minimum=2)
        self._quantiles = self.backend.asarray(
            gaussian_quantiles(self.num_quantiles, standardize=standardize_quantiles)
        )

    def proxy_moments(self) -> tuple[Any, Any, tuple[Any, Any, Any, Any]]:
        """``(m, v, (dm/dgamma, dm/dbeta, dv/dgamma, dv/dbeta))``, each of shape ``(C,)``."""
        xp = self.xp
        gamma, beta = self.params["gamma"], self.params["beta"]
        if self.proxy == "closed_form":
            out = _relu_moments_with_derivatives(gamma, beta, xp)
            m, v, *derivs = (self._as(o, gamma.dtype) for o in out)
            return m, v, tuple(derivs)
        z = xp.astype(self._quantiles, gamma.dtype)  # (Q,)
        u = gamma[:, None] * z[None, :] + beta[:, None]  # (C, Q)
        f, df = self.phi(u), self.dphi(u)
        m = xp.mean(f, axis=1)
        e2 = xp.mean(f * f, axis=1)
        dm_dg, dm_db = xp.mean(df * z, axis=1), xp.mean(df, axis=1)
        de2_dg, de2_db = xp.mean(2 * f * df * z, axis=1), xp.mean(2 * f * df, axis=1)
        v = e2 - m * m
        return m, v, (dm_dg, dm_db, de2_dg - 2 * m * dm_dg, de2_db - 2 * m * dm_db)

    def _preactivation(self, x: Any) -> Any:
        u = x * self._channel(self.params["gamma"])
        u += self._channel(self.params["beta"])  # in place: u is a fresh array
        return u

    def _forward(self, x: Any, training: bool) -> Any:
        xp = self.xp
        m, v, derivs = self.proxy_moments()
        inv_std = 1.0 / xp.sqrt(self._channel(v) + self.eps)
        self._cache = (x, self._channel(m), inv_std, derivs)
        # two full-size arrays (u, a); u and a are rebuilt in backward rather than kept
        a = self.phi(self._preactivation(x))
        a -= self._channel(m)
        a *= inv_std
        return a

    def _backward(self, dy: Any) -> Any:
        xp = self.xp
        x, m, s, (dm_dg, dm_db, dv_dg, dv_db) = self._cache
        u = self._preactivation(x)
        a = self.phi(u)
        du = dy * s * self.dphi(u)
        dm = -xp.sum(dy * s, axis=(0, 2, 3))
        dv = -0.5 * xp.sum(dy * (a - m) * (s * s * s), axis=(0, 2, 3))
        self.grads["gamma"] = xp.sum(du * x, axis=(0, 2, 3)) + dm * dm_dg + dv * dv_dg
        self.grads["beta"] = xp.sum(du, axis=(0, 2, 3)) + dm * dm_db + dv * dv_db
        return du * self._channel(self.params["gamma"])

    def __repr__(self) -> str:
        return (
            f"ProxyNorm({self.num_channels}, activation={self.activation!r}, "
            f"proxy={self.proxy!r}, num_quantiles={self.num_quantiles})"
        )
