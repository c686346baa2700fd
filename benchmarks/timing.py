"""The one timing and machine-limit helper of the benchmarks.

Every benchmark script prints ratios against a naive baseline and against the machine's limit
measured in the same run; this module measures both the same way everywhere. Timings are the
minimum over repeats: on a shared machine other processes only ever add time, so the minimum
is the least disturbed measurement. :func:`machine_line` says how busy the machine was.

Scripts import it as ``from timing import ...`` (they run as ``python benchmarks/<name>.py``,
which puts this folder first on the path).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["best_time", "best_wall_cpu", "interleaved_best", "machine_line", "matmul_rate"]


def best_time(fn: Callable[[], Any], repeats: int = 3, *, calls: int = 1) -> float:
    """Seconds per call of ``fn``: the minimum over ``repeats`` runs of ``calls`` calls each."""
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def best_wall_cpu(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, float, Any]:
    """Minimum wall and process-CPU seconds over ``repeats`` calls, and the last result."""
    best_wall = best_cpu = math.inf
    out = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def interleaved_best(
    fa: Callable[[], Any], fb: Callable[[], Any], repeats: int = 3, *, calls: int = 1
) -> tuple[float, float]:
    """Seconds per call of ``fa`` and of ``fb``, their repeats alternating so that both see the
    same load on a shared machine."""
    ta = tb = math.inf
    for _ in range(repeats):
        ta = min(ta, best_time(fa, 1, calls=calls))
        tb = min(tb, best_time(fb, 1, calls=calls))
    return ta, tb


def matmul_rate(n: int = 2048, repeats: int = 5, *, xp: Any = np, sync: Callable | None = None):
    """Floating-point operations per second of an ``n x n`` float64 matrix product.

    The machine's limit for dense linear algebra (all BLAS threads, or the device for CuPy:
    pass ``xp=cupy`` and ``sync=cupy.cuda.Device().synchronize``).
    """
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((n, n)))
    b = xp.asarray(rng.standard_normal((n, n)))
    done = sync or (lambda: None)

    def product():
        a @ b
        done()

    product()
    return 2.0 * n**3 / best_time(product, repeats)


def machine_line() -> str:
    """One line: cores, load average, and whether timings are inflated by other processes."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    busy = " (busy: timings inflated)" if load > 0.5 * cores else ""
    return f"machine: {cores} cores, load average {load:.2f}{busy}"
