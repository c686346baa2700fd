"""The teacher-student family on a device: array-api-strict on ``device1`` (not its default
device, so any array made on the host or the default device fails to combine) and CuPy
where a GPU is present.

Reproducibility contract tested here: array-api-strict's generator moves NumPy's own numbers
to the device, so everything strict computes equals NumPy's result to rounding (the
deterministic pieces on the same data, and the random ones too: the same draws); CuPy draws
its own stream, so the same seed gives the same numbers twice on CuPy, and its estimates
agree with NumPy's within their standard errors.
"""

import math

import numpy as np
import pytest

from regnorm.backend import BackendUnavailableError, device_of, resolve_backend, to_numpy
from regnorm.seeding import seed_sequence
from simulations import teacher_student as ts
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import (
    assert_allclose_rounding,
    assert_z_exceeds,
    assert_z_within,
    rounding_rtol,
)

DELTA2 = 0.25
STRICT = "array_api_strict:device1"

needs_strict = pytest.mark.skipif(
    "array_api_strict" not in AVAILABLE_BACKENDS, reason="array-api-strict is not installed"
)
needs_gpu = pytest.mark.skipif("cupy" not in AVAILABLE_BACKENDS, reason="needs CuPy and a GPU")


@pytest.fixture
def strict():
    pytest.importorskip("array_api_strict")
    return resolve_backend(STRICT)


@pytest.fixture
def without_numba(monkeypatch):
    """NumPy's array-API steps instead of its compiled kernels (as without numba): the same
    operations as on the device, so the two agree to rounding of a few operations per step."""
    from simulations.teacher_student import fused

    monkeypatch.setattr(fused, "available", lambda: False)


def _on(backend, *arrays):
    return all(device_of(a) == backend.device for a in arrays)


def _moved(backend, data):
    return ts.TeacherData(*(backend.asarray(a) for a in (data.X, data.y, data.w_star)))


@needs_strict
def test_teacher_data_are_drawn_on_the_device_with_numpys_numbers(strict):
    ss = seed_sequence(11, "teacher")
    data = ts.teacher(7, 9, DELTA2, repetitions=2, rng=ss, backend=strict)
    assert _on(strict, data.X, data.y, data.w_star)
    # the draws in their documented order, made here with NumPy itself
    rng = np.random.default_rng(ss)
    w = rng.standard_normal((2, 7))
    w = w / np.linalg.norm(w, axis=-1, keepdims=True)
    X = rng.standard_normal((2, 9, 7))
    y = np.einsum("rpn,rn->rp", X, w) + math.sqrt(DELTA2) * rng.standard_normal((2, 9))
    np.testing.assert_array_equal(to_numpy(data.X), X)  # moved, not recomputed
    assert_allclose_rounding(to_numpy(data.w_star), w, ops=7)
    assert_allclose_rounding(to_numpy(data.y), y, ops=7)
    on_numpy = ts.teacher(7, 9, DELTA2, repetitions=2, rng=ss)
    np.testing.assert_array_equal(on_numpy.X, X)


@needs_strict
@pytest.mark.parametrize("P", [14, 30])  # P < N (rank P) and P > N
def test_ridge_path_on_the_device_matches_numpy_on_the_same_data(strict, P):
    data = ts.teacher(20, P, DELTA2, rng=4)
    dev = _moved(strict, data)
    zetas = [0.0, 0.01, 0.25, 2.0]
    for f in (ts.ridge_path, ts.ridge_path_derivative, ts.ridge_weights):
        got = f(dev, zetas)
        assert _on(strict, got)
        # an eigendecomposition of a 20 x 20 Gram matrix per data set
        assert_allclose_rounding(to_numpy(got), to_numpy(f(data, zetas)), ops=1e4, atol=1e-13)
    got = ts.shrunk_pseudo_inverse_error(dev, [0.0, 0.1])
    assert _on(strict, got)
    assert_allclose_rounding(to_numpy(got), ts.shrunk_pseudo_inverse_error(data, [0.0, 0.1]))
    v = to_numpy(ts.ridge_weights(data, [0.05, 0.3]))
    z_dev, d_dev = ts.paired_zeta(dev, strict.asarray(v))
    z_np, d_np = ts.paired_zeta(data, v)
    np.testing.assert_allclose(z_dev, [0.05, 0.3], rtol=1e-6)  # a ridge solution is found
    # a minimizer's location is fixed only to the square root of its function's rounding
    np.testing.assert_allclose(z_dev, z_np, rtol=math.sqrt(rounding_rtol(ops=1e4)))


