import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest

from regnorm.sweeps import Grid, SweepStore, point_seed, sweep
from tests.regnorm import sweep_functions as sf

GRID = {"n": [3, 5, 8], "kind": ["a", "b"]}
REPO = Path(__file__).resolve().parents[2]


def test_tidy_frame_in_grid_order():
    df = sweep(sf.noisy_matrix_stat, GRID, repetitions=2, seed=7)
    assert list(df.columns) == ["n", "kind", "rep", "top", "mean", "label"]
    assert len(df) == 12
    assert list(df["n"]) == [3, 3, 3, 3, 5, 5, 5, 5, 8, 8, 8, 8]
    assert list(df["rep"]) == [0, 1] * 6
    assert list(df["label"][:2]) == ["a-3", "a-3"]


def test_seed_depends_on_point_not_on_grid():
    """Adding values to an axis leaves the numbers of existing points unchanged."""
    small = sweep(sf.noisy_matrix_stat, {"n": [5], "kind": ["a"]}, repetitions=2, seed=1)
    big = sweep(sf.noisy_matrix_stat, GRID, repetitions=2, seed=1)
    sub = big[(big.n == 5) & (big.kind == "a")].reset_index(drop=True)
    pd.testing.assert_frame_equal(small, sub)
    other = sweep(sf.noisy_matrix_stat, {"n": [5], "kind": ["a"]}, repetitions=2, seed=2)
    assert not other["top"].equals(small["top"])
    assert point_seed(1, {"n": 5}, 0).generate_state(4).tolist() != (
        point_seed(1, {"n": 5}, 1).generate_state(4).tolist()
    )


def test_bit_identical_across_executors():
    """In-process, 2 and 3 local processes, and a 2-worker Dask LocalCluster: the same bits."""
    pytest.importorskip("distributed")
    cloudpickle.register_pickle_by_value(sf)  # workers need not import the test package
    try:
        ref = sweep(sf.noisy_matrix_stat, GRID, repetitions=3, seed=11)
        procs = sweep(sf.noisy_matrix_stat, GRID, repetitions=3, seed=11, executor="processes:2")
        procs3 = sweep(sf.noisy_matrix_stat, GRID, repetitions=3, seed=11, executor="processes:3")
        dask = sweep(sf.noisy_matrix_stat, GRID, repetitions=3, seed=11, executor="dask:2")
    finally:
        cloudpickle.unregister_pickle_by_value(sf)
    pd.testing.assert_frame_equal(ref, procs, check_exact=True)
    pd.testing.assert_frame_equal(ref, procs3, check_exact=True)
    pd.testing.assert_frame_equal(ref, dask, check_exact=True)


def test_store_resumes_and_skips_finished(tmp_path):
    calls = []

    def counting(p, rng):
        calls.append(p["n"])
        return {"x": rng.standard_normal()}

    df1 = sweep(counting, {"n": [1, 2, 3]}, repetitions=2, seed=3, store=tmp_path, name="c")
    assert len(calls) == 6
    df2 = sweep(counting, {"n": [1, 2, 3, 4]}, repetitions=2, seed=3, store=tmp_path, name="c")
    assert len(calls) == 8  # only the two new tasks ran
    pd.testing.assert_frame_equal(df1, df2.iloc[:6], check_exact=True)
    assert (tmp_path / "results.parquet").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), df2)


def test_store_refuses_a_different_sweep(tmp_path):
    sweep(sf.slow_stat, {"sleep": [0.0]}, seed=1, store=tmp_path)
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, seed=2, store=tmp_path)


def test_killed_sweep_restarts_to_the_same_rows(tmp_path):
    """SIGKILL a sweep midway; rerun with the same arguments; compare with a clean run."""
    store = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from regnorm.sweeps import sweep
        from tests.regnorm.sweep_functions import slow_stat
        sweep(slow_stat, {{"i": list(range(30)), "sleep": [0.1]}}, seed=5, store={str(store)!r},
              progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = len(list((store / "points").glob("*.parquet"))) if store.exists() else 0
        if n >= 5:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list((store / "points").glob("*.parquet")))
    assert 5 <= finished < 30, finished
    assert not (store / "results.parquet").exists()

    grid = {"i": list(range(30)), "sleep": [0.1]}
    resumed = sweep(sf.slow_stat, grid, seed=5, store=store, progress=False)
    assert len(resumed) == 30
    uninterrupted = sweep(sf.slow_stat, grid, seed=5, progress=False)
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=True)


def test_unwritable_store(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError, match="is not a writable folder"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, store=f / "sub")


@pytest.mark.parametrize(
    "grid, exc, msg",
    [
        ({}, ValueError, "at least one axis"),
        ({"n": []}, ValueError, "has no values"),
        ({"n": 3}, TypeError, "must be a sequence"),
        ({"n": "abc"}, TypeError, "must be a sequence"),
        ({"rep": [1]}, ValueError, "reserved"),
        ({"1x": [1]}, ValueError, "identifier"),
        ({"n": [object()]}, TypeError, "not allowed"),
        ({"n": [1, 1]}, ValueError, "twice"),
        ([{"a": 1}, {"b": 2}], ValueError, "does not have the axes"),
        (42, TypeError, "mapping of axis name"),
    ],
)
def test_malformed_grids(grid, exc, msg):
    with pytest.raises(exc, match=msg):
        Grid(grid)


@pytest.mark.parametrize("reps", [-1, 0])
def test_repetitions_must_be_positive(reps):
    with pytest.raises(ValueError, match=r"repetitions must be an integer >= 1, got"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, repetitions=reps)


def test_bad_executor_and_seed():
    with pytest.raises(ValueError, match="executor='threads' is not allowed"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, executor="threads")
    with pytest.raises(TypeError, match="seed must be an integer"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, seed=1.5)


def test_bad_outputs_and_failing_tasks(tmp_path):
    with pytest.raises(TypeError, match="must return a mapping"):
        sweep(sf.bad_output, {"n": [1]})
    with pytest.raises(RuntimeError, match=r"sweep task \{'n': 3\} rep=0 failed: ValueError"):
        sweep(sf.failing, {"n": [1, 2, 3]}, store=tmp_path)
    assert len(SweepStore(tmp_path).done()) == 2  # finished points were kept


def test_process_workers_limit_their_blas_threads():
    from regnorm.sweeps.executors import ProcessExecutor

    # one worker would get all the cores by default: the limit, not the default, sets these
    for threads in (1, 2):
        ex = ProcessExecutor(1, threads)
        df = sweep(sf.blas_threads, [{"k": 0}], repetitions=2, seed=0, executor=ex)
        assert set(df["threads"]) == {threads}
    with pytest.raises(ValueError, match="threads_per_worker"):
        ProcessExecutor(2, 0)
