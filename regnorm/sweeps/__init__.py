"""Parameter sweeps: a grid of named axes x repetitions -> a tidy DataFrame.

Seeds derive from one root seed per point and repetition, so a sweep gives the same numbers
in-process, in local processes or on a Dask cluster; with ``store=DIR`` finished tasks are
saved as they finish and a restarted sweep resumes, if the same code computes it.
"""

from .executors import DaskExecutor, Executor, InProcessExecutor, ProcessExecutor, resolve_executor
from .grid import Grid
from .progress import progress_bar
from .provenance import code_hash
from .runner import point_seed, sweep
from .shared import clear_shared_runs, shared_run
from .store import SweepStore, atomic_write_bytes, atomic_write_parquet

__all__ = [
    "clear_shared_runs",
    "DaskExecutor",
    "Executor",
    "Grid",
    "InProcessExecutor",
    "ProcessExecutor",
    "SweepStore",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "code_hash",
    "point_seed",
    "progress_bar",
    "resolve_executor",
    "shared_run",
    "sweep",
]
