"""The ``regnorm`` command line (also ``python -m figures``).

``regnorm verify``     run the claims checks and print the claims table (or JSON).
``regnorm reproduce``  run every figure script and the claims checks; write figures (PNG),
                       data (Parquet) and ``REPORT.md`` into one folder.
``regnorm derive``     print a symbolic (sympy) derivation of :mod:`derivations`.

It sits on the top floor with the figures it runs: it calls each figure script's typed
``run`` (:data:`figures.FIGURES`) and the checks of the lists that
:func:`regnorm.claims.load_checks` reads, and imports ``simulations``, ``derivations`` and
``figures`` from the folder that holds them beside ``regnorm``, whatever the working folder
holds.

Exit codes
----------
0
    success.
1
    an internal error (a bug, or a failure of the machine: one line on stderr, the traceback
    with ``REGNORM_DEBUG=1``), or ``verify --strict`` found a deviating record.
2
    bad input on the command line: one line on stderr naming the option, the value and
    what is allowed (with ``REGNORM_DEBUG=1`` the traceback too, and still code 2).
130
    interrupted (Ctrl-C).
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import inspect
import json
import os
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from figures import FIGURES, SHARED_RUNS

__all__ = [
    "UserError",
    "all_checks",
    "check_executor",
    "cli",
    "figure_captions",
    "figure_run",
    "main",
]

#: The packages installed side by side (``pyproject.toml``'s wheel packages).
OWN_PACKAGES = ("regnorm", "simulations", "derivations", "figures")


class UserError(click.UsageError):
    """Bad input on the command line: one line on stderr, exit code 2."""


def _packages_root() -> Path:
    """The folder holding this ``figures`` package and its sibling packages."""
    return Path(__file__).resolve().parent.parent


def _is_own(module: Any, name: str, root: Path) -> bool:
    origin = getattr(module, "__file__", None)
    return origin is not None and Path(origin).resolve() == root / name / "__init__.py"


def _shadows(entry: str, root: Path) -> bool:
    """Whether the ``sys.path`` entry holds a module named like one of ours, not ours."""
    for name in OWN_PACKAGES:
        spec = importlib.machinery.PathFinder.find_spec(name, [entry])
        if spec is not None and spec.origin != str(root / name / "__init__.py"):
            return True
    return False


def own_packages() -> None:
    """Make ``regnorm``, ``simulations``, ``derivations`` and ``figures`` import from one folder.

    ``python -m figures`` puts the working folder first on ``sys.path``, so a user's
    ``simulations.py`` there would be imported in place of ours. Loading ours once is not
    enough: worker processes of the ``processes`` and Dask executors inherit ``sys.path`` and
    import the task functions by name, so the folder holding our packages goes before the
    first entry that shadows them.

    Raises
    ------
    UserError
        If a module of the same name but another origin is already imported (regnorm run
        inside a program that has its own ``simulations``).
    RuntimeError
        If one of the packages is missing beside ``regnorm`` (a broken installation).
    """
    root = _packages_root()
    for name in OWN_PACKAGES:
        if not (root / name / "__init__.py").is_file():
            raise RuntimeError(
                f"regnorm's package {name!r} is missing from {root} (installation incomplete; "
                f"reinstall regnorm)"
            )
        mod = sys.modules.get(name)
        if mod is not None and not _is_own(mod, name, root):
            where = getattr(mod, "__file__", None) or "no file"
            raise UserError(
                f"a module named {name!r} ({where}) is already imported; regnorm needs its own "
                f"{name!r} package ({root / name}): rename the other module"
            )
    resolved = [Path(e or os.curdir).resolve() for e in sys.path]
    mine = resolved.index(root) if root in resolved else len(sys.path)
    first = next((i for i in range(mine) if _shadows(sys.path[i], root)), None)
    if first is not None or mine == len(sys.path):
        sys.path.insert(mine if first is None else first, str(root))
    for name in OWN_PACKAGES:
        mod = importlib.import_module(name)
        if not _is_own(mod, name, root):
            raise RuntimeError(f"imported {name!r} from {mod.__file__}, not from {root / name}")


def all_checks() -> list:
    """The checks the commands choose from: the declared lists (one place to replace them)."""
    from regnorm.claims import load_checks

    own_packages()
    return load_checks()


def figure_captions() -> dict[str, str]:
    """Each figure script's caption (the first line of its docstring, less ``Figure:``), in
    the report's order; read from the sources, so that nothing is imported."""
    out = {}
    for name in FIGURES:
        source = (_packages_root() / "figures" / f"{name}.py").read_text()
        doc = (ast.get_docstring(ast.parse(source)) or "").splitlines()
        out[name] = (doc[0].removeprefix("Figure:").strip() if doc else "") or name
    return out


