"""Shared runs: one experiment computed once per process for every figure and check that reads it.

A figure and a claims check often analyse the same experiment at the same size and seed. They
call ``shared_run(fn, quick=..., seed=...)`` instead of ``fn(...)``; the first call computes
it, later calls with the same arguments get a copy of the same result. Arguments that do not
change the numbers (the executor: results are identical whatever runs them) are not part of
the key.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..seeding import canonical

__all__ = ["clear_shared_runs", "shared_run"]

#: Keyword arguments that never change a run's numbers, left out of the key.
NOT_IN_KEY = frozenset({"executor", "progress"})

_MAX_RUNS = 16
_runs: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


def _qualified_name(fn: Callable) -> str:
    base = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(base, "__qualname__", None)
    if name is None or "<" in name:
        raise TypeError(
            f"shared_run needs a module-level function (its name is the cache key), got {fn!r}"
        )
    return f"{base.__module__}.{name}"


def shared_run(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``fn(**kwargs)``, computed once per process for equal arguments; returns a copy.

    Parameters
    ----------
    fn : callable
        A module-level function (its qualified name is part of the key).
    **kwargs
        Its keyword arguments: ints, floats, strings, booleans, None or tuples of them (the
        key is their canonical text). ``executor`` and ``progress`` are passed on but are not
        part of the key.

    Returns
    -------
    Any
        A deep copy of the result, so a caller that changes it does not change it for others
        (a DataFrame keeps its ``attrs``).
    """
    key = (_qualified_name(fn), canonical({k: v for k, v in kwargs.items() if k not in NOT_IN_KEY}))
    with _lock:
        if key in _runs:
            _runs.move_to_end(key)
            return copy.deepcopy(_runs[key])
    out = fn(**kwargs)
    with _lock:
        _runs[key] = out
        while len(_runs) > _MAX_RUNS:
            _runs.popitem(last=False)
    return copy.deepcopy(out)


def clear_shared_runs() -> None:
    """Forget every shared run (e.g. between tests that must recompute)."""
    with _lock:
        _runs.clear()
