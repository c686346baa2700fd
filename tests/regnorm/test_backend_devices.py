"""Backends with a device: the spec, its errors, and the library run on a non-default device.

array-api-strict on ``device1`` refuses to combine an array of that device with one of its
default device, so every normalizer run here fails if it makes an array on the default
device instead of its input's. Each run is compared with the same run on NumPy.
"""

import sys

import numpy as np
import pytest
from scipy import special

from regnorm.backend import (
    Backend,
    BackendUnavailableError,
    backend_name,
    device_of,
    get_namespace,
    resolve_backend,
    to_numpy,
)
from regnorm.gamma_decay import zeta_from_data
from regnorm.normalizers import KernelNorm
from regnorm.normalizers.proxy_norm import gaussian_cdf, relu_gaussian_moments
from regnorm.pn_wn_equivalence import pn_wn_gap
from tests.conftest import AVAILABLE_BACKENDS
from tests.regnorm.normalizer_cases import CASES, make
from tests.tolerances import assert_allclose_rounding, assert_close_normwise, rounding_rtol

STRICT = "array_api_strict" in AVAILABLE_BACKENDS
needs_strict = pytest.mark.skipif(not STRICT, reason="array-api-strict is not installed")


# -- the spec -------------------------------------------------------------------------------


@needs_strict
def test_strict_with_a_named_device():
    import array_api_strict

    b = resolve_backend("array_api_strict:device1")
    assert isinstance(b, Backend)
    assert b.name == "array_api_strict" and b.device == array_api_strict.Device("device1")
    assert b.xp is get_namespace("array_api_strict:device1")
    default = resolve_backend("strict")
    assert default.device == array_api_strict.Device("CPU_DEVICE") != b.device
    assert resolve_backend(b.spec) == b and resolve_backend(default.spec) == default


def test_numpy_spellings_and_namespaces():
    for spec in (None, "numpy", "NumPy", "np", "numpy:cpu", np, get_namespace("numpy")):
        b = resolve_backend(spec)
        assert (b.name, b.device, b.spec) == ("numpy", "cpu", "numpy")
    b = resolve_backend("numpy")
    assert resolve_backend(b) is b


@needs_strict
def test_asarray_puts_data_on_its_device():
    b = resolve_backend("array_api_strict:device1")
    xp = b.xp
    on_default = xp.asarray([1.0, 2.0])
    for source in ([1.0, 2.0], np.array([1.0, 2.0]), on_default, b.asarray([1.0, 2.0])):
        a = b.asarray(source)
        assert device_of(a) == b.device
        np.testing.assert_array_equal(b.to_numpy(a), [1.0, 2.0])
    assert b.asarray([1, 2], dtype=xp.float32).dtype == xp.float32
    # a NumPy backend takes the strict array through the host
    np.testing.assert_array_equal(resolve_backend("numpy").asarray(b.asarray([3.0])), [3.0])


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("tensorflw", r"backend='tensorflw' is not a known backend; allowed: .*numpy"),
        ("numpy:gpu", r"backend='numpy:gpu': NumPy has one device, 'cpu'"),
        ("torch:0", r"backend='torch:0': a device may follow the name only for numpy"),
        ("cupy:first", r"backend='cupy:first': the device of CuPy is a CUDA device index"),
    ],
)
def test_bad_specs_name_the_parameter_value_and_allowed(spec, pattern):
    with pytest.raises(ValueError, match=pattern):
        resolve_backend(spec)


@needs_strict
def test_unknown_strict_device_lists_the_devices():
    with pytest.raises(ValueError, match=r"xp='strict:device9' names no device.*device1"):
        resolve_backend("strict:device9", parameter="xp")


def test_cupy_missing_is_one_line_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    for spec in ("cupy", "cupy:1"):
        with pytest.raises(BackendUnavailableError) as info:
            resolve_backend(spec)
        msg = str(info.value)
        assert isinstance(info.value, ImportError) and "\n" not in msg
        assert f"backend={spec!r} is not installed" in msg and 'pip install ".[gpu]"' in msg


def test_not_a_spec_is_a_type_error():
    with pytest.raises(TypeError, match="backend=42 is not an array namespace"):
        resolve_backend(42)


# -- the normalizers on the device ------------------------------------------------------------

#: every registry case, and KernelNorm with dropout (its masks are drawn on the device)
DEVICE_CASES = [*CASES, "kernel_norm_dropout"]
SHAPE = (6, 4, 4, 4)


def _build(case, backend):
    if case == "kernel_norm_dropout":
        return KernelNorm(2, stride=1, dropout=0.3, rng=5, xp=backend)
    return make(case, backend)