@needs_strict
def test_ridge_errors_on_the_device_equal_numpys(strict):
    kw = dict(N=12, alpha=1.5, repetitions=5, zetas=[0.0, DELTA2], delta2=DELTA2)
    got = ts.ridge_errors(**kw, rng=seed_sequence(2, "C6"), backend=strict)
    want = ts.ridge_errors(**kw, rng=seed_sequence(2, "C6"))
    assert isinstance(got, np.ndarray) and got.shape == (5, 2)
    assert_allclose_rounding(got, want, ops=1e4)


@needs_strict
@pytest.mark.parametrize("variant", list(ts.VARIANTS))
@pytest.mark.parametrize("solver", ["sphere", "precond"])
def test_sgd_students_train_on_the_device_and_match_numpy(strict, variant, solver):
    data = ts.teacher(10, 30, DELTA2, rng=2)
    v0 = to_numpy(ts.ridge_weights(data, [0.05, 0.5]))
    kw = dict(M=6, lr=0.05, epochs=3, zeta_loss=0.01, rng=seed_sequence(7, "sgd"))
    if solver == "precond":
        view = ts.spectral_view(data)
        data, v0 = view.data, to_numpy(view.to_view(v0))
        kw["precond"] = 1.0 / (to_numpy(view.lam) + 0.1)
    dev = _moved(strict, data)
    got = ts.train_students(dev, [variant] * 2, v0=strict.asarray(v0), **kw)
    want = ts.train_students(data, [variant] * 2, v0=v0, **kw)  # fused kernels for precond
    for key in ("v", "v_avg", "v_avg_a", "v_avg_b"):
        assert _on(strict, got[key])
        # 15 steps over 10 coordinates, the same minibatches (NumPy's permutations)
        assert_allclose_rounding(to_numpy(got[key]), want[key], ops=1e3)


@needs_strict
def test_bn_sweep_runs_on_the_device_and_equals_numpy(strict, without_numba, monkeypatch):
    """Nothing of the data's size crosses to the host; the table equals NumPy's."""
    crossed = []
    real = np.from_dlpack  # regnorm.backend.to_numpy's way off array-api-strict's devices

    def recording(x, *a, **k):
        crossed.append(math.prod(x.shape))
        return real(x, *a, **k)

    monkeypatch.setattr(np, "from_dlpack", recording)
    N, alphas = 24, (0.75, 2.0)  # P < N (a flat direction) and P > N
    kw = dict(M=6, delta2=DELTA2, seed=3, variants=("batch_norm", "batch_norm_rms"), avg_epochs=8)
    got = ts.bn_sweep(N, alphas, 1, backend=strict, **kw)
    monkeypatch.setattr(np, "from_dlpack", real)
    want = ts.bn_sweep(N, alphas, 1, **kw)
    assert crossed and max(crossed) < min(round(a * N) for a in alphas) * N
    assert (got["backend"] == STRICT).all() and "backend" not in want
    for col in want.columns:
        if col in ("variants",):
            continue
        a, b = np.asarray(got[col], dtype=float), np.asarray(want[col], dtype=float)
        # pairing by the seed rule: the same data sets whatever the backend
        if col.startswith("zpair_"):  # a minimizer's location (see above)
            np.testing.assert_allclose(a, b, rtol=math.sqrt(rounding_rtol(ops=1e4)))
        else:  # O(1) errors and their small differences (noise, gaps), thousands of steps
            assert_allclose_rounding(a, b, ops=1e4, atol=rounding_rtol(ops=1e4))


