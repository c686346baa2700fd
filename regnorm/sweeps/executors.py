"""Where sweep tasks run: in this process, in local processes, or on a Dask cluster.

Every executor runs ``fn(task)`` for each task and yields ``(index, result)`` as tasks finish,
in any order; the runner puts results back in grid order, and since each task carries its own
seed, the numbers do not depend on the executor.

Executor specs accepted by :func:`resolve_executor` (and the command line's ``--executor``):

``"inprocess"`` (default)
    one task after the other in this process.
``"processes"`` or ``"processes:N"``
    ``N`` local worker processes (default: the number of CPUs), from loky: functions defined
    in a notebook, on standard input or in a script without a ``__main__`` guard, lambdas and
    closures all work (cloudpickle sends them by value).
``"dask"`` or ``"dask:N"``
    a local Dask cluster of ``N`` single-threaded worker processes (default 2).
``"tcp://HOST:PORT"`` (any Dask scheduler address)
    an existing Dask distributed cluster, e.g. one started with ``dask scheduler`` and
    ``dask worker`` on several machines.

The Dask executors need Dask distributed: ``pip install "dask[distributed]"``, or
``pip install ".[dask]"`` in a regnorm checkout (``regnorm`` on PyPI is another project).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

from ..validation import check_integer

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


#: Thread-count variables read by the BLAS and OpenMP runtimes when they load.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: Seconds an idle worker waits for the next sweep before it exits: consecutive sweeps (the
#: claims checks run dozens) reuse the workers instead of paying their start-up each time.
_IDLE_TIMEOUT = 300


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit as soon as the sweep's process is gone.

    A parent killed with SIGKILL cannot stop its workers; without this they would finish the
    queued tasks and wait out ``_IDLE_TIMEOUT``, competing with the restarted sweep for cores.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="regnorm-parent-watch", daemon=True).start()


class ProcessExecutor(Executor):
    """Run tasks in ``workers`` local processes (a reusable loky executor).

    loky pickles the task function with cloudpickle, so it may be defined anywhere: in a
    notebook, on standard input, in a script without a ``__main__`` guard, a lambda or a
    closure. Its workers do not re-run the main module. They stay alive between sweeps (for
    ``_IDLE_TIMEOUT`` seconds idle), are killed when a sweep fails or is interrupted, and exit
    when the process that started them dies.

    Each worker's BLAS and OpenMP runtimes use ``threads_per_worker`` threads (default
    ``cpu_count // workers``), set through their environment variables before they load:
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
        self._pool = None

    def __enter__(self):
        from loky import get_reusable_executor

        self._pool = get_reusable_executor(
            max_workers=self.workers,
            timeout=_IDLE_TIMEOUT,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
            env={v: str(self.threads_per_worker) for v in _THREAD_VARIABLES},
        )
        return self

    def __exit__(self, exc_type, *exc):
        pool, self._pool = self._pool, None
        if pool is not None and exc_type is not None:
            # tasks already running would otherwise keep the reused workers busy (after an
            # error, or Ctrl-C in a notebook) and delay the next sweep
            pool.shutdown(wait=True, kill_workers=True)

    def imap_unordered(self, fn, tasks):
        if self._pool is None:
            raise RuntimeError("use ProcessExecutor inside a 'with' block")
        # keep a bounded number of tasks in flight so results stream back as they finish
        pending = {}
        it = iter(enumerate(tasks))
        limit = 4 * self.workers
        try:
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
        finally:
            for fut in pending:
                fut.cancel()

    def __repr__(self):
        return (
            f"ProcessExecutor(workers={self.workers}, threads_per_worker={self.threads_per_worker})"
        )


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
                "executor 'dask' needs Dask distributed: pip install \"dask[distributed]\" "
                '(or, in a regnorm checkout, pip install ".[dask]")'
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
