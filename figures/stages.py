"""The stages of ``regnorm reproduce`` and where they run.

A *stage* is one figure script's ``run`` or one claim's checks. Stages are grouped into
*jobs*: a figure with the claims whose checks reuse its experiment
(:data:`figures.SHARED_RUNS`: memoized by :func:`regnorm.sweeps.shared_run` in its process),
else one stage each. The jobs run on local worker processes, one per core by default (each
worker with one BLAS thread), or one after the other in this process; every stage derives its
random streams from the root seed and its own key, so the numbers do not depend on where or
in which order it runs.

The command line records each stage in the run folder as its job comes back
(:mod:`figures.run_folder`): only this process writes ``run.json``.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regnorm.claims import Claim, ClaimRecord, run_claims
from regnorm.sweeps import ProcessExecutor, resolve_executor

__all__ = ["Job", "StageResult", "plan_jobs", "run_job", "run_jobs", "stage_workers"]


@dataclass(frozen=True)
class StageResult:
    """What one stage did: the files a figure wrote (relative to ``out``) or a claim's records.

    ``cpu_s`` is the CPU time of the process that ran the stage, over the stage.
    """

    kind: str
    name: str
    wall_s: float
    cpu_s: float
    files: tuple[str, ...] = ()
    records: tuple[ClaimRecord, ...] = ()


@dataclass(frozen=True)
class Job:
    """Stages that run one after the other in one process: a figure first, then claims.

    Attributes
    ----------
    figure : str or None
        The figure script's name.
    figure_run : callable or None
        Its ``run(out, *, quick, seed, executor)``.
    claims : tuple of str
        Claim ids to check after the figure, each with its checks from ``checks``.
    checks : tuple of Claim
        The checks of ``claims``.
    out : str
        The run folder.
    quick, seed :
        The run's settings.
    executor : str or None
        Where the stages' own sweeps run (None: in the process that runs the stage).
    overwrite : bool
        Whether the figure discards a store of an earlier run (passed to a ``run`` that
        takes ``overwrite``).
    backend : str or None
        The array backend's spec (None: NumPy), passed to a figure's ``run`` that takes
        ``backend`` and to the backend-generic checks.
    run_id : str
        Names the invocation the job belongs to (a worker's CPU time is counted per run).
    """

    figure: str | None
    figure_run: Callable[..., Sequence[Path]] | None
    claims: tuple[str, ...]
    checks: tuple[Claim, ...]
    out: str
    quick: bool
    seed: int
    executor: str | None = None
    overwrite: bool = False
    backend: str | None = None
    run_id: str = ""
    stages: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        head = (("figures", self.figure),) if self.figure is not None else ()
        object.__setattr__(self, "stages", head + tuple(("claims", c) for c in self.claims))


def stage_workers(executor: str | None) -> int:
    """How many worker processes run the stages for ``--executor`` (0: this process).

    No executor: one worker per core (none on a one-core machine). ``processes[:N]``: N
    workers. ``inprocess``: this process. A Dask executor: this process, its stages' sweeps
    on the Dask cluster (a remote worker could not write the run folder).
    """
    if executor is None:
        cores = os.cpu_count() or 1
        return cores if cores > 1 else 0
    spec = resolve_executor(executor)
    return spec.workers if isinstance(spec, ProcessExecutor) else 0


def plan_jobs(
    figures: dict[str, Callable[..., Sequence[Path]]],
    claims: Sequence[str],
    checks: Sequence[Claim],
    shared: dict[str, Sequence[str]],
    **settings: Any,
) -> list[Job]:
    """The jobs for ``figures`` (name -> run) and ``claims``, in the order they start.

    A claim in ``shared[figure]`` of a figure to run goes into that figure's job. The claims
    on their own start first (at full size they hold most of the work, C5 and C6 the
    longest stages), then the figures with their claims, then the other figures, so that
    long stages start early and short ones fill the workers at the end. The order decides
    the wall time only: every stage's numbers come from its own seed and key.
    """
    by_id: dict[str, list[Claim]] = {}
    for c in checks:
        by_id.setdefault(c.id, []).append(c)

    def job(figure: str | None, ids: Sequence[str]) -> Job:
        run = figures[figure] if figure is not None else None
        mine = tuple(c for cid in ids for c in by_id.get(cid, ()))
        return Job(figure, run, tuple(ids), mine, **settings)

    bundled, alone = [], []
    taken: set[str] = set()
    for name in figures:
        ids = [c for c in shared.get(name, ()) if c in claims]
        taken.update(ids)
        (bundled if ids else alone).append(job(name, ids))
    rest = [job(None, [cid]) for cid in claims if cid not in taken]
    return rest + bundled + alone


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system


#: In a worker: the run of its last job and its CPU time then; and, per run, its CPU time
#: before that run's first job (0 for a worker started for it: start-up and imports count).
_LAST_JOB: dict[str, Any] = {"run": None, "cpu": 0.0}
_CPU_BEFORE: dict[str, float] = {}


def run_job(job: Job) -> tuple[int, float, list[StageResult]]:
    """Run a job's stages in this process.

    Returns ``(pid, cpu, results)``: ``cpu`` is this process's CPU time spent for the job's
    run so far (since the end of its last job of another run, if any).
    """
    results = []
    for kind, name in job.stages:
        t0, c0 = time.perf_counter(), time.process_time()
        if kind == "figures":
            kwargs: dict[str, Any] = dict(quick=job.quick, seed=job.seed, executor=job.executor)
            takes = inspect.signature(job.figure_run).parameters
            if "overwrite" in takes:
                kwargs["overwrite"] = job.overwrite
            if job.backend is not None and "backend" in takes:
                kwargs["backend"] = job.backend
            written = job.figure_run(Path(job.out), **kwargs)
            files = tuple(_relative(name, p, Path(job.out)) for p in written)
            done = dict(files=files)
        else:
            recs = run_claims(
                [name],
                checks=[c for c in job.checks if c.id == name],
                quick=job.quick,
                seed=job.seed,
                executor=job.executor,
                progress=False,
                backend=job.backend,
            )
            done = dict(records=tuple(recs))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        results.append(StageResult(kind, name, wall, cpu, **done))
    now = _process_cpu()
    if job.run_id != _LAST_JOB["run"]:
        _CPU_BEFORE.setdefault(job.run_id, _LAST_JOB["cpu"])
    _LAST_JOB.update(run=job.run_id, cpu=now)
    return os.getpid(), now - _CPU_BEFORE[job.run_id], results


def _relative(name: str, path: Any, out: Path) -> str:
    """A written file's name in the run folder, or an internal error naming the figure."""
    p = Path(path)
    p = p if p.is_absolute() else Path.cwd() / p
    try:
        rel = p.resolve().relative_to(out.resolve())
    except ValueError:
        raise RuntimeError(
            f"figure {name}: run() returned {str(path)!r}, which is not inside the run folder "
            f"{str(out)!r}"
        ) from None
    if not p.is_file():
        raise RuntimeError(f"figure {name}: run() returned {str(path)!r}, which is no file")
    return rel.as_posix()


def run_jobs(
    jobs: Sequence[Job], workers: int
) -> Iterator[tuple[Job, list[StageResult], int | None, float]]:
    """Run ``jobs`` on ``workers`` local processes (0: here, in order); yield each as it ends.

    Yields ``(job, results, pid, cpu)``: ``pid`` is the worker's process id and ``cpu`` the
    CPU time that worker has spent on the jobs' run so far (see :func:`run_job`), or
    ``None`` and 0 for a job run in this process (whose CPU time is this process's).
    """
    if workers == 0:
        for job in jobs:
            _, _, results = run_job(job)
            yield job, results, None, 0.0
        return
    with ProcessExecutor(workers, threads_per_worker=1) as pool:
        for i, (pid, cpu, results) in pool.imap_unordered(run_job, list(jobs)):
            yield jobs[i], results, pid, cpu