def _same_records(check, backend):
    from regnorm.claims import CheckContext

    want = list(check(CheckContext(quick=True)))
    got = list(check(CheckContext(quick=True, options={"backend": backend})))
    assert [r.verdict for r in got] == [r.verdict for r in want]
    for g, w in zip(got, want, strict=True):
        # the simulated records say where they ran; the closed-form ones need not
        assert {k: v for k, v in g.params.items() if k != "backend"} == w.params
        assert g.params.get("backend", backend) == backend and "backend" not in w.params
        if "repetitions" in w.params:
            assert g.params["backend"] == backend
        assert_allclose_rounding(g.numeric, w.numeric, ops=1e4, atol=1e-14)


@needs_strict
def test_check_c7_on_the_device_gives_numpys_records(strict):
    from simulations.checks.teacher_student import BACKEND_CHECKS, CHECKS, check_c7

    assert BACKEND_CHECKS == CHECKS
    _same_records(check_c7, STRICT)


@pytest.mark.slow
@needs_strict
@pytest.mark.parametrize("name", ["check_c5", "check_c6", "check_c8"])
def test_checks_on_the_device_give_numpys_records(strict, name):
    from simulations.checks import teacher_student as checks

    _same_records(getattr(checks, name), STRICT)


def test_bad_backends_are_refused_by_name():
    with pytest.raises(ValueError, match=r"backend='tpu' is not a known backend"):
        ts.teacher(4, 4, DELTA2, backend="tpu")
    with pytest.raises(ValueError, match=r"backend='gpu'"):
        ts.learning_curve_point(dict(N=8, alpha=1.0, delta2=DELTA2, M=2, backend="gpu"), 0)


def test_cupy_without_a_gpu_is_one_clear_error(monkeypatch):
    if "cupy" in AVAILABLE_BACKENDS:
        pytest.skip("a GPU is present")
    with pytest.raises(BackendUnavailableError, match=r"backend='cupy'") as err:
        ts.ridge_errors(8, 1.0, 2, [0.0], DELTA2, 0, backend="cupy")
    assert "\n" not in str(err.value)


@needs_strict
def test_a_generator_of_another_backend_is_refused(strict):
    from regnorm.backend import random_generator

    data = _moved(strict, ts.teacher(6, 12, DELTA2, rng=0))
    v0 = strict.asarray(np.ones((6, 1)))
    with pytest.raises(TypeError, match="generator of backend 'numpy'"):
        ts.train_students(data, ["batch_norm"], M=4, v0=v0, lr=0.1, epochs=1,
                          rng=random_generator("numpy", 0))  # fmt: skip


# -- CuPy (where a GPU is present) -------------------------------------------------------------


@needs_gpu
def test_cupy_same_seed_same_numbers():
    gpu = resolve_backend("cupy")
    runs = []
    for _ in range(2):
        data = ts.teacher(64, 96, DELTA2, rng=seed_sequence(5, "gpu"), backend=gpu)
        view = ts.spectral_view(data)
        v0 = view.to_view(ts.ridge_weights(data, [0.05, 0.5]))
        res = ts.train_students(
            view.data, ["batch_norm", "weight_norm"], M=8, v0=v0, lr=0.05, epochs=2,
            rng=seed_sequence(5, "gpu", "sgd"), precond=1.0 / (view.lam + 0.1),
        )  # fmt: skip
        assert _on(gpu, data.X, res["v_avg"])
        runs.append((to_numpy(data.X), to_numpy(res["v_avg"])))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_gpu
def test_cupy_c6_estimate_agrees_with_numpys_within_its_errors():
    """Two independent streams estimate the same mean ridge error: their difference is 0
    within its standard error (and a shifted zeta is told apart: a negative control)."""
    kw = dict(N=50, alpha=1.0, repetitions=300, zetas=[1 / 64, DELTA2], delta2=DELTA2)
    gpu = ts.ridge_errors(**kw, rng=seed_sequence(1, "C6"), backend="cupy")
    cpu = ts.ridge_errors(**kw, rng=seed_sequence(1, "C6"))

    def z_test(a, b, check):
        se = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(a.size)
        return check(a.mean() - b.mean(), se, 0.0)

    for k in range(2):
        z_test(gpu[:, k], cpu[:, k], assert_z_within)
    z_test(gpu[:, 0], cpu[:, 1], assert_z_exceeds)  # another zeta: another mean