def figure_run(name: str) -> Callable[..., Any]:
    """The typed ``run(out, *, quick, seed, executor)`` of figure script ``name``."""
    own_packages()
    run = getattr(importlib.import_module(f"figures.{name}"), "run", None)
    if not callable(run):
        raise RuntimeError(f"figure script figures.{name} has no run(out, *, quick, seed, ...)")
    return run


def _writable_dir(path: str, option: str) -> Path:
    if not path.strip():
        # Path("") is the working folder: an empty value would scatter files there.
        raise UserError(f"{option} {path!r}: give a folder name, e.g. {option} results")
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".regnorm-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        msg = f"{option} {path!r} is not a writable folder ({exc.strerror or exc})"
        raise UserError(msg) from exc
    return p


def check_executor(spec: str | None) -> str | None:
    """Validate ``--executor`` before any work starts; returns the spec unchanged.

    The rules are :func:`figures.executor_check.check_executor_spec`'s: a Dask spec needs
    Dask distributed importable, and a scheduler address a Dask scheduler answering there.
    """
    from figures.executor_check import ExecutorSpecError, check_executor_spec

    try:
        check_executor_spec(spec)
    except ExecutorSpecError as exc:
        raise UserError(str(exc)) from None
    return spec


def _may_use_executor(check: Any) -> bool:
    """Whether a claims check may hand ``ctx.executor`` to a sweep.

    Read from the check's source, conservatively: False only if it neither reads an
    ``executor`` attribute nor hands its context to anything else (which could read it).
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(check)))
    except (OSError, TypeError, SyntaxError):
        return True
    func = tree.body[0] if tree.body else None
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or not func.args.args:
        return True
    ctx = func.args.args[0].arg
    attribute_bases = {id(n.value) for n in ast.walk(func) if isinstance(n, ast.Attribute)}
    for node in ast.walk(func):
        if isinstance(node, ast.Attribute) and node.attr == "executor":
            return True
        if isinstance(node, ast.Name) and node.id == ctx and id(node) not in attribute_bases:
            return True
    return False


def selected_claims(claims: str | tuple[str, ...] | None, executor: str | None) -> list[str]:
    """The ids a ``--claims`` option selects (all registered if None or empty), said on stderr.

    ``claims`` is the option's value, or the values of a repeated option; the rule is
    :func:`regnorm.claims.resolve_ids`'s. With ``executor`` given, a note on stderr names the
    selected claims that ignore it (no sweep), so a user does not wait for workers that never
    start.
    """
    from regnorm.claims import registered, resolve_ids

    if isinstance(claims, tuple):
        claims = ",".join(claims) if claims else None
    checks = all_checks()
    try:
        ids = resolve_ids(claims, checks)
    except (ValueError, TypeError) as exc:
        raise UserError(f"--claims: {exc}") from None
    click.echo(f"regnorm: claims {', '.join(ids)}", err=True)
    if executor is not None:
        by_id = registered(checks)
        idle = [i for i in ids if not any(_may_use_executor(c.check) for c in by_id[i])]
        if idle:
            click.echo(
                f"regnorm: note: --executor {executor} is ignored by {', '.join(idle)} "
                f"(no sweep: they run in this process)",
                err=True,
            )
    return ids


def check_backend(spec: str | None, executor: str | None) -> str | None:
    """Validate ``--backend`` before any work starts: None for NumPy, else the spec
    (:func:`figures.backend_check.check_backend_spec`'s rules)."""
    from figures.backend_check import BackendSpecError, check_backend_spec

    try:
        return check_backend_spec(spec, executor)
    except BackendSpecError as exc:
        raise UserError(str(exc)) from None


def note_numpy_only(backend: str | None, what: str, names: list[str]) -> None:
    """One line on stderr naming the ``what`` that run on NumPy, not on ``backend``."""
    if backend is not None and names:
        click.echo(f"regnorm: note: --backend {backend}: {what}: {', '.join(names)}", err=True)


_CHECKS_ON_NUMPY = "these checks ran on NumPy (not backend-generic)"


def _run_claims(claims, quick: bool, seed: int, executor: str | None, backend: str | None):
    from regnorm.claims import run_claims

    ids = selected_claims(claims, executor)
    records = run_claims(
        ids, checks=all_checks(), quick=quick, seed=seed, executor=executor, backend=backend
    )
    if backend is not None:
        from figures.backend_check import numpy_only_checks
        from regnorm.claims import registered

        off = numpy_only_checks(ids, registered(all_checks()))
        note_numpy_only(backend, _CHECKS_ON_NUMPY, off)
    return records


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regnorm")
def cli() -> None:
    """regnorm: theory of normalization layers, every claim checked by Monte-Carlo.

    \b
    Exit codes: 0 success; 2 bad input on the command line (one line on stderr);
    1 an internal error (one line; REGNORM_DEBUG=1 adds the traceback) or a
    deviating record under verify --strict; 130 interrupted.
    """


_seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Root seed of every random stream.",
)
_quick_option = click.option("--quick", is_flag=True, help="Small sizes: seconds, not minutes.")
_executor_option = click.option(
    "--executor",
    default=None,
    metavar="SPEC",
    help="Where sweeps run: inprocess (default), processes[:N], dask[:N], or a Dask "
    "scheduler address tcp://HOST:PORT (checked before any work starts, within Dask's "
    "connect timeout). Claims that run no sweep ignore it, with a note on stderr.",
)
_backend_option = click.option(
    "--backend",
    default=None,
    metavar="SPEC",
    help="Array backend of the backend-generic checks and figures: numpy (default), "
    "cupy[:INDEX] (needs CuPy and an NVIDIA GPU) or array_api_strict[:DEVICE]. The others "
    "run on NumPy, named in one line on stderr. Runs in this process (no --executor).",
)


