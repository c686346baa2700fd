"""Array backends: a namespace and a device, resolved from a spec; random numbers made there.

regnorm's array code is written against the Python array API standard and never imports
NumPy-specific functions in its hot paths: it asks this module for a namespace ``xp`` and
uses only ``xp.*``. NumPy is the default; CuPy (GPU) and any array-API library are opt-in.

A :class:`Backend` is a namespace together with the device its arrays are made on;
:func:`resolve_backend` builds one from a *spec*:

* ``None`` or ``"numpy"`` -> NumPy (through ``array_api_compat``), device ``"cpu"``.
* ``"cupy"`` -> CuPy on the current CUDA device; ``"cupy:1"`` on device 1. Raises
  :class:`BackendUnavailableError` when CuPy is not installed (``pip install ".[gpu]"`` in a
  regnorm checkout, or CuPy's own wheel for the CUDA version; ``regnorm`` on PyPI is another
  project), when it is installed but no CUDA device is visible, or when the device index
  names no visible device.
* ``"array_api_strict"`` (or ``"array-api-strict"``, ``"strict"``) -> the strict reference
  namespace on its default device; ``"array_api_strict:device1"`` on the named device. The
  test suite runs the library on ``device1``: strict refuses to combine arrays of two
  devices, so any array made on the default device where the input's was meant fails.
* ``"torch"`` / ``"jax"`` / ``"dask"`` -> wrapped by ``array_api_compat`` if installed
  (default device only).
* a module or namespace object -> wrapped by ``array_api_compat`` (if it is one of the
  libraries it knows) or used as is (if it already is an array-API namespace), on its
  default device; a :class:`Backend` is returned unchanged.

:func:`get_namespace` is ``resolve_backend(spec).xp``. Code that creates arrays takes the
device from its input (``xp.zeros(shape, dtype=..., device=device_of(x))``) or from its
backend (:meth:`Backend.asarray`). Random numbers come from :func:`random_generator`, on the
backend's device. Convert to NumPy only at the edges (pandas, matplotlib, files) with
:func:`to_numpy`.

**CuPy and several GPUs.** ``array_api_compat`` honours ``device=`` in CuPy's ``asarray``
only; its other creation functions, and every CuPy kernel, run on the *current* device. Work
on a device other than the current one runs inside ``with backend.activate():``
(:meth:`Backend.activate`); :meth:`Backend.asarray` and the generator of
:func:`random_generator` make their device current themselves.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from dataclasses import dataclass
from typing import Any

import array_api_compat
import array_api_compat.numpy  # array_namespace() of no arrays returns it
import numpy as np

from .validation import normalize_rng

__all__ = [
    "backend_param",
    "ArrayGenerator",
    "Backend",
    "BackendUnavailableError",
    "KNOWN_BACKENDS",
    "array_namespace",
    "backend_name",
    "device_of",
    "get_namespace",
    "random_generator",
    "resolve_backend",
    "to_numpy",
]

#: Backend names accepted by :func:`resolve_backend`, with the install hint for each.
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
# what may follow "name:" in a spec
_DEVICE_FORMS = {
    "numpy": "'cpu'",
    "cupy": "a CUDA device index (cupy:0, cupy:1, ...)",
    "array_api_strict": "a device name of array_api_strict (e.g. array_api_strict:device1)",
}


class BackendUnavailableError(ImportError):
    """A known backend was requested but cannot be used on this machine."""


def _import_backend(name: str, spec: str, parameter: str) -> Any:
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        raise BackendUnavailableError(
            f"{parameter}={spec!r} is not installed; install it with: {KNOWN_BACKENDS[name]}"
        ) from exc
    if name == "cupy":
        _cuda_device_count(module, spec, parameter)
    return module


def _cuda_device_count(cupy: Any, spec: str, parameter: str) -> int:
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise BackendUnavailableError(
            f"{parameter}={spec!r}: CuPy is installed but no usable CUDA device was found "
            f"({exc}); use {parameter}='numpy' on machines without a GPU"
        ) from exc
    if count < 1:
        raise BackendUnavailableError(
            f"{parameter}={spec!r}: CuPy is installed but no CUDA device is visible; "
            f"use {parameter}='numpy' on machines without a GPU"
        )
    return count


def _default_device(xp: Any) -> Any:
    info = getattr(xp, "__array_namespace_info__", None)
    return None if info is None else info().default_device()


def _namespace(module: Any) -> Any:
    try:
        return array_api_compat.array_namespace(module.asarray(0.0))
    except TypeError:
        return module


def _parse_device(name: str, module: Any, token: str, spec: str, parameter: str) -> Any:
    """The device that ``token`` (the text after ``name:``) names, checked."""
    if name == "numpy":
        if token != "cpu":
            raise ValueError(
                f"{parameter}={spec!r}: NumPy has one device, 'cpu'; allowed: 'numpy' or "
                "'numpy:cpu'"
            )
        return "cpu"
    if name == "array_api_strict":
        devices = module.__array_namespace_info__().devices()
        names = _strict_names(devices)
        if token not in names:
            allowed = ", ".join(f"'array_api_strict:{n}'" for n in names)
            raise ValueError(
                f"{parameter}={spec!r} names no device of array_api_strict; allowed: {allowed}"
            )
        return devices[names.index(token)]
    # cupy (the index's form was checked before the import)
    count = _cuda_device_count(module, spec, parameter)
    if int(token) >= count:
        raise BackendUnavailableError(
            f"{parameter}={spec!r} names no visible CUDA device: this machine has {count} "
            f"({', '.join(f'cupy:{i}' for i in range(count))})"
        )
    return module.cuda.Device(int(token))


def _strict_names(devices: Any) -> list[str]:
    # array_api_strict.Device keeps its name in _device; its repr is Device('name')
    return [repr(d).split("'")[1] for d in devices]


@dataclass(frozen=True)
class Backend:
    """An array namespace and the device its arrays are made on.

    Build one with :func:`resolve_backend`; layers and simulations take it (or anything
    :func:`resolve_backend` accepts) as ``xp=`` / ``backend=``.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"cupy"``, ``"array_api_strict"`` ... (:func:`backend_name`).
    xp : namespace
        The array-API namespace (``array_api_compat``'s wrapper where one exists).
    device : object
        The device: ``"cpu"`` for NumPy, a ``cupy.cuda.Device``, an
        ``array_api_strict.Device``; ``None`` where the namespace does not say.

    Examples
    --------
    >>> b = resolve_backend("array_api_strict:device1")
    >>> b.name, b.device
    ('array_api_strict', array_api_strict.Device('device1'))
    >>> x = b.asarray([1.0, 2.0])
    >>> device_of(x) == b.device, b.to_numpy(x * 2).tolist()
    (True, [2.0, 4.0])
    """

    name: str
    xp: Any
    device: Any = None

    @property
    def spec(self) -> str:
        """The spec that :func:`resolve_backend` turns back into this backend."""
        if self.device is None or self.device == _default_device(self.xp):
            return self.name
        if self.name == "cupy":
            return f"cupy:{self.device.id}"
        return f"{self.name}:{_strict_names([self.device])[0]}"

    def __repr__(self) -> str:
        return f"Backend({self.spec!r})"

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """``x`` (a number, a sequence, a NumPy array or an array of any backend) as an array
        of this backend, on its device, with ``dtype`` (a dtype of ``xp``; ``None``: inferred).

        An array of another library goes through the host (:func:`to_numpy`); an array of
        this namespace on another device is copied to this one.
        """
        if array_api_compat.is_array_api_obj(x):
            if backend_name(array_api_compat.array_namespace(x)) != self.name:
                x = to_numpy(x)
            elif self.device is not None and device_of(x) != self.device:
                x = array_api_compat.to_device(x, self.device)
        return self.xp.asarray(x, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """:func:`to_numpy`: the one exit to the host."""
        return to_numpy(x)

    def rng(self, rng: Any = None) -> ArrayGenerator:
        """:func:`random_generator` on this backend."""
        return random_generator(self, rng)

    def activate(self) -> contextlib.AbstractContextManager:
        """A context in which this backend's device is current (CuPy); a no-op elsewhere."""
        if self.name == "cupy" and self.device is not None:
            return self.xp_module().cuda.Device(self.device.id)
        return contextlib.nullcontext()

    def xp_module(self) -> Any:
        """The library's own module (``cupy``, ``numpy`` ...), for the few calls that the
        array API does not have (CuPy's random generator, ``cupyx.scipy.special``)."""
        return importlib.import_module(_MODULES.get(self.name, self.name))


def resolve_backend(spec: Any = None, *, parameter: str = "backend") -> Backend:
    """The :class:`Backend` a spec names.

    Parameters
    ----------
    spec : str, module, namespace, Backend or None
        ``"numpy"``, ``"cupy"``, ``"cupy:<index>"``, ``"array_api_strict"``,
        ``"array_api_strict:<device name>"``, ``"torch"``, ``"jax"``, ``"dask"`` (in any
        case; ``"np"``, ``"strict"`` and ``"array-api-strict"`` are aliases), an array module
        or array-API namespace (on its default device), a :class:`Backend` (returned as is),
        or ``None`` (NumPy).
    parameter : str
        The caller's parameter name, used in error messages.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        A string that names no known backend, or a device that the backend cannot have
        (the message names the parameter, the value and the allowed values).
    BackendUnavailableError
        The backend is known but not installed, or (CuPy) has no GPU, or no GPU of that
        index, to run on. One line naming what is missing and how to install it.
    TypeError
        ``spec`` is neither a string, a module, a namespace, a Backend nor None.

    Examples
    --------
    >>> resolve_backend()
    Backend('numpy')
    >>> resolve_backend("array_api_strict:device1").device
    array_api_strict.Device('device1')
    >>> resolve_backend("numpy:gpu")
    Traceback (most recent call last):
    ...
    ValueError: backend='numpy:gpu': NumPy has one device, 'cpu'; allowed: 'numpy' or 'numpy:cpu'
    """
    if isinstance(spec, Backend):
        return spec
    if spec is None:
        spec = "numpy"
    if isinstance(spec, str):
        head, sep, token = spec.partition(":")
        name = _ALIASES.get(head.lower(), head.lower())
        if name not in _MODULES:
            raise ValueError(
                f"{parameter}={spec!r} is not a known backend; allowed: "
                f"{', '.join(sorted(KNOWN_BACKENDS))} (numpy:cpu, cupy:<index>, "
                "array_api_strict:<device>), or an array-API namespace"
            )
        if sep and name not in _DEVICE_FORMS:
            forms = "; ".join(f"{n}: {f}" for n, f in _DEVICE_FORMS.items())
            raise ValueError(f"{parameter}={spec!r}: a device may follow the name only for {forms}")
        if sep and name == "cupy" and not token.isdigit():
            raise ValueError(f"{parameter}={spec!r}: the device of CuPy is {_DEVICE_FORMS['cupy']}")
        module = _import_backend(name, spec, parameter)
        device = _parse_device(name, module, token, spec, parameter) if sep else None
        xp = _namespace(module)
        return Backend(name, xp, _default_device(xp) if device is None else device)
    if not hasattr(spec, "asarray") or not hasattr(spec, "float64"):
        raise TypeError(
            f"{parameter}={spec!r} is not an array namespace; pass a backend name "
            f"({', '.join(sorted(KNOWN_BACKENDS))}) or a module such as numpy"
        )
    xp = _namespace(spec)
    return Backend(backend_name(xp), xp, _default_device(xp))


def get_namespace(backend: str | types.ModuleType | Any | None = None) -> Any:
    """Return the array-API namespace for ``backend`` (``resolve_backend(backend).xp``).

    Parameters
    ----------
    backend : str, module, namespace, Backend or None
        Anything :func:`resolve_backend` accepts. ``None`` means NumPy.

    Returns
    -------
    xp : namespace
        An array-API compatible namespace (``array_api_compat``'s wrapper where one exists).

    Raises
    ------
    ValueError, BackendUnavailableError, TypeError
        As :func:`resolve_backend`.

    Examples
    --------
    >>> xp = get_namespace("numpy")
    >>> float(xp.mean(xp.asarray([1.0, 2.0, 3.0])))
    2.0
    """
    return resolve_backend(backend).xp


def array_namespace(*arrays: Any) -> Any:
    """The array-API namespace of ``arrays`` (Python scalars and None are ignored).

    With no arrays at all, NumPy's namespace is returned, so functions called with plain
    Python numbers compute in NumPy.
    """
    arrays = tuple(a for a in arrays if a is not None and not isinstance(a, int | float | bool))
    if not arrays:
        return array_api_compat.numpy
    return array_api_compat.array_namespace(*arrays)


def device_of(x: Any) -> Any:
    """The device of array ``x`` (``"cpu"`` for NumPy), to create arrays beside it."""
    return array_api_compat.device(x)


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


# -- random numbers ---------------------------------------------------------------------------

_NUMPY_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "bool")


