"""``benchmarks/gpu.py`` works the first time it meets a GPU: its ``--small`` mode runs every
section on array-api-strict's non-default device against NumPy, here, on the CPU.

Only the script's behaviour and the shape of its JSON are checked (performance is never
asserted): each section reports ``ok``, a failing or overrunning section is recorded while
the others run, a missing array-api-compat is one line, and the script imports only public
names. The agreement section must find array-api-strict equal to NumPy: host-drawn backends
draw NumPy's numbers, so any array made on the wrong device or any host detour that changes
a number shows there.
"""

from __future__ import annotations

import ast
import datetime
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu.py"
SECTIONS = ("agreement", "sgd", "c1", "figure", "finite_size")
#: The sections whose small mode takes seconds; figure and finite_size run in the slow test.
FAST = ("agreement", "sgd", "c1")


def _module():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(SCRIPT.parent))  # the script imports timing from beside it
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return mod


def _run_small(tmp_path: Path, sections) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--small", "--out", str(tmp_path),
         "--sections", ",".join(sections)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = tmp_path.glob("gpu-small-*.json")
    day = datetime.datetime.now(datetime.UTC).date()
    assert path.name in {f"gpu-small-{d}.json" for d in (day, day - datetime.timedelta(1))}
    record = json.loads(path.read_text())
    assert record["format"] == "regnorm-gpu-benchmark/1"
    assert record["small"] is True
    assert record["backend"] == "array_api_strict:device1"
    assert list(record["sections"]) == list(sections)
    for name, sec in record["sections"].items():
        assert sec["status"] == "ok", (name, sec)
        assert sec["target"] and sec["wall_s"] >= 0 and sec["process_wall_s"] >= sec["wall_s"]
        assert sec["machine"]["backend"] == "array_api_strict:device1"
    return record["sections"]


def _check_fast(sec: dict) -> None:
    agree = sec["agreement"]
    for part in ("ridge", "sgd", "c1", "normalizers"):
        assert agree[part]["ok"] is True, (part, agree[part])
    assert agree["ridge"]["max_rel_diff"] == pytest.approx(0.0, abs=1e-12)
    cases = agree["normalizers"]["cases"]
    assert {"batch_norm", "layer_norm", "group_norm"} <= cases.keys()
    assert all(c["ok"] for c in cases.values()), cases
    sgd = sec["sgd"]
    assert sgd["matmul_rate"] > 0 and len(sgd["runs"]) == 2
    for run in sgd["runs"]:
        assert {"data_sets", "students", "steps", "step_s", "flop_rate"} <= run.keys(), run
        assert run["fraction_of_matmul"] == pytest.approx(run["flop_rate"] / sgd["matmul_rate"])
    c1 = sec["c1"]
    assert c1["raw_pairs_per_s"] > 0 and len(c1["estimator"]) == 2
    fit = c1["next_order"]["fit"]
    assert {"intercept", "stderr", "z", "holds"} <= fit.keys(), fit
    assert [r["M"] for r in c1["next_order"]["rows"]] == c1["next_order"]["Ms"]


def test_small_run_of_the_fast_sections(tmp_path):
    _check_fast(_run_small(tmp_path, FAST))


@pytest.mark.slow
def test_small_run_of_every_section(tmp_path):
    sec = _run_small(tmp_path, SECTIONS)
    _check_fast(sec)
    assert sec["figure"]["size"] == "quick"
    assert "teacher_student_c8.parquet" in sec["figure"]["files"]
    assert sec["figure"]["c8_summary"]
    fs = sec["finite_size"]
    assert fs["Ns"] == [16, 32] and len(fs["rows"]) == 2 * 3 * 2
    assert fs["analysis"]["trend"]


def test_a_failing_section_is_recorded(tmp_path):
    res = _module()._spawn("no_such_section", "numpy", True, 60.0, tmp_path)
    assert res["status"] == "failed"
    assert "section='no_such_section' is not a section" in res["error"]


def test_a_section_over_its_budget_is_recorded_as_timed_out(tmp_path):
    # no child imports regnorm and builds a figure within a fraction of a second
    res = _module()._spawn("figure", "numpy", True, 0.3, tmp_path)
    assert res["status"] == "timed out"
    assert "budget" in res["error"]


def test_without_array_api_compat_one_line_and_code_2():
    code = (
        "import sys, runpy; sys.modules['array_api_compat'] = None; "
        f"sys.argv = [{str(SCRIPT)!r}, '--small', '--out', 'unused']; "
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "array-api-compat is not installed" in lines[0], proc.stderr


def test_a_bad_backend_is_one_line_and_code_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--backend", "cuda", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--backend" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_the_script_imports_only_public_names():
    tree = ast.parse(SCRIPT.read_text())
    own = ("regnorm", "simulations", "figures")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in own:
            # a module with __all__ says what is public; a figure script has none
            public = getattr(importlib.import_module(node.module), "__all__", None)
            for alias in node.names:
                assert not alias.name.startswith("_"), (node.module, alias.name)
                assert public is None or alias.name in public, (
                    f"{node.module}.{alias.name} is not in __all__"
                )


def test_the_section_budgets_fit_the_run_and_the_run_fits_eight_minutes():
    mod = _module()
    assert set(mod.SECTIONS) == set(SECTIONS)
    assert sum(budget for budget, _ in mod.SECTIONS.values()) <= mod.TOTAL_BUDGET_S < 8 * 60
