"""Where sweep tasks run: in this process, in local processes, or on a Dask cluster.

Every executor runs ``fn(task)`` for each task and yields ``(index, result)`` as tasks finish,
in any order; the runner puts results back in grid order, and since each task carries its own
seed, the numbers do not depend on the executor.

Executor specs accepted by :func:`resolve_executor` (and the command line's ``--executor``):

``"inprocess"`` (default)
    one task after the other in this process.
``"processes"`` or ``"processes:N"``
    ``N`` local worker processes (default: the number of CPUs), started with ``spawn``.
``"dask"`` or ``"dask:N"``
    a local Dask cluster of ``N`` single-threaded worker processes (default 2).
``"tcp://HOST:PORT"`` (any Dask scheduler address)
    an existing Dask distributed cluster, e.g. one started with ``dask scheduler`` and
    ``dask worker`` on several machines. Needs ``pip install "regnorm[dask]"``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from .._validation import check_integer

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "resolve_executor",
]


class Executor:
    """Base class: a context manager with :meth:`imap_unordered`."""

    name = "executor"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class InProcessExecutor(Executor):
    """Run tasks one after the other in the calling process."""

    name = "inprocess"

    def imap_unordered(self, fn, tasks):
        for i, t in enumerate(tasks):
            yield i, fn(t)


def _limit_threads(n: int) -> None:
    """Worker initializer: at most ``n`` BLAS/OpenMP threads (NumPy loaded first, so its BLAS
    is among the libraries :func:`threadpoolctl.threadpool_limits` limits)."""
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)


class ProcessExecutor(Executor):
    """Run tasks in ``workers`` local processes (``spawn`` start method).

    ``fn`` must be importable by name (a module-level function) so that workers can load it.
    Each worker's BLAS uses ``threads_per_worker`` threads (default ``cpu_count // workers``):
    workers that each start one BLAS thread per core oversubscribe the machine, which makes
    the small matrix products of the SGD simulations 10-30x slower.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None):
        self.workers = check_integer("workers", workers or os.cpu_count() or 1, minimum=1)
        default_threads = max(1, (os.cpu_count() or 1) // self.workers)
        self.threads_per_worker = check_integer(
            "threads_per_worker",
            default_threads if threads_per_worker is None else threads_per_worker,
            minimum=1,
        )
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_limit_threads,
            initargs=(self.threads_per_worker,),
        )
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def imap_unordered(self, fn, tasks):
        if self._pool is None:
            raise RuntimeError("use ProcessExecutor inside a 'with' block")
        # keep a bounded number of tasks in flight so results stream back as they finish
        pending = {}
        it = iter(enumerate(tasks))
        limit = 4 * self.workers
        for i, t in it:
            pending[self._pool.submit(fn, t)] = i
            if len(pending) >= limit:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                yield i, fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending[self._pool.submit(fn, nxt[1])] = nxt[0]

    def __repr__(self):
        return f"ProcessExecutor(workers={self.workers})"


class DaskExecutor(Executor):
    """Run tasks on Dask distributed: a scheduler ``address``, or a local cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``"tcp://10.0.0.5:8786"``). Without it a ``LocalCluster`` of
        ``workers`` single-threaded processes is started and closed with the executor.
    workers : int
        Workers of the local cluster (ignored with ``address``).
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 2):
        self.address = address
        self.workers = check_integer("workers", workers, minimum=1)
        self._client = None
        self._cluster = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ImportError(
                "executor 'dask' needs Dask distributed: pip install \"regnorm[dask]\""
            ) from exc
        if self.address:
            try:
                self._client = Client(self.address, timeout="20s")
            except OSError as exc:
                raise ValueError(
                    f"executor: cannot reach the Dask scheduler at {self.address!r} ({exc})"
                ) from exc
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def imap_unordered(self, fn, tasks):
        from distributed import as_completed

        if self._client is None:
            raise RuntimeError("use DaskExecutor inside a 'with' block")
        futures = self._client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()
            fut.release()

    def __repr__(self):
        where = self.address or f"LocalCluster(workers={self.workers})"
        return f"DaskExecutor({where})"


def resolve_executor(spec: str | Executor | None) -> Executor:
    """An :class:`Executor` from a spec string (see the module docstring) or instance."""
    if spec is None:
        return InProcessExecutor()
    if isinstance(spec, Executor):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"executor must be a string or an Executor, got {type(spec).__name__}")
    s = spec.strip()
    kind, _, arg = s.partition(":")
    allowed = "inprocess, processes[:N], dask[:N], or a Dask scheduler address tcp://HOST:PORT"
    if "://" in s:
        return DaskExecutor(address=s)
    if kind in ("inprocess", "serial") and not arg:
        return InProcessExecutor()
    if kind in ("processes", "dask"):
        n = None
        if arg:
            try:
                n = int(arg)
            except ValueError:
                raise ValueError(
                    f"executor={spec!r}: worker count {arg!r} is not an integer; allowed: {allowed}"
                ) from None
            if n < 1:
                raise ValueError(f"executor={spec!r}: worker count must be >= 1")
        return ProcessExecutor(n) if kind == "processes" else DaskExecutor(workers=n or 2)
    raise ValueError(f"executor={spec!r} is not allowed; use {allowed}")