class ArrayGenerator:
    """Random numbers made on a backend's device; build it with :func:`random_generator`.

    Every draw returns an array of the backend on its device. Shapes are an int or a tuple;
    ``dtype`` is a dtype of the backend's namespace (default ``float64``).

    Attributes
    ----------
    backend : Backend
    numpy : numpy.random.Generator or None
        The NumPy generator that draws for NumPy and the host-drawn backends (None on CuPy).
    """

    def __init__(
        self, backend: Backend, numpy: np.random.Generator | None, cupy_generator: Any = None
    ) -> None:
        self.backend = backend
        self.numpy = numpy
        self._cupy_generator = cupy_generator  # CuPy's own generator, or None

    def __repr__(self) -> str:
        return f"ArrayGenerator({self.backend.spec!r})"

    def _host(self, method: str, *args: Any, dtype: Any = None) -> Any:
        """Draw with NumPy and move the result to the backend's device once."""
        kwargs = {} if dtype is None else {"dtype": self._numpy_dtype(dtype)}
        out = getattr(self.numpy, method)(*args, **kwargs)
        if self.backend.name == "numpy":
            return out
        return self.backend.xp.asarray(out, device=self.backend.device)

    def _numpy_dtype(self, dtype: Any) -> np.dtype:
        xp = self.backend.xp
        for name in _NUMPY_DTYPES:
            candidate = getattr(xp, name, None)
            if candidate is not None and type(candidate) is type(dtype) and candidate == dtype:
                return np.dtype(name)
        raise TypeError(f"dtype={dtype!r} is not a dtype of backend {self.backend.spec!r}")

    def _cupy(self, method: str, *args: Any, **kwargs: Any) -> Any:
        # UNTESTED HERE (no GPU in CI): CuPy's Generator API, as documented by CuPy.
        with self.backend.activate():
            return getattr(self._cupy_generator, method)(*args, **kwargs)

    @staticmethod
    def _shape(shape: Any) -> tuple[int, ...]:
        return (shape,) if isinstance(shape, int) else tuple(shape)

    @staticmethod
    def _parameter(value: Any) -> Any:
        """A distribution parameter: a Python float, or a NumPy array (host draws)."""
        return float(value) if isinstance(value, int | float) else to_numpy(value)

    def standard_normal(self, shape: Any = (), dtype: Any = None) -> Any:
        """Standard normal draws of ``shape``."""
        dtype = self.backend.xp.float64 if dtype is None else dtype
        if self._cupy_generator is not None:
            return self._cupy("standard_normal", size=self._shape(shape), dtype=dtype)
        return self._host("standard_normal", self._shape(shape), dtype=dtype)

    def random(self, shape: Any = (), dtype: Any = None) -> Any:
        """Uniform draws on ``[0, 1)`` of ``shape``."""
        dtype = self.backend.xp.float64 if dtype is None else dtype
        if self._cupy_generator is not None:
            return self._cupy("random", size=self._shape(shape), dtype=dtype)
        return self._host("random", self._shape(shape), dtype=dtype)

    def integers(self, low: int, high: int, shape: Any = ()) -> Any:
        """Integers uniform on ``[low, high)`` (int64) of ``shape``."""
        if self._cupy_generator is not None:
            return self._cupy("integers", int(low), int(high), size=self._shape(shape))
        return self._host("integers", low, high, self._shape(shape))

    def standard_gamma(self, k: Any, shape: Any = (), dtype: Any = None) -> Any:
        """Gamma(``k``, 1) draws of ``shape`` (``k`` a number or an array broadcasting to it)."""
        dtype = self.backend.xp.float64 if dtype is None else dtype
        if self._cupy_generator is not None:
            k = float(k) if isinstance(k, int | float) else k
            return self._cupy("standard_gamma", k, size=self._shape(shape), dtype=dtype)
        return self._host("standard_gamma", self._parameter(k), self._shape(shape), dtype=dtype)

    def chisquare(self, df: Any, shape: Any = ()) -> Any:
        """Chi-square(``df``) draws (float64) of ``shape``."""
        if self._cupy_generator is not None:
            df = float(df) if isinstance(df, int | float) else df
            return self._cupy("chisquare", df, size=self._shape(shape))
        return self._host("chisquare", self._parameter(df), self._shape(shape))

    def permutation(self, n: int) -> Any:
        """A random permutation of ``0 .. n-1`` (int64).

        NumPy's ``permutation`` on the host backends; on CuPy the argsort of ``n`` uniform
        draws (CuPy's Generator has no permutation).
        """
        if self._cupy_generator is not None:
            return self.backend.xp.argsort(self.random(int(n)))
        return self._host("permutation", int(n))

    def choice(self, n: int, size: int, *, replace: bool = True) -> Any:
        """``size`` indices of ``0 .. n-1``, with or without replacement (int64).

        NumPy's ``choice`` on the host backends; on CuPy :meth:`integers` (with
        replacement) or the first ``size`` entries of :meth:`permutation` (without).
        """
        if self._cupy_generator is not None:
            if replace:
                return self.integers(0, n, (int(size),))
            return self.permutation(n)[: int(size)]
        return self._host("choice", int(n), int(size), replace)


