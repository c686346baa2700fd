"""The command line: exit codes, one-line errors, and the reproduce mechanism."""

import ast
import inspect
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import figures
from figures import cli
from regnorm import claims as C

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checks(monkeypatch):
    """The list of checks the command line chooses from, in place of the declared ones."""
    mine = []
    monkeypatch.setattr(cli, "all_checks", lambda: list(mine))
    return mine


@pytest.fixture
def fake_world(monkeypatch, checks):
    """One claim's check and one figure script, independent of the real modules."""

    @C.claim("C1")
    def check(ctx):
        yield C.statistical_record("C1", {"M": 32}, analytic=0.046875, numeric=0.0469, stderr=1e-4)

    checks.append(check)

    calls = []

    def demo_run(out, *, quick=False, seed=0, executor=None):
        calls.append((out, quick, seed, executor))
        (out / "demo.png").write_bytes(b"png")
        (out / "demo_store").mkdir(exist_ok=True)  # a folder of its own, by the naming rule
        return [out / "demo.png"]

    monkeypatch.setattr(cli, "figure_captions", lambda: {"demo": "a demo"})
    monkeypatch.setattr(cli, "figure_run", {"demo": demo_run}.__getitem__)
    return calls


def run(capsys, *args):
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_verify_table_and_json(fake_world, capsys):
    rc, out, err = run(capsys, "verify", "--quick")
    assert rc == 0 and "C1" in out and "holds" in out and "1 holds, 0 deviates" in out
    rc, out, _ = run(capsys, "verify", "--json", "--claims", "C1")
    data = json.loads(out)
    assert rc == 0 and data[0]["id"] == "C1" and data[0]["verdict"] == "holds"


@pytest.mark.parametrize("executor", ["processes:2", "inprocess"])
def test_reproduce_calls_the_typed_run_and_writes_report(fake_world, capsys, tmp_path, executor):
    out_dir = tmp_path / "r"
    rc, out, err = run(
        capsys, "reproduce", "--out", str(out_dir), "--quick", "--executor", executor
    )
    assert rc == 0, err
    # in this process, or on a worker: typed values, not argv strings, either way
    assert fake_world == ([(out_dir, True, 0, "inprocess")] if executor == "inprocess" else [])
    # processes:2 runs the stages, so no check "ignores" it; inprocess is the sweeps' executor
    assert ("is ignored by C1" in err) == (executor == "inprocess")
    report = (out_dir / "REPORT.md").read_text()
    assert "`demo`" in report and "![a demo](demo.png)" in report
    assert f"| C1 | {C.CATALOGUE['C1']} | 1 holds | 0 |" in report
    assert (out_dir / "claims.parquet").exists()
    entry = json.loads((out_dir / "run.json").read_text())["figures"]["demo"]
    assert list(entry["files"]) == ["demo.png"] and entry["folders"] == ["demo_store"]
    workers = 0 if executor == "inprocess" else 2
    assert re.search(
        rf"This run \(finished .*\): [\d.]+ s wall, [\d.]+ s CPU on {workers} stage", report
    )


def test_the_run_counts_only_its_own_cpu_time(fake_world, capsys, tmp_path):
    """Workers reused from an earlier run (in one process) count their CPU time once."""
    for out in ("a", "b"):
        args = ["reproduce", "--out", str(tmp_path / out), "--quick", "--executor", "processes:2"]
        assert cli.main(args) == 0
    last = json.loads((tmp_path / "b" / "run.json").read_text())["last_run"]
    # three processes (this one and two workers) cannot spend more than 3 s of CPU a second
    assert last["cpu_s"] <= 3 * last["wall_s"] + 0.5, last


def test_the_figures_are_an_explicit_list_of_typed_runs():
    # a figure script is a public module of figures/ with a run() of its own
    scripts = {
        p.stem
        for p in (ROOT / "figures").glob("*.py")
        if not p.stem.startswith("_")
        and any(
            isinstance(n, ast.FunctionDef) and n.name == "run"
            for n in ast.parse(p.read_text()).body
        )
    }
    assert set(figures.FIGURES) == scripts and "batch_dependence" in scripts
    assert set(figures.SHARED_RUNS) <= set(figures.FIGURES)
    for name in figures.FIGURES:
        params = inspect.signature(cli.figure_run(name)).parameters
        assert list(params)[:4] == ["out", "quick", "seed", "executor"], name
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in list(params)[1:])
    assert cli.figure_captions()["bn_noise"] == "the noise of batch statistics (claims C1 and C3)."


