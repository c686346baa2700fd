"""Parameter sweeps: a grid of named axes x repetitions -> a tidy DataFrame.

Seeds derive from one root seed per point and repetition, so a sweep gives the same numbers
in-process, in local processes or on a Dask cluster; with ``store=DIR`` finished tasks are
saved as they finish and a restarted sweep resumes.
"""

from .executors import DaskExecutor, Executor, InProcessExecutor, ProcessExecutor, resolve_executor
from .grid import Grid
from .runner import sweep
from .seeding import point_seed, stable_key
from .store import SweepStore, atomic_write_bytes, atomic_write_parquet

__all__ = [
    "DaskExecutor",
    "Executor",
    "Grid",
    "InProcessExecutor",
    "ProcessExecutor",
    "SweepStore",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "point_seed",
    "resolve_executor",
    "stable_key",
    "sweep",
]
