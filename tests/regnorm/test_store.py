"""The sweep store: file modes under the umask, the code it records, and refusing to resume
results computed by other code."""

import functools
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy

import regnorm
from regnorm.sweeps import atomic_write_bytes, atomic_write_parquet, code_hash, sweep
from tests.regnorm import sweep_functions as sf

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_atomic_writes_honour_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask  # what open(path, "w") gives
    atomic_write_bytes(tmp_path / "a.bin", b"data")
    atomic_write_parquet(pd.DataFrame({"x": [1.0]}), tmp_path / "a.parquet")
    store = tmp_path / "store"
    sweep(sf.slow_stat, {"sleep": [0.0]}, store=store, progress=False)
    files = [tmp_path / "a.bin", tmp_path / "a.parquet", store / "meta.json"]
    files += [store / "results.parquet", *(store / "points").iterdir()]
    assert {f.name: _mode(f) for f in files} == {f.name: expected for f in files}
    assert (tmp_path / "a.bin").read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "a.parquet", "store"]


def test_meta_records_the_code(tmp_path):
    sweep(sf.slow_stat, {"sleep": [0.0]}, seed=3, store=tmp_path, progress=False)
    meta = json.loads((tmp_path / "meta.json").read_text())
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert meta["code"] == {
        "regnorm": regnorm.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": py,
        "task": code_hash(sf.slow_stat),
    }
    assert {k: meta[k] for k in ("name", "seed", "parameters")} == {
        "name": "tests.regnorm.sweep_functions.slow_stat",
        "seed": 3,
        "parameters": ["sleep"],
    }


def _counting(calls, factor):
    def task(p, rng):
        calls.append(p["n"])
        return {"x": factor * rng.standard_normal()}

    return task


def test_edited_task_function_is_refused_then_discarded(tmp_path):
    calls = []
    sweep(_counting(calls, 1.0), {"n": [1, 2, 3]}, store=tmp_path, name="t", progress=False)
    assert len(calls) == 3

    def edited(p, rng):
        calls.append(p["n"])
        return {"x": 2.0 * rng.standard_normal()}

    with pytest.raises(ValueError, match="discard_stale=True") as err:
        sweep(edited, {"n": [1, 2]}, store=tmp_path, name="t", progress=False)
    assert str(tmp_path) in str(err.value)
    assert "written by other code (task function hash" in str(err.value)
    assert len(calls) == 3

    df = sweep(edited, {"n": [1, 2]}, store=tmp_path, name="t", discard_stale=True)
    assert len(calls) == 5  # both tasks computed again by the edited function
    assert len(list((tmp_path / "points").iterdir())) == 2  # the task of n=3 was discarded
    # from now on the store is the edited function's, and resumes
    sweep(edited, {"n": [1, 2]}, store=tmp_path, name="t")
    assert len(calls) == 5
    pd.testing.assert_frame_equal(df, sweep(edited, {"n": [1, 2]}), check_exact=True)


def test_same_code_resumes(tmp_path):
    calls = []
    sweep(_counting(calls, 1.0), {"n": [1, 2]}, store=tmp_path, name="t", progress=False)
    # a new closure of the same code and constant: the same task
    sweep(_counting(calls, 1.0), {"n": [1, 2, 3]}, store=tmp_path, name="t", progress=False)
    assert calls == [1, 2, 3]
    with pytest.raises(ValueError, match="written by other code"):
        sweep(_counting(calls, 3.0), {"n": [1, 2]}, store=tmp_path, name="t")


def _rewrite_meta(store: Path, edit) -> None:
    f = store / "meta.json"
    meta = json.loads(f.read_text())
    edit(meta)
    f.write_text(json.dumps(meta))


def test_other_package_versions_are_refused(tmp_path):
    sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path, progress=False)
    _rewrite_meta(tmp_path, lambda m: m["code"].update(numpy="1.0.0", regnorm="0.0.1"))
    msg = f"numpy 1.0.0 != {np.__version__}, regnorm 0.0.1 != {regnorm.__version__}"
    with pytest.raises(ValueError, match=f"written by other code \\({msg}\\)"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path)


