"""C13: PN equals WN for isotropic Gaussian input; the article's v = gamma/a needs a = std."""

import math

import numpy as np
import pytest

from regnorm.pn_wn_equivalence import (
    pn_wn_gap,
    population_normalize,
    weight_normalize,
    wn_parameters,
)
from tests.tolerances import rounding_rtol


def _setup(xp, d=7, n=50, seed=0):
    rng = np.random.default_rng(seed)
    return (
        xp.asarray(rng.standard_normal((n, d)) * 3 + 1),
        xp.asarray(rng.standard_normal(d)),
        xp.asarray(rng.standard_normal(d)),
    )


def test_pn_equals_wn_for_isotropic_gaussian(xp):
    x, w, m = _setup(xp)
    for std in (0.5, 1.0, 2.0):
        gap = pn_wn_gap(x, w, 1.7, -0.4, mean=m, cov=std**2, std=std)
        # outputs are O(10); a few roundings per output
        assert gap <= 10 * rounding_rtol(ops=16)


def test_article_mapping_with_covariance_a_is_an_erratum(xp):
    x, w, m = _setup(xp)
    a = 4.0  # covariance a I: the standard deviation is sqrt(a) = 2
    assert pn_wn_gap(x, w, 1.7, -0.4, mean=m, cov=a, std=math.sqrt(a)) <= 10 * rounding_rtol(ops=16)
    # the literal reading v = gamma / a with covariance a I fails by a factor sqrt(a)
    assert pn_wn_gap(x, w, 1.7, -0.4, mean=m, cov=a, std=a) > 0.1


def test_anisotropic_covariance_breaks_the_equivalence(xp):
    x, w, m = _setup(xp)
    cov = xp.asarray(np.diag(np.linspace(0.5, 2.0, 7)))
    for std in (0.5, 1.0, 2.0):
        assert pn_wn_gap(x, w, 1.0, 0.0, mean=m, cov=cov, std=std) > 0.01


def test_wn_parameters_values():
    v, b = wn_parameters(2.0, 0.5, np.array([3.0, 4.0]), mean=np.array([1.0, 1.0]), std=2.0)
    assert v == 1.0 and b == 0.5 - 2.0 * 7.0 / (2.0 * 5.0)
    x = np.array([[1.0, 2.0]])
    assert weight_normalize(x, np.array([3.0, 4.0]), 1.0, 0.0)[0] == 11.0 / 5.0
    pn = population_normalize(x, np.array([3.0, 4.0]), 1.0, 0.0, mean=0.0, cov=4.0)
    assert pn[0] == 11.0 / 10.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: wn_parameters(1.0, 0.0, np.zeros(3), mean=0.0, std=1.0), "zero vector"),
        (lambda: wn_parameters(1.0, 0.0, np.ones(3), mean=0.0, std=0.0), "std must be"),
        (lambda: wn_parameters(1.0, 0.0, np.ones((2, 2)), mean=0.0, std=1.0), "1-D array"),
        (
            lambda: population_normalize(np.ones((2, 3)), np.ones(3), 1.0, 0.0, mean=0.0, cov=0.0),
            "variance",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