@cli.command()
@click.option(
    "--claims",
    "claims",
    multiple=True,
    metavar="IDS",
    help="Claim ids, comma-separated and/or with the option repeated (--claims C1,C5 "
    "--claims C7); case and spaces around an id are ignored (' c5 ' is C5), an empty item "
    "or an id named twice is an error. Default: all registered. The ids run are printed "
    "on stderr.",
)
@_quick_option
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON on stdout.")
@_seed_option
@_executor_option
@_backend_option
@click.option("--strict", is_flag=True, help="Exit with code 1 if any record deviates.")
def verify(claims, quick, as_json, seed, executor, backend, strict):
    """Check THEORY.md's claims: closed form against Monte-Carlo, with z-scores."""
    executor = check_executor(executor)
    backend = check_backend(backend, executor)
    records = _run_claims(claims, quick, seed, executor, backend)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=1, default=_json_default))
    else:
        from regnorm.report import claims_table, summary_line

        click.echo(claims_table(records))
        click.echo(summary_line(records))
    if strict and any(r.verdict == "deviates" for r in records):
        raise click.exceptions.Exit(1)


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


@cli.command()
@click.option(
    "--out",
    default="results",
    show_default=True,
    metavar="DIR",
    help="Folder for figures, data and REPORT.md.",
)
@_quick_option
@_seed_option
@_executor_option
@click.option(
    "--figures",
    "only",
    default=None,
    metavar="NAMES",
    help="Comma-separated figure scripts to run (default: all): " + ", ".join(FIGURES) + ".",
)
@click.option(
    "--claims",
    "claim_ids",
    multiple=True,
    metavar="IDS",
    help="Claim ids to check, as for regnorm verify (--claims C1,C5 --claims C7); default: "
    "all registered.",
)
@click.option("--no-claims", is_flag=True, help="Skip the claims check.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Discard the run that DIR holds (the files it recorded are deleted, sweep stores "
    "included) and compute everything anew.",
)
@_backend_option
def reproduce(out, quick, seed, executor, only, claim_ids, no_claims, overwrite, backend):
    """Run the figure scripts and the claims checks; write figures, data and REPORT.md.

    \b
    Where: the stages (each figure script, each claim's checks) run side by side on local
    worker processes, one per core (one BLAS thread each); a figure and the claims that
    reuse its experiment run in one worker, one after the other. --executor processes:N
    sets the number of workers, inprocess runs the stages one after the other in this
    process, and a Dask executor runs them in this process with their sweeps on Dask.
    REPORT.md gives the run's wall and CPU time.

    \b
    Resume: DIR/run.json records the run's settings and each finished stage (a figure
    script with the size and SHA-256 of every file it wrote, or one claim's records in
    DIR/.claims/). Restarted with the same settings, for instance after a kill, a run keeps
    the finished stages whose files are intact and runs the rest; a stage that was cut
    short, or whose files changed since, runs again. Partial runs (--figures, --claims,
    --no-claims) of the same settings add up: REPORT.md and claims.parquet are rebuilt
    after every stage from all that DIR holds.

    \b
    Settings: --quick, --seed and the code (regnorm's version, a hash of the sources of
    regnorm, simulations, derivations and figures, the NumPy and SciPy versions). A folder
    holding a run of other settings, or results that no run recorded, is refused (exit
    code 2) unless --overwrite is given. --executor is not a setting: every executor gives
    the same numbers. --backend (other than numpy) is: the stages then run in this
    process, the figures and checks that take a backend on it, the others on NumPy (named
    on stderr).

    \b
    Progress: one line per stage on stderr as it is queued, and one with its wall time
    when it is done.
    """
    from figures.run_folder import RunFolder, RunFolderError, run_settings, write_report
    from figures.stages import plan_jobs, run_jobs, stage_workers
    from regnorm.claims import registered
    from regnorm.report import summary_line

    executor = check_executor(executor)
    backend = check_backend(backend, executor)
    if no_claims and claim_ids:
        given = ",".join(claim_ids)
        raise UserError(f"--claims {given!r} and --no-claims exclude each other; give one")
    out_dir = _writable_dir(out, "--out")
    captions = figure_captions()
    names = list(captions)
    if only is not None:
        wanted = [s.strip() for s in only.split(",") if s.strip()]
        unknown = [w for w in wanted if w not in captions]
        if unknown or not wanted:
            raise UserError(
                f"--figures: unknown figure {', '.join(unknown) or repr(only)}; "
                f"available: {', '.join(captions) or 'none'}"
            )
        names = list(dict.fromkeys(wanted))
    # one device: a backend's stages run here, one after the other
    workers = 0 if backend is not None else stage_workers(executor)
    # on workers, --executor says where the stages run, not their sweeps: no note then
    ids = [] if no_claims else selected_claims(claim_ids, executor if workers == 0 else None)

    t_run, c_run = time.perf_counter(), time.process_time()
    try:
        # the sources that make the results: regnorm and the packages beside it
        settings = run_settings(
            quick=quick, seed=seed, root=_packages_root(), packages=OWN_PACKAGES
        )
        if backend is not None:
            # absent for NumPy, so that folders of earlier NumPy runs keep resuming
            settings = {**settings, "backend": backend}
        run = RunFolder(out_dir, settings, overwrite=overwrite)
    except RunFolderError as exc:
        raise UserError(f"--out: {exc}") from None
    worker_cpu: dict[int, float] = {}
    with run:
        if run.discarded == "run":
            click.echo(f"[run] deleted the earlier run in {out_dir}", err=True)
        elif run.discarded:
            click.echo(
                f"[run] writing over the unrecorded results in {out_dir} (files this run does "
                "not write again stay, and are not in the report)",
                err=True,
            )
        checks = all_checks() if ids else []
        if ids:
            run.expect_claims(list(registered(checks)))
        figs = {n: figure_run(n) for n in names if not _kept(run, "figures", n)}
        todo = [cid for cid in ids if not _kept(run, "claims", cid)]
        if backend is not None:
            from figures.backend_check import numpy_only_checks, numpy_only_figures

            off = numpy_only_figures(figs)
            note_numpy_only(backend, "these figures run on NumPy (their run takes none)", off)
            off = numpy_only_checks(todo, registered(checks))
            note_numpy_only(backend, _CHECKS_ON_NUMPY.replace("ran", "run"), off)
        jobs = plan_jobs(
            figs,
            todo,
            checks,
            SHARED_RUNS,
            out=str(out_dir),
            quick=quick,
            seed=seed,
            # a stage on a worker runs its own sweeps in its process
            executor=executor if workers == 0 else None,
            overwrite=bool(run.discarded),
            backend=backend,
            run_id=f"{os.getpid()}-{time.time_ns()}",
        )
        before = run.snapshot()
        for job, results, pid, cpu in run_jobs(jobs, workers):
            if pid is not None:
                worker_cpu[pid] = max(cpu, worker_cpu.get(pid, 0.0))
            for res in results:
                if res.kind == "figures":
                    folders = _folders_of(run, before, res.name)
                    run.record_figure(
                        res.name, (list(res.files), folders), res.wall_s, res.cpu_s, job.executor
                    )
                    said = f"{len(res.files)} files"
                else:
                    run.record_claim(
                        res.name, list(res.records), res.wall_s, res.cpu_s, job.executor
                    )
                    said = summary_line(res.records)
                label = "figure" if res.kind == "figures" else "claim"
                click.echo(f"[{label}] {res.name}: done in {res.wall_s:.1f} s ({said})", err=True)
            write_report(run, captions)
        wall = time.perf_counter() - t_run
        cpu = time.process_time() - c_run + sum(worker_cpu.values())
        run.record_run(wall, cpu, workers)
        records = write_report(run, captions)
    click.echo(f"[run] finished in {wall:.1f} s ({cpu:.1f} s CPU, {workers} workers)", err=True)
    click.echo(f"wrote {out_dir / 'REPORT.md'}")
    if records:
        click.echo(summary_line(records))


