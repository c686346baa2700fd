"""Module-level sweep functions for the sweep tests (importable by worker processes)."""

import time

import numpy as np


def noisy_matrix_stat(params, rng):
    """A little Monte-Carlo with BLAS work, so bit-identity across executors means something."""
    n = params["n"]
    a = rng.standard_normal((n, n))
    s = np.linalg.eigvalsh(a @ a.T / n)
    return {"top": s[-1], "mean": s.mean(), "label": f"{params['kind']}-{n}"}


def slow_stat(params, rng):
    time.sleep(params.get("sleep", 0.05))
    return {"x": rng.standard_normal(), "y": rng.random()}


def bad_output(params, rng):
    return [1, 2]


def failing(params, rng):
    if params["n"] == 3:
        raise ValueError("boom")
    return {"x": 1.0}


def blas_threads(params, rng):
    """The largest BLAS thread count in this worker (threadpoolctl's view)."""
    from threadpoolctl import threadpool_info

    return {"threads": max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")}


def kind_flags(params, rng):
    """Uses a constant set of strings, whose iteration order changes with PYTHONHASHSEED."""
    return {"ab": params["kind"] in {"a", "b", "c", "d"}, "x": rng.random()}
