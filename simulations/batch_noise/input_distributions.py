"""Input distributions for the batch-noise simulations, with the moments the theory needs.

Each is a SciPy frozen distribution in its natural parametrization (so ``sigma_P`` is not 1
except for the Gaussian and the exponential, which exercises the ``sigma_P^2`` of C2):

============== ============================ ========== ==============================
name           law                          sigma_P^2  excess kurtosis rho
============== ============================ ========== ==============================
gaussian       N(0, 1)                      1          0
uniform        U(-1, 1)                     1/3        -1.2
laplace        Laplace(0, 1)                2          3
student_t      t(df), df > 4                df/(df-2)  6/(df - 4)
exponential    Exp(1) (skewed)              1          6
============== ============================ ========== ==============================

The first-order laws of C2-C4 need a finite fourth moment: a Student-t with ``df <= 4`` is
refused with a ``ValueError`` (its excess kurtosis is infinite).

:meth:`InputDistribution.sample` draws with SciPy from a ``numpy.random.Generator``, or on a
backend's device from a :class:`regnorm.backend.ArrayGenerator`: on the host-drawn backends
(array-api-strict) NumPy's own numbers moved once to the device, as
:func:`regnorm.backend.random_generator` does for every draw; on CuPy from whole-array
formulas of the generator's own draws (:meth:`InputDistribution.device_sample`). Those
formulas give NumPy's numbers for the Gaussian, the uniform and the exponential (the same
generator calls as SciPy's) and, from the same uniforms, for the Laplace to rounding (NumPy's
C ``log`` against its vector ``log``); a Student-t is drawn as ``Z / sqrt(chi2(df)/df)`` from
whole arrays, where NumPy draws the normal and the gamma of each value in turn, so only its
law is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regnorm.backend import ArrayGenerator
from regnorm.validation import check_choice, check_real

__all__ = ["DISTRIBUTIONS", "InputDistribution", "input_distribution"]

DISTRIBUTIONS = ("gaussian", "uniform", "laplace", "student_t", "exponential")


@dataclass(frozen=True)
class InputDistribution:
    """A sampling distribution with its population mean, std and excess kurtosis."""

    name: str
    frozen: Any
    params: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v:g}" for k, v in self.params)
        return f"{self.name}({extra})" if extra else self.name

    @property
    def mean(self) -> float:
        return float(self.frozen.mean())

    @property
    def std(self) -> float:
        return float(self.frozen.std())

    @property
    def excess_kurtosis(self) -> float:
        return float(self.frozen.stats(moments="k"))

    @property
    def standardized_support(self) -> tuple[float, float]:
        """The range of ``Z = (h - mu_P)/sigma_P`` (``+-sqrt(3)`` for the uniform)."""
        lo, hi = ((float(b) - self.mean) / self.std for b in self.frozen.support())
        return lo, hi

    def sample(self, rng: np.random.Generator | ArrayGenerator, shape) -> Any:
        """``shape`` i.i.d. draws (float64) using generator ``rng``.

        A ``numpy.random.Generator`` draws with SciPy (a NumPy array); an
        :class:`regnorm.backend.ArrayGenerator` gives an array of its backend on its device:
        NumPy's numbers where the backend draws on the host, :meth:`device_sample` where it
        draws on the device (CuPy).
        """
        if isinstance(rng, ArrayGenerator):
            if rng.numpy is None:
                return self.device_sample(rng, shape)
            return rng.backend.asarray(self.sample(rng.numpy, shape))
        return np.asarray(self.frozen.rvs(size=shape, random_state=rng), dtype=np.float64)

    def device_sample(self, g: ArrayGenerator, shape) -> Any:
        """``shape`` i.i.d. draws (float64) made on ``g``'s device from its standard draws
        (normal, uniform, gamma, chi-square): what :meth:`sample` does on CuPy, usable on
        any backend (see the module docstring for how its numbers relate to NumPy's)."""
        xp = g.backend.xp
        if self.name == "gaussian":
            return g.standard_normal(shape)
        if self.name == "uniform":  # SciPy's loc + scale U with loc = -1, scale = 2
            return g.random(shape) * 2.0 + (-1.0)
        if self.name == "exponential":  # NumPy's gamma of shape 1 is its exponential
            return g.standard_gamma(1.0, shape)
        if self.name == "laplace":
            # NumPy's inverse CDF of one uniform U; it redraws U = 0 (probability 2^-53),
            # which here reads as the smallest positive U + U instead, so no log(0)
            u = g.random(shape)
            upper = u >= 0.5
            arg = xp.where(upper, 2.0 - u - u, u + u)
            arg = xp.where(arg > 0.0, arg, xp.full_like(arg, 2.0**-52))
            return xp.where(upper, -xp.log(arg), xp.log(arg))
        df = dict(self.params)["df"]  # student_t
        z = g.standard_normal(shape)
        return z / xp.sqrt(g.chisquare(df, shape) / df)

    def standardized_expect(
        self, func: Callable[[float], float], breakpoints: tuple[float, ...] = ()
    ) -> float:
        """``E[func(Z)]`` for ``Z = (h - mu_P)/sigma_P``, by adaptive quadrature.

        ``breakpoints`` are points (in ``z``) where ``func`` is not smooth; the integral is
        split there (and at the edges of the support).
        """
        mu, sd = self.mean, self.std
        lo, hi = self.standardized_support
        cuts = sorted({lo, hi, *(b for b in breakpoints if lo < b < hi)})
        if self.name in ("laplace", "exponential"):  # kinks of the density
            kink = (0.0 - mu) / sd
            if lo < kink < hi:
                cuts = sorted({*cuts, kink})
        from scipy import integrate

        total = 0.0
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            val, _ = integrate.quad(
                lambda z: func(z) * sd * self.frozen.pdf(mu + sd * z),
                a,
                b,
                epsabs=1e-13,
                epsrel=1e-12,
                limit=200,
            )
            total += val
        return total


def input_distribution(
    name: str | InputDistribution, *, df: float | None = None
) -> InputDistribution:
    """The input distribution ``name`` (see the module table); ``df`` for ``student_t``.

    An :class:`InputDistribution` is returned as is (it carries its own ``df``), so every
    estimator's ``distribution`` may be a name or one of these.

    Raises
    ------
    ValueError
        Unknown name; ``df`` missing, given for another distribution or with an
        :class:`InputDistribution`, or ``df <= 4`` (no finite fourth moment, so no excess
        kurtosis for C2-C4).
    """
    if isinstance(name, InputDistribution):
        if df is not None:
            raise ValueError(
                f"df is given by the distribution {name.label}; got df={df!r} besides it"
            )
        return name
    check_choice("distribution", name, DISTRIBUTIONS)
    from scipy import stats  # on first use: importing the estimators stays fast

    if name != "student_t":
        if df is not None:
            raise ValueError(f"df is only for distribution='student_t', got df={df!r}")
        frozen = {
            "gaussian": stats.norm(),
            "uniform": stats.uniform(-1.0, 2.0),
            "laplace": stats.laplace(),
            "exponential": stats.expon(),
        }[name]
        return InputDistribution(name, frozen)
    if df is None:
        raise ValueError("distribution='student_t' needs df (degrees of freedom > 4)")
    df = check_real("df", df, minimum=0.0, min_inclusive=False, allow_inf=False)
    if df <= 4.0:
        raise ValueError(
            f"distribution='student_t' with df={df:g} has no finite fourth moment (excess "
            "kurtosis 6/(df-4) needs df > 4); the batch-statistics laws C2-C4 do not apply"
        )
    return InputDistribution(name, stats.t(df), params=(("df", df),))
