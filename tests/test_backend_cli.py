"""``--backend`` on the command line and in the figure scripts, checked in child processes.

What a user sees: a backend this machine lacks or a spec that names none is one line on
stderr and exit code 2; ``regnorm verify --backend array_api_strict:device1`` runs the
backend-generic checks on a device that is not array-api-strict's default (so any array made
on the default device where the input's was meant fails) and gives NumPy's verdicts and
numbers to rounding, and says in one line which checks ran on NumPy instead.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from figures import FIGURES
from regnorm.claims import CheckContext, claim, run_claims, statistical_record
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import rounding_rtol

MODULE = [sys.executable, "-m", "figures"]
DEVICE = "array_api_strict:device1"

#: Backend-generic claims whose quick checks take seconds (the batch noise, the ridge path and
#: the SGD students); the others take longer and run in the slow comparison.
FAST_GENERIC = "C1,C7,C8"

needs_no_gpu = pytest.mark.skipif(
    "cupy" in AVAILABLE_BACKENDS, reason="CuPy with a GPU is present: cupy is no error here"
)


def run(*args: str, module=MODULE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "REGNORM_DEBUG": ""},
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- refusals, before any work ------------------------------------------------------------


@needs_no_gpu
@pytest.mark.parametrize("command", ["verify", "reproduce"])
def test_cupy_without_a_gpu_is_one_line_with_the_install_hint(command, tmp_path):
    extra = ["--out", str(tmp_path / "run")] if command == "reproduce" else []
    line = assert_one_line_error(
        run(command, "--quick", "--backend", "cupy", "--claims", "C1", *extra),
        "--backend",
        "cupy",
    )
    assert "pip install" in line or "no CUDA device" in line or "GPU" in line, line
    assert not (tmp_path / "run" / "run.json").exists()


@needs_no_gpu
def test_cupy_without_a_gpu_in_a_figure_script():
    line = assert_one_line_error(
        run("--quick", "--backend", "cupy", module=[sys.executable, "-m", "figures.bn_noise"]),
        "--backend",
        "cupy",
    )
    assert line.startswith("bn_noise.py: error:"), line


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("cuda", "allowed: array_api_strict, cupy"),
        ("array_api_strict:device7", "'array_api_strict:device1'"),
        ("numpy:gpu", "allowed: 'numpy' or 'numpy:cpu'"),
        ("cupy:first", "CUDA device index"),
    ],
)
def test_a_bad_spec_is_one_line_naming_it(spec, needle):
    assert_one_line_error(run("verify", "--quick", "--backend", spec), "--backend", spec, needle)


def test_a_device_backend_with_worker_processes_is_refused():
    assert_one_line_error(
        run("verify", "--quick", "--backend", DEVICE, "--executor", "processes:2"),
        "--executor processes:2",
        "inprocess",
    )


def test_a_numpy_only_figure_refuses_another_backend(tmp_path):
    """Every figure of ours takes a backend; a figure script whose run takes none (one a user
    writes on figures.common.run_main) refuses --backend in one line, before any work."""
    script = tmp_path / "numpy_only.py"
    script.write_text(
        '"""A NumPy-only figure."""\n'
        "import sys\n"
        "from figures.common import run_main\n\n"
        "def run(out, *, quick=False, seed=0, executor=None):\n"
        "    raise AssertionError('ran')\n\n"
        "sys.exit(run_main(run, __doc__, sys.argv[1:]))\n"
    )
    out = tmp_path / "out"
    proc = run(
        "--quick", "--out", str(out), "--backend", DEVICE, module=[sys.executable, str(script)]
    )
    assert_one_line_error(proc, "runs on NumPy only", DEVICE)
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_script_hands_backend_to_its_run_or_refuses_it(name, monkeypatch, capsys):
    mod = importlib.import_module(f"figures.{name}")
    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        return []

    fake.__signature__ = inspect.signature(mod.run)
    fake.__module__ = mod.__name__
    monkeypatch.setattr(mod, "run", fake)
    mod.main(["--quick", "--out", "unused"])
    assert "backend" not in calls.pop()
    takes = "backend" in inspect.signature(mod.run).parameters
    # every figure's family is backend-generic
    assert takes
    if takes:
        mod.main(["--quick", "--out", "unused", "--backend", DEVICE])
        assert calls.pop()["backend"] == DEVICE
    else:
        with pytest.raises(SystemExit) as exc:
            mod.main(["--quick", "--out", "unused", "--backend", DEVICE])
        assert exc.value.code == 2 and not calls
        assert f"figure {name} runs on NumPy only" in capsys.readouterr().err


# --- the records on a non-default device equal NumPy's -------------------------------------


def _verify_json(claims: str, *backend: str) -> tuple[list[dict], str]:
    proc = run("verify", "--quick", "--json", "--claims", claims, *backend)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def _floats(record: dict) -> dict[str, float]:
    out = {k: v for k, v in record.items() if isinstance(v, float)}
    out.update({f"params.{k}": v for k, v in record["params"].items() if isinstance(v, float)})
    return out


def _assert_same_records(claims: str) -> str:
    on_numpy, _ = _verify_json(claims)
    on_device, said = _verify_json(claims, "--backend", DEVICE)
    assert [r["id"] for r in on_device] == [r["id"] for r in on_numpy]
    assert [r["verdict"] for r in on_device] == [r["verdict"] for r in on_numpy]
    rtol = rounding_rtol(np.float64, ops=10**4)
    generic = 0
    for a, b in zip(on_numpy, on_device, strict=True):
        params = dict(b["params"])
        if params.pop("backend", None) == DEVICE:
            generic += 1
        assert params.keys() == a["params"].keys(), (a["params"], b["params"])
        fa, fb = _floats(a), _floats(b)
        assert fa.keys() == fb.keys()
        # a difference of rounding is relative to the record's size: its numbers and error
        scale = max(abs(a["numeric"] or 0.0), abs(a["analytic"] or 0.0), a["stderr"] or 0.0)
        for key, x in fa.items():
            y = fb[key]
            if math.isnan(x) or math.isinf(x):
                assert x == y or (math.isnan(x) and math.isnan(y)), (a["id"], key, x, y)
                continue
            assert abs(x - y) <= rtol * max(abs(x), abs(y), scale), (a["id"], key, x, y)
    # the generic checks did run on the device: their records say so
    assert generic > 0
    return said


def test_verify_on_a_non_default_device_gives_numpys_records_fast_subset():
    said = _assert_same_records(FAST_GENERIC)
    notes = [line for line in said.splitlines() if "ran on NumPy" in line]
    # C7's symbolic check is not backend-generic: named, never silent
    assert len(notes) == 1, said
    assert "derivations.checks.check_c7_argmin" in notes[0], notes


@pytest.mark.slow
def test_verify_on_a_non_default_device_gives_numpys_records_every_generic_check():
    from regnorm.claims import claim_order, load_checks

    generic = {c.id for c in load_checks() if c.backend_generic}
    assert set(FAST_GENERIC.split(",")) <= generic
    _assert_same_records(",".join(sorted(generic, key=claim_order)))


# --- the library: which checks see the backend ----------------------------------------------

SEEN: list[tuple[str, str | None]] = []


@claim("C1", source="test")
def generic_check(ctx: CheckContext):
    SEEN.append(("generic", ctx.backend))
    yield statistical_record("C1", {}, analytic=0.0, numeric=0.0, stderr=1.0)


@claim("C13", source="test")
def numpy_check(ctx: CheckContext):
    SEEN.append(("numpy", ctx.backend))
    yield statistical_record("C13", {}, analytic=0.0, numeric=0.0, stderr=1.0)


#: This module's backend-generic checks (the declaration :attr:`Claim.backend_generic` reads).
BACKEND_CHECKS = [generic_check]


def test_run_claims_hands_the_backend_to_the_generic_checks_only():
    assert generic_check.backend_generic and not numpy_check.backend_generic
    SEEN.clear()
    run_claims("C1,C13", checks=[generic_check, numpy_check], backend=DEVICE)
    assert SEEN == [("generic", DEVICE), ("numpy", None)]
    SEEN.clear()
    run_claims("C1,C13", checks=[generic_check, numpy_check], backend="numpy")
    assert SEEN == [("generic", None), ("numpy", None)]


def test_run_claims_refuses_a_bad_backend_before_any_check():
    SEEN.clear()
    with pytest.raises(ValueError, match="backend='cuda' is not a known backend"):
        run_claims("C1", checks=[generic_check], backend="cuda")
    assert SEEN == []


def test_check_context_backend_is_a_spec_string():
    with pytest.raises(TypeError, match="backend must be a backend spec string"):
        CheckContext(backend=3)


# --- the gpu marker -------------------------------------------------------------------------


@pytest.mark.gpu
def test_a_gpu_test_runs_only_where_cupy_sees_a_gpu():
    # skipped by the conftest hook elsewhere; where it runs, CuPy must be usable
    from regnorm.backend import resolve_backend

    assert "cupy" in AVAILABLE_BACKENDS
    assert resolve_backend("cupy").name == "cupy"