def test_the_command_line_builds_no_argv_for_figures():
    """It calls ``run``: no figure's ``main`` is called, nor an argument list built."""
    tree = ast.parse((ROOT / "figures" / "cli.py").read_text())
    mains = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "main"
        and not (isinstance(n.func.value, ast.Name) and n.func.value.id == "cli")  # click's
    ]
    argv = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.List)
        and any(isinstance(e, ast.Constant) and e.value in ("--out", "--seed") for e in n.elts)
    ]
    assert not mains and not argv


@pytest.mark.parametrize(
    "args, msg",
    [
        (["verify", "--claims", "C1,C77"], "unknown claim id 'C77'"),
        (["verify", "--claims", "C9"], "no check is registered"),
        (["verify", "--seed", "-3"], "--seed"),
        (["verify", "--executor", "gpu"], "executor='gpu' is not allowed"),
        (["reproduce", "--figures", "nope"], "unknown figure nope"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_one_line_exit_2(fake_world, capsys, args, msg):
    rc, out, err = run(capsys, *args)
    assert rc == 2
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_out(fake_world, capsys, tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("")
    rc, out, err = run(capsys, "reproduce", "--out", str(blocker / "x"))
    assert rc == 2 and "is not a writable folder" in err and err.count("\n") == 1


@pytest.fixture
def three_checks(fake_world, checks):
    """C2 reads the executor, C3 hands its context on, C4 does neither."""

    def helper(ctx):
        return ctx.quick

    @C.claim("C2")
    def sweeping(ctx):
        yield C.open_record("C2", {"executor": str(ctx.executor)}, numeric=None, note="")

    @C.claim("C3")
    def handing_on(ctx):
        yield C.open_record("C3", {"quick": helper(ctx)}, numeric=None, note="")

    @C.claim("C4")
    def local(ctx):
        yield C.open_record("C4", {"seed": ctx.seed}, numeric=None, note="")

    checks += [sweeping, handing_on, local]


def test_executor_note_names_only_checks_that_cannot_use_it(three_checks, capsys):
    rc, out, err = run(capsys, "verify", "--claims", "C2,C3,C4", "--executor", "inprocess")
    assert rc == 0
    notes = [line for line in err.splitlines() if "note:" in line]
    assert notes == [
        "regnorm: note: --executor inprocess is ignored by C4 (no sweep: they run in this process)"
    ]
    rc, out, err = run(capsys, "verify", "--claims", "C2,C3,C4")
    assert rc == 0 and "note:" not in err


def test_claims_run_are_said(fake_world, capsys):
    rc, out, err = run(capsys, "verify", "--claims", " c1 ")
    assert rc == 0 and err.splitlines() == ["regnorm: claims C1"]


def test_bug_in_a_check_is_an_internal_error(fake_world, checks, capsys):
    @C.claim("C2")
    def broken(ctx):
        raise TypeError("unsupported operand deep in a simulation")
        yield

    checks.append(broken)

    rc, out, err = run(capsys, "verify", "--claims", "C2")
    assert rc == 1
    assert err.splitlines()[-1] == (
        "regnorm: internal error: TypeError: unsupported operand deep in a simulation "
        "(set REGNORM_DEBUG=1 for the traceback)"
    )


def test_strict_returns_1_on_a_deviation(fake_world, checks, capsys):
    @C.claim("C2")
    def deviating(ctx):
        yield C.statistical_record("C2", {}, analytic=0.0, numeric=1.0, stderr=1e-3)

    checks.append(deviating)

    assert run(capsys, "verify", "--claims", "C2", "--strict")[0] == 1
    assert run(capsys, "verify", "--claims", "C1", "--strict")[0] == 0


def test_foreign_module_already_imported_is_refused(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "simulations", types.ModuleType("simulations"))
    rc, out, err = run(capsys, "verify", "--claims", "C5")
    assert rc == 2 and err.count("\n") == 1
    assert "a module named 'simulations'" in err and "already imported" in err


def test_scheduler_probe_accepts_a_scheduler_and_refuses_a_worker():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cli.check_executor(cluster.scheduler_address) == cluster.scheduler_address
        (worker,) = cluster.scheduler.workers
        with pytest.raises(cli.UserError, match="a Dask Worker answers there, not a scheduler"):
            cli.check_executor(worker)


@pytest.mark.parametrize("module", ["figures", "regnorm"])
def test_module_form_exit_code_and_no_traceback(module):
    """``python -m figures`` is the command line; ``python -m regnorm`` says where it is."""
    p = subprocess.run(
        [sys.executable, "-m", module, "verify", "--claims", "C404"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert p.stderr.startswith("regnorm: error:") and "Traceback" not in p.stderr
    if module == "regnorm":
        assert "'regnorm' or 'python -m figures'" in p.stderr
