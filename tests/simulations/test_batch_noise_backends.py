"""The batch-noise estimators on a device backend: array-api-strict on its non-default device
``device1`` (an array made on the default device fails to combine with the device's), where
the draws are NumPy's own numbers, so every estimate equals NumPy's to rounding; the CuPy
formulas of the input laws checked against those laws on the CPU; CuPy itself where a GPU is
present (its own draws: agreement within the standard errors)."""

import math

import numpy as np
import pytest

from regnorm.backend import (
    Backend,
    BackendUnavailableError,
    device_of,
    random_generator,
    resolve_backend,
    to_numpy,
)
from regnorm.batch_noise import standardization_error
from regnorm.claims import CheckContext
from regnorm.seeding import seed_sequence
from simulations.batch_noise import (
    GAUSSIAN_BLOCK,
    batch_statistics_mc,
    block_size,
    conditional_error_mc,
    gaussian_standardization_error,
    input_distribution,
    loss_gap_mc,
    standardization_error_mc,
)
from simulations.checks import batch_noise as checks
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within

STRICT = "array_api_strict:device1"
needs_cupy = pytest.mark.skipif("cupy" not in AVAILABLE_BACKENDS, reason="needs CuPy and a GPU")

# Each estimator at a small size, over two blocks or more (the device total is added in
# block order); each returns a flat list of (estimate, stderr) pairs.
M_FULL = 256
TWO_BLOCKS = 2 * block_size(M_FULL) + 37


def _pairs(est):
    if hasattr(est, "mean_variance"):
        return [tuple(e[:2]) for e in est]
    if hasattr(est, "grid"):
        return list(zip(est.estimate.tolist(), est.stderr.tolist(), strict=True))
    return [(est.estimate, est.stderr)]


