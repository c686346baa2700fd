"""The sweep runner: a function evaluated over a parameter grid, times repetitions."""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..seeding import seed_sequence, task_id
from ..validation import check_bool, check_integer
from .executors import Executor, resolve_executor
from .grid import RESERVED_COLUMNS, Grid
from .progress import progress_bar
from .provenance import provenance
from .store import SweepStore

__all__ = ["point_seed", "sweep"]


def point_seed(root_seed: int, params: Mapping[str, Any], rep: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of repetition ``rep`` of point ``params`` under ``root_seed``.

    ``seed_sequence(root_seed, params, rep)`` (see :mod:`regnorm.seeding`): the default stream of
    a sweep task, keyed by all of the point's parameters.
    """
    return seed_sequence(root_seed, dict(params), int(rep))


SeedKey = Sequence[str] | Callable[[dict[str, Any]], tuple]


def _seed_rule(seed_key: SeedKey | None, names: Sequence[str]) -> Callable[[dict, int], tuple]:
    """The function ``(params, rep) -> key items`` that ``seed_key`` declares."""
    if seed_key is None:
        return lambda p, r: (dict(p), r)
    if callable(seed_key):
        return lambda p, r: (*tuple(seed_key(dict(p))), r)
    if isinstance(seed_key, str) or not all(isinstance(k, str) for k in seed_key):
        raise TypeError(
            f"seed_key must be a sequence of parameter names or a callable, got {seed_key!r}"
        )
    unknown = [k for k in seed_key if k not in names]
    if unknown:
        raise ValueError(
            f"seed_key names {unknown} that are not parameters of the grid; allowed: {list(names)}"
        )
    keys = tuple(seed_key)
    return lambda p, r: ({k: p[k] for k in keys}, r)


def _seed_key_meta(seed_key: SeedKey | None) -> Any:
    if seed_key is None:
        return None
    if callable(seed_key):
        return _name_of(seed_key)
    return list(seed_key)


@dataclass(frozen=True)
class _Task:
    index: int
    params: dict[str, Any]
    rep: int
    seed: np.random.SeedSequence


def _run_task(fn: Callable, task: _Task) -> dict[str, Any]:
    rng = np.random.default_rng(task.seed)
    try:
        out = fn(dict(task.params), rng)
    except Exception as exc:
        raise RuntimeError(
            f"sweep task {task.params} rep={task.rep} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return _check_outputs(out, task.params)


def _check_outputs(out: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(out, Mapping):
        raise TypeError(
            f"sweep function must return a mapping of output name -> scalar, got "
            f"{type(out).__name__} at {dict(params)}"
        )
    row: dict[str, Any] = {}
    for k, v in out.items():
        if k in params or k in RESERVED_COLUMNS:
            raise ValueError(f"sweep output {k!r} has the name of a parameter or reserved column")
        if hasattr(v, "item") and getattr(v, "shape", ()) == ():
            v = v.item()
        if not isinstance(v, numbers.Number | str | bool) and v is not None:
            raise TypeError(
                f"sweep output {k!r} must be a scalar (number, str, bool), got {type(v).__name__}"
            )
        row[k] = v
    return row


def _name_of(fn: Callable) -> str:
    base = fn.func if isinstance(fn, functools.partial) else fn
    return f"{getattr(base, '__module__', '?')}.{getattr(base, '__qualname__', repr(base))}"


def sweep(
    fn: Callable[[dict[str, Any], np.random.Generator], Mapping[str, Any]],
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | Grid,
    *,
    repetitions: int = 1,
    seed: int = 0,
    executor: str | Executor | None = None,
    store: str | os.PathLike | None = None,
    discard_stale: bool = False,
    progress: bool | None = None,
    name: str | None = None,
    seed_key: SeedKey | None = None,
) -> pd.DataFrame:
    """Evaluate ``fn`` at every grid point and repetition; return a tidy DataFrame.

    Parameters
    ----------
    fn : callable ``fn(params, rng) -> {output: scalar}``
        Computes one task. ``params`` is the point (a dict), ``rng`` a
        ``numpy.random.Generator`` seeded for this point and repetition only. The
        ``processes`` executor takes any function (a lambda, a closure, one defined in a
        notebook); a Dask cluster needs one its workers can unpickle.
    grid : mapping or sequence of mappings or Grid
        ``{"M": [2, 4, 8], "dist": ["gaussian", "laplace"]}`` for a product of axes, or an
        explicit list of points.
    repetitions : int
        Independent repetitions per point (>= 1); each has its own seed.
    seed : int
        Root seed (>= 0). Task seeds are
        ``SeedSequence(seed, spawn_key=hash(params) + (rep,))`` (see :mod:`regnorm.seeding`
        and ``seed_key``), so results are bit-identical whatever the executor,
        the number of workers or the order tasks finish in.
    executor : str or Executor, optional
        ``"inprocess"`` (default), ``"processes[:N]"``, ``"dask[:N]"`` or a Dask scheduler
        address; see :mod:`regnorm.sweeps.executors`.
    store : path, optional
        Folder to save each finished task in as it finishes (Parquet, atomic writes). Rerun
        with the same arguments, the sweep skips finished tasks. The complete table is also
        written to ``store/results.parquet``. The folder records the sweep (``name``,
        ``seed``, parameter names) and the code that computes it (the versions of regnorm,
        numpy, scipy and Python, and a hash of ``fn``, see
        :func:`regnorm.sweeps.provenance.code_hash`); a store of another sweep, or of this
        sweep computed by other code, is refused with a ``ValueError`` naming what differs.
    discard_stale : bool
        If ``store`` holds this sweep computed by other code (or written before the code was
        recorded), delete its results and start over instead of refusing.
    progress : bool, optional
        Show a tqdm progress bar on standard error; ``None`` (default) shows it only on a
        terminal or in a notebook (see :func:`regnorm.sweeps.progress_bar`).
    name : str, optional
        Sweep name recorded in the store (default: ``fn``'s qualified name).
    seed_key : sequence of str or callable, optional
        What a task's stream is keyed by (see :mod:`regnorm.seeding`). Default: all of the
        point's parameters, ``seed_sequence(seed, params, rep)``. A sequence of parameter names
        keys it by those only, ``seed_sequence(seed, {name: params[name], ...}, rep)``: points
        that differ only in the other parameters get the same stream (a paired design, e.g.
        the same data set for each normalizer). A callable ``key(params) -> tuple`` gives the
        key items themselves: ``seed_sequence(seed, *key(params), rep)``. The rule is recorded
        in the store.

    Returns
    -------
    pandas.DataFrame
        One row per (point, repetition) in grid order then repetition order; one column per
        parameter, ``rep``, and one per output.

    Examples
    --------
    >>> def mean_of_normals(p, rng):
    ...     return {"mean": rng.standard_normal(p["n"]).mean()}
    >>> df = sweep(mean_of_normals, {"n": [10, 1000]}, repetitions=2, seed=1)
    >>> list(df.columns), len(df)
    (['n', 'rep', 'mean'], 4)
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    g = grid if isinstance(grid, Grid) else Grid(grid)
    repetitions = check_integer("repetitions", repetitions, minimum=1)
    seed = check_integer("seed", seed, minimum=0)
    discard_stale = check_bool("discard_stale", discard_stale)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    rule = _seed_rule(seed_key, g.names)
    ex = resolve_executor(executor)

    tasks = [
        _Task(i * repetitions + r, p, r, seed_sequence(seed, *rule(p, r)))
        for i, p in enumerate(g)
        for r in range(repetitions)
    ]
    ids = [task_id(t.params, t.rep) for t in tasks]
    rows: list[dict[str, Any] | None] = [None] * len(tasks)

    st = None
    if store is not None:
        st = SweepStore(store)
        st.check_meta(
            {"name": name or _name_of(fn), "seed": seed, "parameters": list(g.names)}
            | ({} if seed_key is None else {"seed_key": _seed_key_meta(seed_key)}),
            provenance(fn),
            discard_stale=discard_stale,
        )
        finished = st.done()
        for k, tid in enumerate(ids):
            if tid in finished:
                rows[k] = st.load(tid)

    todo = [t for t, r in zip(tasks, rows, strict=True) if r is None]
    bar = progress_bar(
        total=len(tasks),
        initial=len(tasks) - len(todo),
        desc=name or getattr(fn, "__name__", "sweep"),
        progress=progress,
    )
    try:
        if todo:
            with ex:
                run = functools.partial(_run_task, fn)
                for j, out in ex.imap_unordered(run, todo):
                    t = todo[j]
                    row = {**t.params, "rep": t.rep, **out}
                    if st is not None:
                        st.save(ids[t.index], row)
                    rows[t.index] = row
                    bar.update(1)
    finally:
        bar.close()

    df = pd.DataFrame(rows)
    front = [*g.names, "rep"]
    df = df[front + [c for c in df.columns if c not in front]]
    if st is not None:
        st.save_results(df)
    return df
