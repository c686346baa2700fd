"""Shared fixtures: the ``xp`` fixture runs backend-generic tests on every array namespace
that imports here (NumPy always; array-api-strict with the test extra; CuPy with a GPU); the
``xp_device`` fixture gives a :class:`regnorm.backend.Backend` with a device, array-api-strict
on a non-default one.

The ``gpu`` marker: a test marked ``@pytest.mark.gpu`` needs CuPy and an NVIDIA GPU, and is
skipped where either is missing (:func:`pytest_collection_modifyitems`); the CuPy cases of
the two fixtures carry it, so ``pytest -m gpu`` runs the backend tests on CuPy alone."""

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

#: Why a ``gpu`` test is skipped here (None where CuPy sees a GPU).
NO_GPU = None if "cupy" in AVAILABLE_BACKENDS else "needs CuPy and an NVIDIA GPU"


def pytest_collection_modifyitems(config, items):
    if NO_GPU is None:
        return
    skip = pytest.mark.skip(reason=NO_GPU)
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def _params(specs):
    return [pytest.param(s, marks=pytest.mark.gpu) if s.startswith("cupy") else s for s in specs]


@pytest.fixture(params=_params(AVAILABLE_BACKENDS))
def xp(request):
    """An array-API namespace: numpy, array_api_strict (and cupy where a GPU is present)."""
    return get_namespace(request.param)


# The device fixture: array-api-strict on a device that is not its default, so any array a
# function makes on the default device instead of its input's fails to combine with it.
_DEVICE_SPECS = ["numpy", "array_api_strict:device1", "cupy"]
AVAILABLE_DEVICE_SPECS = [s for s in _DEVICE_SPECS if s.partition(":")[0] in AVAILABLE_BACKENDS]


@pytest.fixture(params=_params(AVAILABLE_DEVICE_SPECS))
def xp_device(request):
    """A :class:`regnorm.backend.Backend`: NumPy, array-api-strict on ``device1`` (not its
    default device), and CuPy where a GPU is present."""
    return resolve_backend(request.param)