ESTIMATORS = {
    "two-draw inside": lambda **k: gaussian_standardization_error(
        8, GAUSSIAN_BLOCK + 1000, rng=3, **k
    ),
    "two-draw outside ddof=1": lambda **k: gaussian_standardization_error(
        16, GAUSSIAN_BLOCK + 1000, inside=False, ddof=1, rng=4, **k
    ),
    "full C1 laplace": lambda **k: standardization_error_mc(
        M_FULL, TWO_BLOCKS, distribution="laplace", rng=5, **k
    ),
    "full C1 student_t": lambda **k: standardization_error_mc(
        16, 3000, distribution="student_t", df=10.0, rng=6, **k
    ),
    "C2 uniform": lambda **k: batch_statistics_mc(
        M_FULL, TWO_BLOCKS, distribution="uniform", rng=7, **k
    ),
    "C2 exponential": lambda **k: batch_statistics_mc(
        32, 3000, distribution="exponential", rng=8, **k
    ),
    "C3 gaussian inside": lambda **k: conditional_error_mc(
        [0.0, 2.0], 32, GAUSSIAN_BLOCK // 4 + 500, rng=9, **k
    ),
    "C3 laplace outside": lambda **k: conditional_error_mc(
        [0.0, 1.5], 16, 3000, distribution="laplace", inside=False, rng=10, **k
    ),
    "C4 logistic": lambda **k: loss_gap_mc([0.5, 2.0], 16, 3000, loss="logistic", rng=11, **k),
    "C4 relu laplace no centring": lambda **k: loss_gap_mc(
        [1.0], 16, 3000, loss="relu", distribution="laplace", center=False, rng=12, **k
    ),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_strict_device_estimates_equal_numpy_to_rounding(name):
    # array-api-strict draws NumPy's own numbers from the same block streams: the estimates
    # differ only by the order of the reductions (device sums against NumPy's pairwise sums
    # and BLAS dot), a few roundings per log2 of the number of batches
    est = ESTIMATORS[name]
    ref = _pairs(est())
    got = _pairs(est(backend=STRICT))
    assert len(got) == len(ref)
    ops = 10 * math.log2(TWO_BLOCKS)
    for (m, se), (m0, se0) in zip(got, ref, strict=True):
        assert_allclose_rounding(m, m0, ops=ops)
        assert_allclose_rounding(se, se0, ops=ops)


def test_strict_device_runs_are_reproducible_and_seeded():
    a = gaussian_standardization_error(8, 5000, rng=1, backend=STRICT)
    assert gaussian_standardization_error(8, 5000, rng=1, backend=STRICT) == a
    assert gaussian_standardization_error(8, 5000, rng=2, backend=STRICT) != a
    # chunk_blocks only groups executor tasks: nothing changes on a device either
    b = gaussian_standardization_error(8, 5000, rng=1, chunk_blocks=3, backend=STRICT)
    assert b == a


def test_a_backend_object_and_numpy_by_name():
    b = resolve_backend(STRICT)
    assert gaussian_standardization_error(8, 5000, rng=1, backend=b) == (
        gaussian_standardization_error(8, 5000, rng=1, backend=STRICT)
    )
    # "numpy" is the NumPy path itself, with its kernels: the same bits as the default
    assert gaussian_standardization_error(8, 5000, rng=1, backend="numpy") == (
        gaussian_standardization_error(8, 5000, rng=1)
    )


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_the_sums_cross_to_the_host_once_from_the_device(name, monkeypatch):
    # the engine's one exit is Backend.to_numpy of the device total: every draw, sum and
    # running total before it stays on device1 (strict refuses to mix devices)
    crossings = []
    real = Backend.to_numpy

    def spy(self, x):
        crossings.append(device_of(x))
        return real(self, x)

    monkeypatch.setattr(Backend, "to_numpy", spy)
    ESTIMATORS[name](backend=STRICT)
    assert crossings == [resolve_backend(STRICT).device]


# -- the CuPy formulas of the input laws, run on the CPU ----------------------------------------


def _standardized_moments(x):
    """Mean, variance and fourth moment of ``x``, each with its standard error."""
    n = x.size
    return [(float(np.mean(v)), float(np.std(v, ddof=1)) / math.sqrt(n)) for v in (x, x**2, x**4)]


@pytest.mark.parametrize(
    ("name", "df", "wrong_kurtosis"),
    [
        ("gaussian", None, 3.0),  # a law with the Laplace's tails instead
        ("uniform", None, 0.0),
        ("laplace", None, 0.0),
        ("exponential", None, 0.0),
        ("student_t", 10.0, 0.0),
    ],
)
def test_device_formulas_draw_each_input_law(name, df, wrong_kurtosis):
    # device_sample is what CuPy runs; on array-api-strict it draws from NumPy's uniforms,
    # normals and gammas. Standardized, each law has mean 0, variance 1 and E[z^4] = rho + 3.
    dist = input_distribution(name, df=df)
    g = random_generator(STRICT, seed_sequence(21, name))
    x = dist.device_sample(g, (200_000,))
    assert device_of(x) == resolve_backend(STRICT).device
    z = (to_numpy(x) - dist.mean) / dist.std
    (m1, s1), (m2, s2), (m4, s4) = _standardized_moments(z)
    assert_z_within(m1, s1, 0.0)
    assert_z_within(m2, s2, 1.0)
    assert_z_within(m4, s4, dist.excess_kurtosis + 3.0)
    assert_z_exceeds(m4, s4, wrong_kurtosis + 3.0)  # negative control: another law's tails


@pytest.mark.parametrize("name", ["gaussian", "uniform", "exponential", "laplace"])
def test_device_formulas_are_numpys_numbers_where_they_can_be(name):
    # the same generator calls as SciPy's sampler (Laplace: the same uniforms through NumPy's
    # inverse CDF, whose C log and vector log differ by rounding)
    dist = input_distribution(name)
    x = dist.device_sample(random_generator(STRICT, seed_sequence(3, 1)), (50, 7))
    ref = dist.sample(np.random.default_rng(seed_sequence(3, 1)), (50, 7))
    assert_allclose_rounding(to_numpy(x), ref, ops=10)


def test_device_student_t_is_another_stream_of_the_same_law():
    # NumPy draws the normal and the gamma of each value in turn; the device formula draws
    # whole arrays, so the numbers differ (the law is tested above)
    dist = input_distribution("student_t", df=10.0)
    x = dist.device_sample(random_generator(STRICT, seed_sequence(3, 1)), (1000,))
    ref = dist.sample(np.random.default_rng(seed_sequence(3, 1)), (1000,))
    assert not np.allclose(to_numpy(x), ref)


# -- the checks on a backend ---------------------------------------------------------------------


@pytest.fixture
def small_budget(monkeypatch):
    monkeypatch.setattr(checks, "_budget", lambda ctx: 20_000)


# C3 and C4 spend their time in the closed forms' quadratures (the same on every backend)
@pytest.mark.parametrize(
    "check",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id in ("C3", "C4") else [])
        for c in checks.BACKEND_CHECKS
    ],
)
def test_checks_on_the_strict_device_give_numpys_records(check, small_budget):
    ref = list(check(CheckContext(quick=True)))
    got = list(check(CheckContext(quick=True, options={"backend": STRICT})))
    assert [r.verdict for r in got] == [r.verdict for r in ref]
    for r, r0 in zip(got, ref, strict=True):
        assert r.params.pop("backend") == STRICT
        assert r.params == r0.params
        assert_allclose_rounding(r.numeric, r0.numeric, ops=10 * math.log2(20_000))
    assert "backend" not in ref[0].params  # a NumPy run's records are unchanged


