"""Random numbers on the backend's device: NumPy's own stream on NumPy (and on the host
stand-ins), CuPy's Generator on a GPU; the same seed gives the same numbers on one backend,
and estimates from any backend agree with the law within their standard errors."""

import math

import numpy as np
import pytest

from regnorm.backend import (
    ArrayGenerator,
    device_of,
    random_generator,
    resolve_backend,
    to_numpy,
)
from regnorm.seeding import seed_sequence
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import assert_z_exceeds, assert_z_within

needs_strict = pytest.mark.skipif(
    "array_api_strict" not in AVAILABLE_BACKENDS, reason="array-api-strict is not installed"
)
needs_gpu = pytest.mark.gpu

#: draw name -> (ArrayGenerator call, the NumPy Generator call it must equal on NumPy)
DRAWS = {
    "standard_normal": (lambda g: g.standard_normal((3, 4)), lambda r: r.standard_normal((3, 4))),
    "standard_normal_float32": (
        lambda g: g.standard_normal(5, dtype=g.backend.xp.float32),
        lambda r: r.standard_normal(5, dtype=np.float32),
    ),
    "random": (lambda g: g.random((2, 5)), lambda r: r.random((2, 5))),
    "integers": (lambda g: g.integers(3, 17, (6,)), lambda r: r.integers(3, 17, (6,))),
    "standard_gamma": (lambda g: g.standard_gamma(2.5, 7), lambda r: r.standard_gamma(2.5, 7)),
    "chisquare": (lambda g: g.chisquare(4, (2, 3)), lambda r: r.chisquare(4, (2, 3))),
    "permutation": (lambda g: g.permutation(9), lambda r: r.permutation(9)),
    "choice": (
        lambda g: g.choice(20, 6, replace=False),
        lambda r: r.choice(20, 6, replace=False),
    ),
}


@pytest.mark.parametrize("draw", DRAWS)
def test_numpy_draws_are_numpys_own(draw):
    """The NumPy path is NumPy's generator itself: the same numbers bit for bit."""
    ours, numpys = DRAWS[draw]
    ss = seed_sequence(2024, "draws", 3)
    got = ours(random_generator("numpy", ss))
    want = numpys(np.random.default_rng(ss))
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@needs_strict
@pytest.mark.parametrize("draw", DRAWS)
def test_strict_draws_are_numpys_moved_to_the_device(draw):
    backend = resolve_backend("array_api_strict:device1")
    ours, numpys = DRAWS[draw]
    ss = seed_sequence(2024, "draws", 3)
    got = ours(random_generator(backend, ss))
    assert device_of(got) == backend.device
    np.testing.assert_array_equal(to_numpy(got), numpys(np.random.default_rng(ss)))


def test_same_seed_same_numbers_other_key_other_numbers(xp_device):
    def draw(*key):
        g = xp_device.rng(seed_sequence(5, *key))
        return to_numpy(g.standard_normal(64)), to_numpy(g.integers(0, 1000, 64))

    a, b, c = draw("a"), draw("a"), draw("b")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def test_a_numpy_generator_is_drawn_from(xp_device):
    """A NumPy Generator passed as the seed is used (its state advances): two generators
    built from it in turn give different numbers."""
    source = np.random.default_rng(8)
    first = to_numpy(random_generator(xp_device, source).random(16))
    second = to_numpy(random_generator(xp_device, source).random(16))
    assert not np.array_equal(first, second)


def test_generator_of_this_backend_is_returned_as_is(xp_device):
    g = random_generator(xp_device, 1)
    assert isinstance(g, ArrayGenerator) and random_generator(xp_device, g) is g


@needs_strict
def test_bad_rng_and_a_generator_of_another_backend_are_refused():
    with pytest.raises(TypeError, match=r"rng must be None, a non-negative int seed"):
        random_generator("numpy", "seven")
    with pytest.raises(TypeError, match=r"rng must be None"):
        random_generator("numpy", -1)
    g = random_generator("numpy", 1)
    with pytest.raises(TypeError, match=r"generator of backend 'numpy', not of 'array_api_strict"):
        random_generator("array_api_strict:device1", g)
    with pytest.raises(TypeError, match=r"dtype=.* is not a dtype of backend 'numpy'"):
        g.standard_normal(3, dtype=resolve_backend("strict").xp.float32)


def test_index_draws_are_indices(xp_device):
    g = xp_device.rng(seed_sequence(3, "indices"))
    perm = np.sort(to_numpy(g.permutation(50)))
    np.testing.assert_array_equal(perm, np.arange(50))
    picked = to_numpy(g.choice(50, 20, replace=False))
    assert len(set(picked.tolist())) == 20 and picked.min() >= 0 and picked.max() < 50
    ints = to_numpy(g.integers(-3, 4, 1000))
    assert ints.min() >= -3 and ints.max() <= 3


N_DRAWS = 200_000


def _mean_and_stderr(sample):
    sample = to_numpy(sample).astype(np.float64)
    return float(sample.mean()), float(sample.std(ddof=1)) / math.sqrt(sample.size)


@pytest.mark.parametrize(
    ("name", "draw", "mean"),
    [
        ("normal", lambda g: g.standard_normal(N_DRAWS), 0.0),
        ("normal squared", lambda g: g.standard_normal(N_DRAWS) ** 2, 1.0),
        ("uniform", lambda g: g.random(N_DRAWS), 0.5),
        ("gamma(3.5)", lambda g: g.standard_gamma(3.5, N_DRAWS), 3.5),
        ("chi2(7)", lambda g: g.chisquare(7, N_DRAWS), 7.0),
    ],
)
def test_each_backend_draws_the_law(xp_device, name, draw, mean):
    """On every backend the sample mean agrees with the law's mean within its standard
    error (so estimates from two backends agree within theirs), and a mean 2% off (or 0.02
    off a zero mean) is rejected."""
    est, se = _mean_and_stderr(draw(xp_device.rng(seed_sequence(77, name))))
    assert_z_within(est, se, mean)
    assert_z_exceeds(est, se, mean * 1.02 if mean else 0.02)


@needs_gpu
def test_cupy_draws_on_its_gpu_with_its_own_stream():
    """CuPy's Generator draws on the GPU: a stream of its own (not NumPy's), reproducible."""
    backend = resolve_backend("cupy")
    ss = seed_sequence(9, "cupy")
    x = backend.rng(ss).standard_normal(1000)
    assert device_of(x) == backend.device
    np.testing.assert_array_equal(to_numpy(x), to_numpy(backend.rng(ss).standard_normal(1000)))
    assert not np.array_equal(to_numpy(x), np.random.default_rng(ss).standard_normal(1000))
