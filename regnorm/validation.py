"""Argument checks shared by the whole toolkit.

Every public function validates its arguments with these helpers so that bad input gets one
kind of message everywhere: the parameter's name, the value received, and what is allowed.
They raise ``TypeError`` for a wrong type and ``ValueError`` for a wrong value. The module is
public: simulations, figures and user code validate their own arguments with the same helpers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_integer",
    "check_real",
    "check_real_array",
    "check_real_dtype",
    "normalize_rng",
]


def check_bool(name: str, value: Any) -> bool:
    """``value`` must be ``True`` or ``False`` (not 0/1, not a string: ``"False"`` is truthy).

    Raises
    ------
    TypeError
        Naming the parameter and the value.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_integer(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[minimum, maximum]``.

    Floats with an integral value (``32.0``) are refused: a batch size of ``32.5`` or ``32.0``
    usually signals a computation gone wrong upstream. Booleans are refused too.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    _check_bounds(name, value, minimum, maximum, "an integer")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as ``float`` if it is a finite real number within the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    _check_bounds(name, value, minimum, maximum, "a number", min_inclusive, max_inclusive)
    return value


def check_real_array(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> np.ndarray:
    """Return ``value`` as a float64 NumPy array whose every element is finite and in bounds.

    For NumPy-only closed forms that take scalars or arrays (vectorized over alpha, zeta, M ...).
    Integers and floats (Python, NumPy, or any ``numbers.Real``) are accepted; strings, bytes,
    booleans, complex numbers and None are refused with ``TypeError``, as in :func:`check_real`
    (NumPy would otherwise parse ``"2"`` as 2.0 and read ``True`` as 1.0).
    """
    arr = _real_array(name, value)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite, got {bad!r}")
    if minimum is not None:
        low = arr < minimum if min_inclusive else arr <= minimum
        if np.any(low):
            op = ">=" if min_inclusive else ">"
            raise ValueError(f"{name} must be {op} {minimum}, got {arr[low].ravel()[0]!r}")
    if maximum is not None:
        high = arr > maximum if max_inclusive else arr >= maximum
        if np.any(high):
            op = "<=" if max_inclusive else "<"
            raise ValueError(f"{name} must be {op} {maximum}, got {arr[high].ravel()[0]!r}")
    return arr


def check_real_dtype(name: str, value: Any) -> Any:
    """Return ``value`` if it is an array (any array-API backend) of a real dtype.

    Real floating and integer dtypes are accepted; bool, complex, str and object arrays, and
    anything that is not an array, are refused with ``TypeError``. For backend-generic code
    (see :func:`check_real_array` for NumPy-only closed forms that also take scalars).
    """
    import array_api_compat

    try:
        xp = array_api_compat.array_namespace(value)
        real = xp.isdtype(value.dtype, ("real floating", "integral"))
    except (TypeError, ValueError, AttributeError):
        real = False
    if not real:
        dtype = getattr(value, "dtype", type(value).__name__)
        raise TypeError(
            f"{name} must be an array of real numbers (floating or integer dtype), got {dtype}"
        )
    return value


def _real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array, refusing what is not a real number (see check_real_array)."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array of them, got {value!r}") from exc
    kind = raw.dtype.kind
    if kind == "O" or isinstance(value, list | tuple):
        # a list's elements are looked at one by one: [True, 1.0] becomes a float array
        elements = np.asarray(value, dtype=object).ravel().tolist()
        ok = all(
            isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in elements
        )
    else:
        ok = kind in "iuf"
    if not ok:
        raise TypeError(
            f"{name} must be a real number or array of them (not str, bytes, bool, complex or "
            f"None), got {value!r} (dtype {raw.dtype})"
        )
    return raw.astype(np.float64)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {allowed}")
    return value


def normalize_rng(rng: Any = None) -> np.random.Generator:
    """``np.random.default_rng(rng)`` with a clear error for values it cannot take.

    Accepts None, an int seed, a ``SeedSequence``, a ``BitGenerator`` or a ``Generator``.
    """
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"rng must be None, a non-negative int seed, a SeedSequence or a Generator, got {rng!r}"
        ) from exc


def _check_bounds(
    name: str,
    value: float,
    minimum: float | None,
    maximum: float | None,
    kind: str,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> None:
    low = minimum is not None and (value < minimum if min_inclusive else value <= minimum)
    high = maximum is not None and (value > maximum if max_inclusive else value >= maximum)
    if low or high:
        lo = "" if minimum is None else ("[" if min_inclusive else "(") + f"{minimum}"
        hi = "" if maximum is None else f"{maximum}" + ("]" if max_inclusive else ")")
        if minimum is not None and maximum is not None:
            allowed = f"{kind} in {lo}, {hi}"
        elif minimum is not None:
            allowed = f"{kind} {'>=' if min_inclusive else '>'} {minimum}"
        else:
            allowed = f"{kind} {'<=' if max_inclusive else '<'} {maximum}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