def random_generator(backend: Any = None, rng: Any = None) -> ArrayGenerator:
    """A random generator that makes its numbers on ``backend``'s device.

    Parameters
    ----------
    backend : anything :func:`resolve_backend` accepts
    rng : None, int >= 0, numpy.random.SeedSequence, numpy.random.Generator or ArrayGenerator
        The seed: one stream of the seed rule (:func:`regnorm.seeding.seed_sequence`), an
        int seed, a NumPy generator to draw from, or a generator of this backend (returned
        as is); ``None``: fresh entropy.

    Returns
    -------
    ArrayGenerator
        * NumPy: draws ``numpy.random.default_rng(rng)`` -- exactly the numbers NumPy code
          gets from that generator with the same calls.
        * CuPy: CuPy's own ``Generator(XORWOW(seed))`` with an integer ``seed`` drawn from
          the seed sequence (``generate_state``; a NumPy generator passed as ``rng`` gives one
          integer for it), drawing on the GPU. cuRAND keeps 32 bits of that seed, so ``n``
          distinct streams share one with probability about ``n**2 / 2**33``.
        * Any other namespace (array-api-strict, ...): NumPy draws (the same numbers as on
          NumPy) moved once to the backend's device -- array-api-strict is a CPU stand-in
          for a device.

    Raises
    ------
    TypeError
        ``rng`` is none of the above, or a generator of another backend.

    Notes
    -----
    Reproducibility contract: the same seed on the same backend (and the same library
    versions) gives the same numbers; across backends the streams differ (CuPy's from
    NumPy's), so estimates agree within their standard errors, not to rounding. The host
    backends share NumPy's stream: array-api-strict gives NumPy's numbers.

    Examples
    --------
    >>> from regnorm.seeding import seed_sequence
    >>> g = random_generator("array_api_strict:device1", seed_sequence(7, 2))
    >>> x = g.standard_normal((2, 3))
    >>> device_of(x)
    array_api_strict.Device('device1')
    >>> same = np.random.default_rng(seed_sequence(7, 2)).standard_normal((2, 3))
    >>> bool((to_numpy(x) == same).all())
    True
    """
    backend = resolve_backend(backend)
    if isinstance(rng, ArrayGenerator):
        if rng.backend != backend:
            raise TypeError(
                f"rng is a generator of backend {rng.backend.spec!r}, not of {backend.spec!r}"
            )
        return rng
    if backend.name != "cupy":
        return ArrayGenerator(backend, normalize_rng(rng))
    # UNTESTED HERE (no GPU in CI): CuPy's Generator API, as documented by CuPy.
    if isinstance(rng, np.random.Generator):
        seed = int(rng.integers(0, 2**63))
    else:
        if not isinstance(rng, np.random.SeedSequence):
            normalize_rng(rng)  # the same error as the other backends for a bad seed
            rng = np.random.SeedSequence(rng)
        seed = int(rng.generate_state(1, dtype=np.uint64)[0])
    cupy = backend.xp_module()
    with backend.activate():
        generator = cupy.random.Generator(cupy.random.XORWOW(seed))
    return ArrayGenerator(backend, None, generator)


def backend_param(backend: Any) -> dict[str, str]:
    """``{"backend": spec}`` for a backend other than NumPy; ``{}`` for NumPy or None.

    The keyword (or record parameter) that names a non-default backend. NumPy's calls, records,
    sweep provenance and shared runs carry none, so they stay what they were before backends had
    devices; any other backend is named by its canonical spec (:attr:`Backend.spec`), so a
    figure and the checks that share its run name it the same way.
    """
    if backend is None:
        return {}
    b = resolve_backend(backend)
    return {} if b.name == "numpy" else {"backend": b.spec}