def test_store_without_recorded_code_is_refused_then_discarded(tmp_path):
    """A store written before the code was recorded (meta.json without it)."""
    sweep(sf.slow_stat, {"sleep": [0.0, 0.001]}, store=tmp_path, progress=False)
    _rewrite_meta(tmp_path, lambda m: m.pop("code"))
    with pytest.raises(ValueError, match="written before regnorm recorded the code"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path)
    df = sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path, discard_stale=True)
    assert len(list((tmp_path / "points").iterdir())) == 1
    assert "code" in json.loads((tmp_path / "meta.json").read_text())
    pd.testing.assert_frame_equal(df, sweep(sf.slow_stat, {"sleep": [0.0]}), check_exact=True)


def test_finished_tasks_without_meta_are_refused(tmp_path):
    sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path, progress=False)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(ValueError, match="holds finished tasks but no meta.json"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path)


def test_discard_stale_never_discards_a_different_sweep(tmp_path):
    sweep(sf.slow_stat, {"sleep": [0.0]}, seed=1, store=tmp_path, progress=False)
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, seed=2, store=tmp_path, discard_stale=True)
    assert len(list((tmp_path / "points").iterdir())) == 1


@pytest.mark.parametrize("value", [1, "yes", None])
def test_discard_stale_must_be_a_bool(tmp_path, value):
    with pytest.raises(TypeError, match=f"discard_stale must be True or False, got {value!r}"):
        sweep(sf.slow_stat, {"sleep": [0.0]}, store=tmp_path, discard_stale=value)


def test_code_hash_is_the_same_in_another_process():
    """Resuming happens in a new process: the hash must not depend on PYTHONHASHSEED."""
    code = "from tests.regnorm import sweep_functions as sf\nfrom regnorm.sweeps import code_hash\n"
    code += "print(code_hash(sf.kind_flags), code_hash(sf.noisy_matrix_stat))"
    hashes = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
        assert out.returncode == 0, out.stderr
        hashes.add(out.stdout.strip())
    assert hashes == {f"{code_hash(sf.kind_flags)} {code_hash(sf.noisy_matrix_stat)}"}


def _module_from(tmp_path: Path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TASK_MODULE = """
    SCALE = {scale}
    STATE = []

    def helper(x):
        return {helper_body}

    def task(p, rng):
        STATE.append(1)
        return {{"x": helper(rng.random()) * SCALE}}
    """


def test_code_hash_follows_code_not_text(tmp_path):
    def variant(name, scale="2.0", helper_body="x + 1.0", prefix=""):
        src = prefix + textwrap.dedent(TASK_MODULE.format(scale=scale, helper_body=helper_body))
        return code_hash(_module_from(tmp_path, name, src).task)

    base = variant("base")
    # comments, blank lines and positions do not change what the task computes
    assert variant("moved", prefix="\n\n# a comment\n") == base
    # a constant, a helper of the same module, or its global constant does
    assert variant("other_helper", helper_body="x + 2.0") != base
    assert variant("other_scale", scale="3.0") != base
    # mutable module state (STATE) is not part of the code
    mod = _module_from(tmp_path, "ran", TASK_MODULE.format(scale="2.0", helper_body="x + 1.0"))
    for _ in range(2000):  # also lets the interpreter specialize the bytecode
        mod.task({}, np.random.default_rng(0))
    assert len(mod.STATE) == 2000
    assert code_hash(mod.task) == base


def test_code_hash_sees_bound_arguments():
    base = code_hash(functools.partial(sf.slow_stat))
    assert code_hash(functools.partial(sf.slow_stat, sz={"N": 4})) != base
    assert code_hash(functools.partial(sf.slow_stat, sz={"N": 4})) == code_hash(
        functools.partial(sf.slow_stat, sz={"N": 4})
    )
    assert code_hash(functools.partial(sf.slow_stat, sz={"N": 5})) != code_hash(
        functools.partial(sf.slow_stat, sz={"N": 4})
    )
    assert code_hash(lambda p, rng, k=1: {"k": k}) != code_hash(lambda p, rng, k=2: {"k": k})
    assert code_hash(lambda p, rng: {"x": 1}) != code_hash(lambda p, rng: {"x": 1.0})
