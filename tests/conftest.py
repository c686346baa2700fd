"""Shared fixtures: the ``xp`` fixture runs backend-generic tests on every array namespace
that imports here (NumPy always; array-api-strict with the test extra; CuPy with a GPU)."""

from __future__ import annotations

import importlib.util

import pytest

from regnorm.backend import BackendUnavailableError, get_namespace

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
