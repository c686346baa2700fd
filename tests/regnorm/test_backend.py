import numpy as np
import pytest

from regnorm.backend import (
    BackendUnavailableError,
    array_namespace,
    backend_name,
    get_namespace,
    to_numpy,
)


def test_default_is_numpy():
    assert backend_name(get_namespace()) == "numpy"
    assert backend_name(get_namespace(np)) == "numpy"


def test_xp_fixture_roundtrip(xp):
    a = xp.asarray([1.0, 2.0, 4.0])
    assert backend_name(array_namespace(a)) == backend_name(xp)
    np.testing.assert_array_equal(to_numpy(xp.cumulative_sum(a)), [1.0, 3.0, 7.0])


def test_array_namespace_of_scalars_is_numpy():
    assert backend_name(array_namespace(1.0, None, 3)) == "numpy"


def test_unknown_backend_names_allowed_values():
    with pytest.raises(ValueError, match=r"backend='tensorflw' is not a known backend.*numpy"):
        get_namespace("tensorflw")


def test_missing_backend_says_how_to_install(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(BackendUnavailableError, match=r"backend='cupy'.*pip install"):
        get_namespace("cupy")


def _fake_cupy(monkeypatch, device_count):
    """CuPy "installed", with a CUDA runtime whose device count is ``device_count()``."""
    import importlib
    import types

    runtime = types.SimpleNamespace(getDeviceCount=device_count)
    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))
    real = importlib.import_module
    monkeypatch.setattr(
        importlib, "import_module", lambda n, *a, **k: fake_cupy if n == "cupy" else real(n)
    )


def test_cupy_without_gpu_is_a_clear_error(monkeypatch):
    """CuPy installed but no CUDA device: the error says so and suggests numpy."""

    def no_driver():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    _fake_cupy(monkeypatch, no_driver)
    with pytest.raises(BackendUnavailableError, match="no usable CUDA device"):
        get_namespace("cupy")


def test_cupy_with_no_visible_device(monkeypatch):
    _fake_cupy(monkeypatch, lambda: 0)
    with pytest.raises(BackendUnavailableError, match="no CUDA device is visible"):
        get_namespace("cupy")


def test_cupy_device_index_beyond_the_visible_gpus(monkeypatch):
    _fake_cupy(monkeypatch, lambda: 1)
    with pytest.raises(BackendUnavailableError, match=r"'cupy:3' names no visible CUDA device"):
        get_namespace("cupy:3")


def test_not_a_namespace_is_type_error():
    with pytest.raises(TypeError, match="not an array namespace"):
        get_namespace(42)