def _kept(run, kind: str, name: str) -> bool:
    """Say what happens to stage ``name``; True if it is kept from an earlier run."""
    label = "figure" if kind == "figures" else "claim"
    kept, problem = run.finished(kind, name)
    if kept:
        click.echo(f"[{label}] {name}: kept from an earlier run", err=True)
        return True
    run.forget(kind, name)
    again = f" (running again: {problem})" if problem else ""
    click.echo(f"[{label}] {name} ...{again}", err=True)
    return False


def _folders_of(run, before: dict, name: str) -> list[str]:
    """The folders figure ``name`` made or changed since ``before``: by the file-naming rule
    of :mod:`figures`, those named ``name`` or ``name_...`` (stages run side by side, so
    what changed in the folder is not all one stage's)."""
    folders = run.written_since(before)[1]
    return [f for f in folders if f == name or f.startswith(f"{name}_")]


@cli.command()
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--latex", is_flag=True, help="Print the expressions as LaTeX.")
def derive(name, latex):
    """Print the symbolic derivation NAME (no NAME: list the available derivations)."""
    own_packages()
    catalogue = importlib.import_module("derivations.catalogue")
    if name is None:
        for n in catalogue.available():
            click.echo(f"{n}  ({catalogue.DERIVATIONS[n][1]}) {catalogue.title(n)}")
        return
    if name not in catalogue.DERIVATIONS:
        raise UserError(
            f"unknown derivation {name!r}; available: {', '.join(catalogue.available())}"
        )
    click.echo(catalogue.render(name, latex=latex), nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command line and return its exit code.

    Only the command line's own validation of its arguments is a user error: one line on
    stderr and code 2. Anything else escaping a command is an internal error: one line
    naming the exception and code 1. With ``REGNORM_DEBUG`` set (not ``0``) the traceback
    comes first; the codes stay the same.
    """
    debug = os.environ.get("REGNORM_DEBUG", "") not in ("", "0")
    try:
        rv = cli.main(args=argv, prog_name="regnorm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("regnorm: aborted", err=True)
        return 130
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        msg = exc.format_message().replace("\n", " ")
        click.echo(f"regnorm: error: {msg}", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            traceback.print_exc()
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        hint = "" if debug else " (set REGNORM_DEBUG=1 for the traceback)"
        click.echo(f"regnorm: internal error: {msg}{hint}", err=True)
        return 1
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
