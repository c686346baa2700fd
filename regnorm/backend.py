"""Array backends: resolve an array-API namespace by name, by module, or from arrays.

regnorm's array code is written against the Python array API standard and never imports
NumPy-specific functions in its hot paths: it asks this module for a namespace ``xp`` and
uses only ``xp.*``. NumPy is the default; CuPy (GPU) and any array-API library are opt-in.

Resolution rules (:func:`get_namespace`):

* ``None`` or ``"numpy"`` -> NumPy (through ``array_api_compat``).
* ``"cupy"`` -> CuPy; raises :class:`BackendUnavailableError` when CuPy is not installed
  (``pip install ".[gpu]"`` in a regnorm checkout, or CuPy's own wheel for the CUDA version;
  ``regnorm`` on PyPI is another project) or when it is installed but no CUDA device is
  visible.
* ``"array_api_strict"`` (or ``"array-api-strict"``) -> the strict reference namespace,
  used by the test suite to prove that code relies on the standard only.
* ``"torch"`` / ``"jax"`` / ``"dask"`` -> wrapped by ``array_api_compat`` if installed.
* a module or namespace object -> wrapped by ``array_api_compat`` (if it is one of the
  libraries it knows) or returned as is (if it already is an array-API namespace).

Convert to NumPy only at the edges (pandas, matplotlib, files) with :func:`to_numpy`.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BackendUnavailableError",
    "KNOWN_BACKENDS",
    "array_namespace",
    "backend_name",
    "get_namespace",
    "to_numpy",
]

#: Backend names accepted by :func:`get_namespace`, with the install hint for each.
KNOWN_BACKENDS: dict[str, str] = {
    "numpy": "pip install numpy",
    "cupy": 'pip install ".[gpu]" in a regnorm checkout, or CuPy itself '
    "(e.g. pip install cupy-cuda12x); needs an NVIDIA GPU and CUDA",
    "array_api_strict": "pip install array-api-strict",
    "torch": "pip install torch",
    "jax": "pip install jax",
    "dask": 'pip install "dask[array]"',
}

_ALIASES = {"np": "numpy", "array-api-strict": "array_api_strict", "strict": "array_api_strict"}
_MODULES = {
    "numpy": "numpy",
    "cupy": "cupy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "jax": "jax.numpy",
    "dask": "dask.array",
}


class BackendUnavailableError(ImportError):
    """A known backend was requested but cannot be used on this machine."""


def _import_backend(name: str) -> Any:
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend={name!r} is not installed; install it with: {KNOWN_BACKENDS[name]}"
        ) from exc
    if name == "cupy":
        try:
            count = module.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            raise BackendUnavailableError(
                f"backend='cupy' is installed but no usable CUDA device was found ({exc}); "
                "use backend='numpy' on machines without a GPU"
            ) from exc
        if count < 1:
            raise BackendUnavailableError(
                "backend='cupy' is installed but no CUDA device is visible; "
                "use backend='numpy' on machines without a GPU"
            )
    return module


def get_namespace(backend: str | types.ModuleType | Any | None = None) -> Any:
    """Return the array-API namespace for ``backend``.

    Parameters
    ----------
    backend : str, module, namespace or None
        A backend name (see :data:`KNOWN_BACKENDS`), an array module, or an array-API
        namespace. ``None`` means NumPy.

    Returns
    -------
    xp : namespace
        An array-API compatible namespace (``array_api_compat``'s wrapper where one exists).

    Raises
    ------
    ValueError
        ``backend`` is a string that names no known backend.
    BackendUnavailableError
        The backend is known but not installed, or (CuPy) has no GPU to run on.
    TypeError
        ``backend`` is neither a string, a module, a namespace nor None.

    Examples
    --------
    >>> xp = get_namespace("numpy")
    >>> float(xp.mean(xp.asarray([1.0, 2.0, 3.0])))
    2.0
    """
    if backend is None:
        backend = "numpy"
    if isinstance(backend, str):
        name = _ALIASES.get(backend.lower(), backend.lower())
        if name not in _MODULES:
            raise ValueError(
                f"backend={backend!r} is not a known backend; "
                f"allowed: {', '.join(sorted(KNOWN_BACKENDS))}, or an array-API namespace"
            )
        backend = _import_backend(name)
    if not hasattr(backend, "asarray") or not hasattr(backend, "float64"):
        raise TypeError(
            f"backend={backend!r} is not an array namespace; pass a backend name "
            f"({', '.join(sorted(KNOWN_BACKENDS))}) or a module such as numpy"
        )
    try:
        return array_api_compat.array_namespace(backend.asarray(0.0))
    except TypeError:
        return backend


def array_namespace(*arrays: Any) -> Any:
    """The array-API namespace of ``arrays`` (Python scalars and None are ignored).

    With no arrays at all, NumPy's namespace is returned, so functions called with plain
    Python numbers compute in NumPy.
    """
    arrays = tuple(a for a in arrays if a is not None and not isinstance(a, int | float | bool))
    if not arrays:
        return array_api_compat.numpy
    return array_api_compat.array_namespace(*arrays)


def backend_name(xp: Any) -> str:
    """A short name for namespace ``xp`` (``"numpy"``, ``"cupy"``, ``"array_api_strict"``...)."""
    name = getattr(xp, "__name__", type(xp).__name__)
    for short in _MODULES:
        if short in name:
            return short
    return name


def to_numpy(x: Any) -> np.ndarray:
    """Copy array ``x`` (any supported backend, or a scalar) into a NumPy array.

    This is the one exit from backend-generic code to NumPy-only code (pandas, matplotlib,
    files). CuPy arrays are copied from the device.
    """
    if isinstance(x, np.ndarray | np.generic | int | float | bool):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception:  # array_api_strict refuses implicit conversion: go through DLPack
        return np.from_dlpack(x)
