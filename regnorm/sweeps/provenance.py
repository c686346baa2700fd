"""What code produced a sweep's results: versions and a hash of the task function.

A sweep store keeps finished tasks so that a restarted sweep resumes. Results computed by other
code (another regnorm, numpy or scipy, or an edited task function) must not be mixed with new
ones, so the store records :func:`provenance` and a resumed sweep compares it.

The task hash (:func:`code_hash`) is computed from compiled code, not from source text, so that
it works for functions typed on standard input or in a notebook and for lambdas, and ignores
comments, formatting and line numbers. It covers

* the function's bytecode, constants and the names it uses, nested functions included;
* its default arguments, and the arguments bound by :func:`functools.partial`, by value;
* global names and closure variables it uses: functions of its own module (helpers, the cells
  of the same notebook) are followed recursively; immutable values (numbers, strings, tuples of
  them) by value; mutable containers (lists, dicts, arrays) by type only, since they often hold
  state that changes between runs (counters, caches);
* functions of other modules by name only: their code is covered by the versions recorded.

Bytecode depends on the Python version (major.minor), which is recorded too.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import sys
import types
from importlib import metadata
from typing import Any

import numpy as np

__all__ = ["code_hash", "provenance"]

_PACKAGES = ("numpy", "scipy")


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _is_immutable(v: Any) -> bool:
    if v is None or isinstance(v, bool | int | float | complex | str | bytes | enum.Enum):
        return True
    if isinstance(v, np.generic):
        return not v.dtype.hasobject
    if isinstance(v, tuple | frozenset):
        return all(_is_immutable(x) for x in v)
    return False


class _Describer:
    """A canonical JSON-able description of code and values (see the module docstring)."""

    def __init__(self) -> None:
        self._active: set[int] = set()
        self._described: dict[int, Any] = {}

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int | str):
            return [type(v).__name__, v]
        if isinstance(v, float | complex):
            return [type(v).__name__, repr(v)]
        if isinstance(v, bytes):
            return ["bytes", v.hex()]
        if isinstance(v, enum.Enum):
            return ["enum", _qualified(type(v)), v.name]
        if isinstance(v, np.generic | np.ndarray):
            a = np.asarray(v)
            if a.dtype.hasobject:
                return ["ndarray", a.shape, self.value(a.tolist())]
            digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            return ["ndarray", a.dtype.str, list(a.shape), digest]
        if isinstance(v, tuple | list):
            return [type(v).__name__, [self.value(x) for x in v]]
        if isinstance(v, set | frozenset):
            # iteration order of a set of strings changes with PYTHONHASHSEED
            return ["set", sorted(json.dumps(self.value(x)) for x in v)]
        if isinstance(v, dict):
            items = [[self.value(k), self.value(x)] for k, x in v.items()]
            return ["dict", sorted(items, key=json.dumps)]
        if isinstance(v, functools.partial):
            return ["partial", self.value(v.func), self.value(v.args), self.value(v.keywords)]
        if isinstance(v, types.FunctionType):
            return self.function(v)
        if isinstance(v, types.MethodType):
            return ["method", self.value(v.__func__), self.reference(v.__self__)]
        if isinstance(v, types.CodeType):
            return self.code(v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = {f.name: self.value(getattr(v, f.name)) for f in dataclasses.fields(v)}
            return ["dataclass", _qualified(type(v)), fields]
        if isinstance(getattr(v, "py_func", None), types.FunctionType):
            # a compiled function (numba) runs the code of its Python function
            return ["compiled", _qualified(type(v)), self.function(v.py_func)]
        return self.reference(v)

    def reference(self, v: Any) -> Any:
        """By name: modules, classes, builtins and objects without a stable description."""
        if isinstance(v, types.ModuleType):
            return ["module", v.__name__]
        if isinstance(v, type | types.BuiltinFunctionType) or callable(v):
            return ["ref", _qualified(v)]
        return ["object", _qualified(type(v))]

    def code(self, c: types.CodeType) -> Any:
        # co_code is the unspecialized bytecode, the same before and after the function ran
        return [
            "code",
            c.co_code.hex(),
            [self.value(k) for k in c.co_consts],
            list(c.co_names),
            [c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_flags],
        ]

    def function(self, fn: types.FunctionType) -> Any:
        if id(fn) in self._described:  # a helper used by several functions
            return self._described[id(fn)]
        if id(fn) in self._active:
            return ["recursion", fn.__qualname__]
        self._active.add(id(fn))
        try:
            cells = []
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
                try:
                    cells.append([name, self.variable(cell.cell_contents, fn)])
                except ValueError:  # a cell not yet assigned
                    cells.append([name, None])
            used = sorted(n for n in _names(fn.__code__) if n in fn.__globals__)
            out = [
                "function",
                self.code(fn.__code__),
                self.value(fn.__defaults__),
                self.value(fn.__kwdefaults__),
                cells,
                [[n, self.variable(fn.__globals__[n], fn)] for n in used],
            ]
            self._described[id(fn)] = out
            return out
        finally:
            self._active.discard(id(fn))

    def variable(self, v: Any, owner: types.FunctionType) -> Any:
        """A global or closure variable of ``owner``."""
        if isinstance(v, types.FunctionType):
            if v.__module__ == owner.__module__:
                return self.function(v)
            return ["ref", _qualified(v)]
        if isinstance(v, functools.partial) or _is_immutable(v):
            return self.value(v)
        if isinstance(getattr(v, "py_func", None), types.FunctionType):
            return self.value(v)
        if isinstance(v, list | dict | set | np.ndarray):
            return ["mutable", type(v).__name__]
        return self.reference(v)


def _names(code: types.CodeType) -> set[str]:
    """Global and attribute names used by ``code`` and the code nested in it."""
    out = set(code.co_names)
    for k in code.co_consts:
        if isinstance(k, types.CodeType):
            out |= _names(k)
    return out


def code_hash(fn: Any) -> str:
    """A hash of the code and bound arguments of the task function ``fn``.

    Parameters
    ----------
    fn : callable
        A function, lambda, closure, :func:`functools.partial` or other callable.

    Returns
    -------
    str
        16 hexadecimal digits of a SHA-256, the same in every process and session for the
        same code and arguments (see the module docstring for what it covers).
    """
    text = json.dumps(_Describer().value(fn), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(fn: Any) -> dict[str, Any]:
    """The versions of regnorm, numpy, scipy and Python, and :func:`code_hash` of ``fn``."""
    from .. import __version__

    return {
        "regnorm": __version__,
        **{p: _version(p) for p in _PACKAGES},
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "task": code_hash(fn),
    }
