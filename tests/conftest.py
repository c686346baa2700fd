"""Shared fixtures: the ``xp`` fixture runs backend-generic tests on every array namespace
that imports here (NumPy always; array-api-strict with the test extra; CuPy with a GPU); the
``xp_device`` fixture gives a :class:`regnorm.backend.Backend` with a device, array-api-strict
on a non-default one."""

from __future__ import annotations

import importlib.util

import pytest

from regnorm.backend import BackendUnavailableError, get_namespace, resolve_backend

_BACKENDS = ["numpy", "array_api_strict", "cupy"]


def _available(name: str) -> bool:
    if importlib.util.find_spec(name) is None:
        return False
    try:
        get_namespace(name)
    except BackendUnavailableError:
        return False
    return True


AVAILABLE_BACKENDS = [b for b in _BACKENDS if _available(b)]


@pytest.fixture(params=AVAILABLE_BACKENDS)
def xp(request):
    """An array-API namespace: numpy, array_api_strict (and cupy where a GPU is present)."""
    return get_namespace(request.param)


# The device fixture: array-api-strict on a device that is not its default, so any array a
# function makes on the default device instead of its input's fails to combine with it.
_DEVICE_SPECS = ["numpy", "array_api_strict:device1", "cupy"]
AVAILABLE_DEVICE_SPECS = [s for s in _DEVICE_SPECS if s.partition(":")[0] in AVAILABLE_BACKENDS]


@pytest.fixture(params=AVAILABLE_DEVICE_SPECS)
def xp_device(request):
    """A :class:`regnorm.backend.Backend`: NumPy, array-api-strict on ``device1`` (not its
    default device), and CuPy where a GPU is present."""
    return resolve_backend(request.param)
