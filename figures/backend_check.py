"""The check of ``--backend`` (command line and figure scripts): refuse what cannot work, at once.

A spec that names no backend, a backend this machine lacks (CuPy not installed, no GPU),
a device backend with an executor that runs elsewhere, or a figure whose ``run`` takes no
``backend``: each is one line naming the option and the value, before any work starts. What
runs on NumPy although another backend was asked for is named, never left silent
(:func:`numpy_only_checks`, :func:`numpy_only_figures`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regnorm.backend import BackendUnavailableError, resolve_backend

__all__ = [
    "BackendSpecError",
    "backend_kwargs",
    "check_backend_spec",
    "numpy_only_checks",
    "numpy_only_figures",
]

#: Executor specs that run their tasks in this process, where a device backend lives.
IN_PROCESS = (None, "inprocess", "serial")


class BackendSpecError(ValueError):
    """A ``--backend`` value that cannot work; the message is the one line to show."""


def check_backend_spec(spec: str | None, executor: str | None = None) -> str | None:
    """The value of ``--backend`` checked: None for NumPy, else the backend's spec.

    Raises
    ------
    BackendSpecError
        One line naming ``--backend``, the value and what is allowed: a spec that names no
        backend, a backend this machine lacks (with the install hint), or a device backend
        with an ``executor`` that runs tasks in other processes.
    """
    if spec is None:
        return None
    try:
        b = resolve_backend(spec, parameter="backend")
    except (ValueError, BackendUnavailableError) as exc:
        raise BackendSpecError(f"--backend: {exc}") from None
    if b.name == "numpy":
        return None
    if executor not in IN_PROCESS:
        raise BackendSpecError(
            f"--backend {b.spec} with --executor {executor}: the array backend runs in this "
            "process; omit --executor or give --executor inprocess"
        )
    return b.spec


def _takes_backend(run: Callable[..., Any]) -> bool:
    return "backend" in inspect.signature(run).parameters


def backend_kwargs(run: Callable[..., Any], spec: str | None) -> dict[str, Any]:
    """The keyword arguments that hand backend ``spec`` (:func:`check_backend_spec`'s) to a
    figure's ``run``: none for NumPy, ``{"backend": spec}`` where ``run`` takes one.

    Raises
    ------
    BackendSpecError
        ``spec`` is not NumPy and ``run`` takes no ``backend`` (the figure runs on NumPy
        only): one line naming the figure.
    """
    if spec is None:
        return {}
    if not _takes_backend(run):
        raise BackendSpecError(
            f"--backend {spec}: figure {_figure_name(run)} runs on NumPy only (its run takes "
            "no backend); omit --backend or give --backend numpy"
        )
    return {"backend": spec}


def _figure_name(run: Callable[..., Any]) -> str:
    module = sys.modules.get(getattr(run, "__module__", ""))
    # a script run as ``python -m figures.NAME`` or as a file is __main__: its spec or its
    # file keeps the name
    found = getattr(getattr(module, "__spec__", None), "name", None)
    if found is None and getattr(module, "__file__", None):
        found = Path(module.__file__).stem
    return (found or getattr(run, "__module__", "?")).rpartition(".")[2]


def numpy_only_figures(figures: Mapping[str, Callable[..., Any]]) -> list[str]:
    """The names of ``figures`` (name -> run) whose ``run`` takes no backend."""
    return [name for name, run in figures.items() if not _takes_backend(run)]


def numpy_only_checks(ids: Sequence[str], by_id: Mapping[str, Iterable[Any]]) -> list[str]:
    """The claims of ``ids`` whose checks (``by_id[id]``, :class:`regnorm.claims.Claim` s)
    run on NumPy only: the id where all of them do, ``"id (names)"`` where some do."""
    out = []
    for cid in ids:
        checks = list(by_id[cid])
        off = [c for c in checks if not c.backend_generic]
        if len(off) == len(checks):
            out.append(cid)
        elif off:
            out.append(f"{cid} ({', '.join(c.name for c in off)})")
    return out
