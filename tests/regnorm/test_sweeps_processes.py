"""The ``processes`` executor with functions defined anywhere: a test's local function, a
lambda, standard input, a script without a ``__main__`` guard, a Jupyter kernel."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regnorm.sweeps import sweep

GRID = {"n": [3, 5], "kind": ["a", "b"]}
REPO = Path(__file__).resolve().parents[2]

# A script, a notebook cell or standard input: a top-level function (with a global constant
# and BLAS work) and a lambda, each run in-process and on two worker processes.
USER_CODE = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd
    from regnorm.sweeps import sweep

    SCALE = 2.0

    def top_eigenvalue(p, rng):
        a = rng.standard_normal((p["n"], p["n"]))
        return {"top": SCALE * np.linalg.eigvalsh(a @ a.T)[-1]}

    grid = {"n": [3, 5, 8]}
    for fn in (top_eigenvalue, lambda p, rng: {"u": rng.random() + p["n"]}):
        here = sweep(fn, grid, repetitions=2, seed=4, progress=False)
        there = sweep(fn, grid, repetitions=2, seed=4, executor="processes:2", progress=False)
        pd.testing.assert_frame_equal(here, there, check_exact=True)
    print("bit-identical")
    """
)


def _run_python(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, **kw
    )


def test_local_function_and_lambda_bit_identical_to_in_process():
    offset = 0.5

    def local(p, rng):
        x = rng.standard_normal((p["n"], p["n"]))
        return {"top": np.linalg.eigvalsh(x @ x.T)[-1] + offset, "label": p["kind"]}

    for fn in (local, lambda p, rng: {"u": rng.random() * p["n"]}):
        ref = sweep(fn, GRID, repetitions=3, seed=9, progress=False)
        procs = sweep(fn, GRID, repetitions=3, seed=9, executor="processes:2", progress=False)
        pd.testing.assert_frame_equal(ref, procs, check_exact=True)


def test_function_from_standard_input():
    out = _run_python(["-"], input=USER_CODE)
    assert out.returncode == 0, out.stderr
    assert "bit-identical" in out.stdout


def test_script_without_main_guard(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(USER_CODE)
    out = _run_python([str(script)], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("bit-identical") == 1  # the workers did not re-run the script


def test_function_defined_in_a_jupyter_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(USER_CODE)]
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a failing cell raises CellExecutionError
    outputs = nb.cells[0].outputs
    assert [o for o in outputs if o.output_type == "error"] == []
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "bit-identical" in text


def test_resume_on_processes_matches_in_process(tmp_path):
    """Half the grid in-process into a store, then all of it on processes: same rows."""

    def f(p, rng):
        return {"x": rng.standard_normal() * p["n"]}

    grid = {"n": [1, 2, 3, 4, 5, 6]}
    sweep(f, {"n": [1, 3, 5]}, repetitions=2, seed=2, store=tmp_path, name="f", progress=False)
    resumed = sweep(
        f, grid, repetitions=2, seed=2, store=tmp_path, name="f", executor="processes:2"
    )
    ref = sweep(f, grid, repetitions=2, seed=2, progress=False)
    pd.testing.assert_frame_equal(resumed, ref, check_exact=True)


def test_failing_task_on_processes_then_a_new_sweep():
    def fails_at_three(p, rng):
        if p["n"] == 3:
            raise ValueError("boom")
        return {"x": rng.random()}

    with pytest.raises(RuntimeError, match=r"sweep task \{'n': 3\} rep=0 failed: ValueError"):
        sweep(fails_at_three, {"n": [1, 2, 3, 4]}, executor="processes:2", progress=False)
    # the workers were stopped with the failed sweep; the next one gets fresh ones
    df = sweep(lambda p, rng: {"x": p["n"]}, {"n": [1, 2]}, executor="processes:2")
    assert list(df["x"]) == [1, 2]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; nobody reaps it in some containers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = textwrap.dedent(
        f"""
        import os, time
        from regnorm.sweeps import sweep

        def record_pid_then_wait(p, rng):
            open(os.path.join({str(pids)!r}, str(os.getpid())), "w").close()
            time.sleep(60)
            return {{"x": 0}}

        sweep(record_pid_then_wait, {{"i": list(range(8))}}, executor="processes:2",
              progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leave them running if the test fails
        os.kill(w, signal.SIGKILL)
    assert left == []
