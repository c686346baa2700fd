"""``regnorm reproduce``: resume after SIGKILL, partial runs, and the folder's safety.

The runs use the fastest figure at ``--quick`` (under a second) and two cheap claims (C22
and C19, a few tenths of a second each), so a stage killed as it starts is still running
when the kill arrives.
"""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from figures import cli
from figures.run_folder import RunFolder
from regnorm import claims as C
from regnorm.claims import (
    ClaimRecord,
    deterministic_record,
    open_record,
    records_from_json,
    records_to_json,
)
from tests.tolerances import assert_allclose_rounding

ARGS = ["--quick", "--figures", "batch_dependence", "--claims", "C22,C19"]
#: Operations behind one number of these Monte-Carlo frames (a reduction over ~10^6 draws):
#: a file kept from another process may differ from a fresh one in the last bits (NumPy's
#: SIMD sums depend on the alignment of the arrays), never by more.
MC_OPS = 10**6


def command(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "figures", "reproduce", "--out", str(out), *args]


def run_cli(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(out, *args), capture_output=True, text=True, cwd=out.parent)


def run_until(out: Path, line_start: str, *args: str) -> tuple[int, str]:
    """Start the command, SIGKILL it when a stderr line starts with ``line_start``."""
    proc = subprocess.Popen(
        command(out, *args), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(line_start):
            proc.kill()
            break
    proc.wait()
    proc.stderr.close()
    return proc.returncode, "".join(seen)


def manifest(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def assert_same_to_rounding(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        if pd.api.types.is_float_dtype(a[c]):
            assert_allclose_rounding(a[c], b[c], ops=MC_OPS)
        else:
            assert a[c].tolist() == b[c].tolist(), c


def assert_one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> None:
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("regnorm: error: --")
    for f in fragments:
        assert f in p.stderr


@pytest.mark.parametrize(
    "executor", [[], ["--executor", "inprocess"]], ids=["workers", "inprocess"]
)
def test_sigkill_midway_resumes_to_the_uninterrupted_result(tmp_path, capsys, executor):
    args = [*ARGS, *executor]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert cli.main(["reproduce", "--out", str(clean), *args]) == 0
    err = capsys.readouterr().err
    # one line per stage on stderr, each finished one with its wall time
    for stage in ("[figure] batch_dependence", "[claim] C22", "[claim] C19"):
        assert re.search(rf"^{re.escape(stage)}: done in \d+\.\d s", err, re.M), err

    # killed as the stages start: a stage cut short is not recorded
    rc, err = run_until(killed, "[figure] batch_dependence ...", *args)
    assert rc == -9 and manifest(killed)["figures"] == {} and manifest(killed)["claims"] == {}

    # restarted, and killed again as soon as one stage is done
    rc, err = run_until(killed, "[claim] C22: done", *args)
    assert rc == -9
    done = manifest(killed)
    assert "C22" in done["claims"]
    kept = [".claims/C22.json", *(f for e in done["figures"].values() for f in e["files"])]
    kept += [f".claims/{c}.json" for c in done["claims"] if c != "C22"]
    before = {f: ((killed / f).stat().st_mtime_ns, (killed / f).read_bytes()) for f in kept}

    p = run_cli(killed, *args)
    assert p.returncode == 0, p.stderr
    stages = [("figure", n) for n in done["figures"]] + [("claim", c) for c in done["claims"]]
    for label, name in stages:
        assert f"[{label}] {name}: kept from an earlier run" in p.stderr
    for label, name in {("figure", "batch_dependence"), ("claim", "C19")} - set(stages):
        assert f"[{label}] {name}: done" in p.stderr
    # what was kept was not written again
    assert before == {f: ((killed / f).stat().st_mtime_ns, (killed / f).read_bytes()) for f in kept}
    for name in ("batch_dependence.parquet", "claims.parquet"):
        assert_same_to_rounding(pd.read_parquet(killed / name), pd.read_parquet(clean / name))


def test_partial_runs_of_the_same_settings_add_up(tmp_path, capsys):
    out = tmp_path / "r"
    base = ["reproduce", "--out", str(out), "--quick"]
    assert cli.main([*base, "--figures", "batch_dependence", "--claims", "C13"]) == 0
    assert cli.main([*base, "--figures", "proxy_norm_depth", "--no-claims"]) == 0
    err = capsys.readouterr().err
    assert "[figure] batch_dependence" not in err.split("[figure] proxy_norm_depth")[1]
    report = (out / "REPORT.md").read_text()
    for name in ("batch_dependence.png", "batch_dependence.parquet", "proxy_norm_depth.png"):
        assert name in report
    assert "| C13 |" in report and "Not checked yet: C1, " in report
    assert "Not run yet: bn_noise" in report
    m = re.search(r"Compute time of the stages below: ([\d.]+) s wall, ([\d.]+) s CPU", report)
    stages = [*manifest(out)["figures"].values(), *manifest(out)["claims"].values()]
    wall, cpu = (sum(e[k] for e in stages) for k in ("wall_s", "cpu_s"))
    assert m and (m[1], m[2]) == (f"{wall:.1f}", f"{cpu:.1f}")
    assert set(pd.read_parquet(out / "claims.parquet")["id"]) == {"C13"}


def test_a_changed_file_is_never_used(tmp_path, capsys):
    out = tmp_path / "r"
    base = ["reproduce", "--out", str(out), "--quick", "--no-claims"]
    assert cli.main([*base, "--figures", "batch_dependence"]) == 0
    png = out / "batch_dependence.png"
    size = png.stat().st_size
    png.write_bytes(png.read_bytes()[: size // 2])  # as a write cut short would leave it
    assert cli.main([*base, "--figures", "proxy_norm_depth"]) == 0
    assert (
        "not usable: batch_dependence.png changed since it was written"
        in (out / "REPORT.md").read_text()
    )
    capsys.readouterr()
    assert cli.main([*base, "--figures", "batch_dependence"]) == 0
    err = capsys.readouterr().err
    assert "[figure] batch_dependence ... (running again: batch_dependence.png changed" in err
    assert png.stat().st_size == size and "not usable" not in (out / "REPORT.md").read_text()

    # a claim whose stored records changed is not reported, nor kept in claims.parquet
    assert cli.main([*base[:-1], "--figures", "batch_dependence", "--claims", "C13"]) == 0
    assert (out / "claims.parquet").exists()
    (out / ".claims" / "C13.json").write_text("[]")
    assert cli.main([*base, "--figures", "batch_dependence"]) == 0
    report = (out / "REPORT.md").read_text()
    assert "Not checked yet: C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14" in report
    assert "(claims check not run)" in report and not (out / "claims.parquet").exists()


def test_a_run_of_other_settings_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "r"
    base = ["reproduce", "--out", str(out), "--no-claims"]
    assert cli.main([*base, "--quick", "--figures", "batch_dependence"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    p = run_cli(out, "--no-claims", "--figures", "batch_dependence")
    assert_one_line_error(p, "other settings", "quick: True there, False here", "--overwrite")
    capsys.readouterr()
    assert cli.main([*base, "--quick", "--seed", "1", "--figures", "batch_dependence"]) == 2
    assert "other settings (seed: 0 there, 1 here" in capsys.readouterr().err
    assert before == {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    args = ["--quick", "--seed", "1", "--figures", "proxy_norm_depth", "--overwrite"]
    assert cli.main([*base, *args]) == 0
    assert "[run] deleted the earlier run in" in capsys.readouterr().err
    assert not (out / "batch_dependence.png").exists()  # recorded by the discarded run
    assert manifest(out)["settings"]["seed"] == 1
    assert "batch_dependence.png" not in (out / "REPORT.md").read_text()


def test_results_no_run_recorded_are_refused(tmp_path, capsys):
    # what a full run of an earlier version leaves: a long report and the full figure
    out = tmp_path / "full"
    out.mkdir()
    report, png = b"# full report\n" * 12_000, bytes(range(256)) * 700
    (out / "REPORT.md").write_bytes(report)
    (out / "bn_noise.png").write_bytes(png)
    p = run_cli(out, "--quick", "--figures", "bn_noise", "--no-claims")
    assert_one_line_error(p, "holds results that no recorded run wrote", "REPORT.md")
    assert (out / "REPORT.md").read_bytes() == report and (out / "bn_noise.png").read_bytes() == png

    args = ["reproduce", "--out", str(out), "--quick", "--figures", "batch_dependence"]
    assert cli.main([*args, "--no-claims", "--overwrite"]) == 0
    assert "writing over the unrecorded results" in capsys.readouterr().err
    assert (out / "bn_noise.png").read_bytes() == png  # not this run's: left, not reported
    assert "bn_noise.png" not in (out / "REPORT.md").read_text()


def test_a_run_record_not_written_by_regnorm_is_refused(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "run.json").write_text('{"format": 1, "settings": {}, "figures": []}')
    p = run_cli(out, "--quick", "--figures", "batch_dependence", "--no-claims")
    assert_one_line_error(p, "holds a run.json that is not a regnorm run record (no figures)")


def test_a_folder_being_written_is_refused(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    with (out / ".run.lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        p = run_cli(out, "--quick", "--figures", "batch_dependence", "--no-claims")
    assert_one_line_error(p, "another regnorm reproduce is writing to")
    assert not (out / "run.json").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--claims", "C13", "--no-claims"], "--claims 'C13' and --no-claims exclude each other"),
        (["--claims", "C13,C99"], "--claims: unknown claim id 'C99'"),
    ],
)
def test_bad_claims_selection(tmp_path, args, fragment):
    p = run_cli(tmp_path / "r", "--quick", "--figures", "batch_dependence", *args)
    assert_one_line_error(p, fragment)
    assert not (tmp_path / "r" / "run.json").exists()


def test_records_read_back_exactly():
    recs = [
        deterministic_record("C17", {"axes": (0, 2, 3), "C": np.int64(8)}, analytic=1, numeric=1),
        open_record("C8", {"alpha": 0.1 + 0.2, "ok": True}, numeric=float("inf"), note="n"),
    ]
    back = records_from_json(records_to_json(recs))
    assert all(isinstance(r, ClaimRecord) for r in back)
    assert [r.as_dict() for r in back] == [r.as_dict() for r in recs]
    assert type(back[0].params["axes"]) is tuple and type(back[0].params["C"]) is int


def test_overwrite_deletes_what_the_run_recorded_and_nothing_else(tmp_path):
    out, settings = tmp_path / "r", {"quick": True, "seed": 0}
    out.mkdir()
    (out / "mine.txt").write_text("not a result")
    (tmp_path / "outside.png").write_bytes(b"png")
    with RunFolder(out, settings, overwrite=False) as run:
        before = run.snapshot()
        (out / "demo.png").write_bytes(b"png")
        (out / "demo_store" / "points").mkdir(parents=True)
        written = run.written_since(before)
        assert written == (["demo.png"], ["demo_store"])
        run.record_figure("demo", written, 1.0, 1.0, None)
    record = manifest(out)
    evil = {"files": {"../outside.png": {}}, "folders": ["..", "/"], "wall_s": 0, "cpu_s": 0}
    record["figures"]["evil"] = evil
    (out / "run.json").write_text(json.dumps(record))
    with RunFolder(out, settings, overwrite=True) as run:
        assert run.discarded == "run" and run.manifest["figures"] == {}
    assert sorted(p.name for p in out.iterdir()) == [".run.lock", "mine.txt", "run.json"]
    assert (tmp_path / "outside.png").exists()


def test_jobs_put_a_figure_with_the_claims_that_share_its_run():
    from figures.stages import plan_jobs

    @C.claim("C9")
    def c9(ctx):
        return []

    @C.claim("C5")
    def c5(ctx):
        return []

    figs = {"a": print, "b": print}
    jobs = plan_jobs(
        figs, ["C9", "C5"], [c9, c5], {"a": ("C9", "C10")}, out="o", quick=True, seed=0
    )
    # the claims alone first, then a figure with its claims, then the other figures
    assert [j.stages for j in jobs] == [
        (("claims", "C5"),),
        (("figures", "a"), ("claims", "C9")),
        (("figures", "b"),),
    ]
    assert [c.name for c in jobs[1].checks] == [c9.name]
    # a claim not selected does not join its figure
    jobs = plan_jobs(figs, ["C5"], [c9, c5], {"a": ("C9",)}, out="o", quick=True, seed=0)
    assert [j.stages for j in jobs] == [
        (("claims", "C5"),),
        (("figures", "a"),),
        (("figures", "b"),),
    ]


@pytest.mark.parametrize(
    "spec, cores, workers",
    [(None, 2, 2), (None, 1, 0), ("processes:3", 2, 3), ("inprocess", 2, 0), ("dask:2", 2, 0)],
)
def test_stage_workers(monkeypatch, spec, cores, workers):
    from figures.stages import stage_workers

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert stage_workers(spec) == workers


def test_a_job_runs_its_figure_with_typed_values_then_its_claims(tmp_path):
    from figures.stages import Job, run_job

    seen = []

    def fig(out, *, quick, seed, executor, overwrite=False):
        seen.append((out, quick, seed, executor, overwrite))
        (out / "f.png").write_bytes(b"png")
        return [out / "f.png"]

    @C.claim("C13")
    def c13(ctx):
        yield C.open_record("C13", {"seed": ctx.seed}, numeric=None, note="")

    job = Job("f", fig, ("C13",), (c13,), str(tmp_path), True, 7, None, overwrite=True)
    pid, cpu, results = run_job(job)
    assert seen == [(tmp_path, True, 7, None, True)]
    assert [(r.kind, r.name) for r in results] == [("figures", "f"), ("claims", "C13")]
    assert results[0].files == ("f.png",) and results[1].records[0].params == {"seed": 7}

    def outside(out, *, quick, seed, executor):
        return [tmp_path.parent / "elsewhere.png"]

    with pytest.raises(RuntimeError, match="figure g: run.* not inside the run folder"):
        run_job(Job("g", outside, (), (), str(tmp_path), True, 0))