def _run(layer, backend, seed=3):
    """Two training steps (forward + backward) and one evaluation, as NumPy arrays, with
    every array the layer returns or keeps checked to be on the backend's device."""
    rng = np.random.default_rng(seed)
    out = {}
    for step in range(2):
        x = backend.asarray(rng.standard_normal(SHAPE) * 1.5 + 0.5)
        y = layer.forward(x, training=True)
        dy = backend.asarray(rng.standard_normal(tuple(y.shape)))
        dx = layer.backward(dy)
        out[f"y{step}"], out[f"dx{step}"] = y, dx
        out.update({f"grad_{k}{step}": v for k, v in layer.grads.items()})
    out["y_eval"] = layer.forward(backend.asarray(rng.standard_normal(SHAPE)), training=False)
    out.update({f"state_{k}": v for k, v in layer.state.items()})
    out.update({f"param_{k}": v for k, v in layer.params.items()})
    for key, value in out.items():
        assert device_of(value) == backend.device, f"{key} left the device"
    return {k: to_numpy(v) for k, v in out.items()}


@pytest.mark.parametrize("case", DEVICE_CASES)
def test_normalizer_stays_on_the_device_and_equals_numpy(case, xp_device):
    """Forward, backward and running statistics of every normalizer with inputs on the
    backend's device: everything stays there and equals NumPy's run to rounding."""
    got = _run(_build(case, xp_device), xp_device)
    want = _run(_build(case, resolve_backend("numpy")), resolve_backend("numpy"))
    assert got.keys() == want.keys()
    for key in want:
        if np.all(np.isnan(want[key])):  # SwitchableNorm's batch averages before any
            assert np.all(np.isnan(got[key])), key
            continue
        # statistics of 96 elements, and sums of as many in the gradients
        assert_close_normwise(got[key], want[key], np.float64, ops=100)


@needs_strict
def test_an_input_on_another_device_is_refused():
    b = resolve_backend("array_api_strict:device1")
    layer = make("batch_norm", b)
    with pytest.raises(ValueError, match=r"x is on device .*CPU_DEVICE.* layer's parameters"):
        layer.forward(b.xp.ones(SHAPE))  # strict's default device
    layer.forward(b.asarray(np.ones(SHAPE) + np.arange(4)[:, None, None]))
    with pytest.raises(ValueError, match=r"dy is on device"):
        layer.backward(b.xp.ones(SHAPE))
    layer.params["gamma"] = b.xp.ones(4)
    with pytest.raises(ValueError, match=r"params\['gamma'\] is on device"):
        layer.check_params()


# -- special functions and closed forms on the device -----------------------------------------


def test_gaussian_cdf_matches_scipy(xp_device):
    """Phi on the device against SciPy's ndtr (the array-API series and continued fraction
    on array-api-strict), over the body and both tails; infinities exact."""
    t = np.concatenate([np.linspace(-20.0, 10.0, 30001), [-np.inf, np.inf, 0.0]])
    got = gaussian_cdf(xp_device.asarray(t))
    assert device_of(got) == xp_device.device
    got, want = to_numpy(got), special.ndtr(t)
    assert got[-3:].tolist() == [0.0, 1.0, 0.5]
    # the tail's relative error grows like t^2 u: the rounding of t/sqrt(2), amplified
    rtol = rounding_rtol() * (1.0 + t[:-3] ** 2 / 100.0)
    np.testing.assert_array_less(np.abs(got[:-3] - want[:-3]), rtol * want[:-3])


def test_relu_moments_on_the_device(xp_device):
    a = np.linspace(-2.0, 2.0, 9)[:, None] + np.zeros(7)
    b = np.linspace(-1.5, 1.5, 7) + np.zeros((9, 1))
    m, v = relu_gaussian_moments(xp_device.asarray(a), xp_device.asarray(b))
    assert device_of(m) == device_of(v) == xp_device.device
    m0, v0 = relu_gaussian_moments(a, b)
    assert_allclose_rounding(to_numpy(m), m0, ops=100)
    assert_allclose_rounding(to_numpy(v), v0, ops=100)


def test_zeta_and_pn_wn_on_the_device(xp_device):
    rng = np.random.default_rng(11)
    h = rng.standard_normal(2000)
    for loss in ("relu", "logistic", "squared"):
        got = zeta_from_data(xp_device.asarray(h), 16, loss=loss)
        want = zeta_from_data(h, 16, loss=loss)
        assert_allclose_rounding(got.zeta, want.zeta, ops=2000)
    x, w = rng.standard_normal((50, 5)), rng.standard_normal(5)
    # std != sqrt(cov): the article's erratum, a gap of order one (not a rounding residue)
    settings = {"mean": 0.3, "cov": 4.0, "std": 1.0}
    gap = pn_wn_gap(xp_device.asarray(x), xp_device.asarray(w), 1.5, 0.2, **settings)
    assert_allclose_rounding(gap, pn_wn_gap(x, w, 1.5, 0.2, **settings), ops=50)
    assert backend_name(xp_device.xp) == xp_device.name


def test_backend_param_names_only_a_non_numpy_backend_by_its_canonical_spec():
    from regnorm.backend import backend_param, resolve_backend

    assert backend_param(None) == {} and backend_param("numpy") == {}
    assert backend_param(resolve_backend("np")) == {}
    strict = resolve_backend("array_api_strict:device1")
    # an alias and the Backend itself give the same name: a figure and its checks share a run
    assert backend_param("strict:device1") == backend_param(strict) == {"backend": strict.spec}