def test_c13_is_not_a_backend_check():
    assert [c.id for c in checks.BACKEND_CHECKS] == ["C1", "C2", "C3", "C4"]
    assert checks.check_backend(CheckContext()) is None
    assert checks.check_backend(CheckContext(options={"backend": "numpy"})) is None
    assert checks.check_backend(CheckContext(options={"backend": STRICT})).spec == STRICT


# -- bad input -------------------------------------------------------------------------------


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"backend='tpu' is not a known backend"):
        gaussian_standardization_error(8, 100, backend="tpu")


def test_a_device_backend_runs_in_this_process():
    with pytest.raises(ValueError, match=r"executor='processes:2' with backend='array_api_strict"):
        standardization_error_mc(8, 100, backend=STRICT, executor="processes:2")
    est = standardization_error_mc(8, 3000, rng=1, backend=STRICT, executor="inprocess")
    assert est == standardization_error_mc(8, 3000, rng=1, backend=STRICT)


@pytest.mark.skipif("cupy" in AVAILABLE_BACKENDS, reason="CuPy with a GPU is present")
def test_cupy_without_a_gpu_is_one_clear_error():
    with pytest.raises(BackendUnavailableError, match=r"backend='cupy'") as info:
        loss_gap_mc([1.0], 8, 100, backend="cupy")
    assert "\n" not in str(info.value)


# -- CuPy, where a GPU is present ----------------------------------------------------------------


@needs_cupy
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_cupy_estimates_agree_with_numpy_within_their_errors(name):
    # CuPy draws its own numbers: the two estimates are independent, so their difference is
    # z-tested against its combined standard error
    est = ESTIMATORS[name]
    for (m, se), (m0, se0) in zip(_pairs(est(backend="cupy")), _pairs(est()), strict=True):
        assert_z_within(m - m0, math.hypot(se, se0), 0.0)


@needs_cupy
def test_cupy_is_reproducible_and_rejects_a_wrong_value():
    est = gaussian_standardization_error(16, 2_000_000, rng=9, backend="cupy")
    assert gaussian_standardization_error(16, 2_000_000, rng=9, backend="cupy") == est
    assert_z_within(est.estimate, est.stderr, standardization_error(16))
    assert_z_exceeds(est.estimate, est.stderr, 1.5 / 16)  # the asymptote, not the exact value
