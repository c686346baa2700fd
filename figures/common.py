"""What every figure script shares: its arguments, how it writes files, two panel helpers.

Files are named by one rule (:mod:`figures`): :func:`save_figure` and :func:`save_data` write
``out/NAME.png`` and ``out/NAME.parquet`` (``NAME_PART`` for further tables) at every size.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

from regnorm.backend import backend_param
from regnorm.sweeps import atomic_write_bytes, atomic_write_parquet, shared_run

matplotlib.use("Agg")  # scripts only write files; never open a window

__all__ = [
    "draw_shared_run",
    "run_main",
    "dodge",
    "figure_args",
    "figure_parser",
    "out_dir",
    "report_written",
    "save_data",
    "save_figure",
    "verdict_panel",
]


def dodge(M, k: int, n: int, step: float = 0.06):
    """Batch sizes ``M`` shifted along a log2 axis for series ``k`` of ``n``.

    Series that share the same ``M`` would draw their error bars on top of each other; each
    moves by ``step`` doublings, the group centred on the true ``M``.
    """
    return M * 2.0 ** (step * (k - (n - 1) / 2))


def verdict_panel(
    ax, records, labels: list[str], xlabel: str, what: str = "paired differences"
) -> None:
    """The paired differences that claim records judge: each record's ``numeric`` with its
    95% Student-t interval ``[low, high]`` and its verdict, one row per record."""
    for i, r in enumerate(records):
        ax.errorbar(r.numeric, i, xerr=[[r.numeric - r.low], [r.high - r.numeric]], fmt="o",
                    color="k", capsize=3)  # fmt: skip
        ax.annotate(r.verdict, (r.high, i), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.axvline(0, color="k", lw=0.8)
    ax.margins(x=0.18)  # room for the verdicts written right of each interval
    ax.set_yticks(range(len(records)), labels, fontsize=8)
    ax.invert_yaxis()  # the first record on top, in the order the verdicts are listed
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_title(f"what the verdicts judge: {what}, 95% t-interval", fontsize=10)


def figure_parser(description: str) -> argparse.ArgumentParser:
    """The standard arguments: --out, --quick, --seed, --executor, --overwrite and --backend."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--executor", default=None, help="inprocess, processes[:N], dask[:N] or tcp://HOST:PORT"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="discard this script's sweep store in --out instead of resuming it",
    )
    p.add_argument(
        "--backend",
        default=None,
        metavar="SPEC",
        help="array backend: numpy (default), cupy[:INDEX] or array_api_strict[:DEVICE]; "
        "only the figures whose run takes backend= accept another than numpy",
    )
    return p


def figure_args(
    parser: argparse.ArgumentParser, argv: list[str] | None, run: Callable[..., Any]
) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parse a figure script's arguments and check ``--backend`` against its ``run``.

    Returns the parsed arguments and the keyword arguments for ``run``'s backend
    (:func:`figures.backend_check.backend_kwargs`). A bad or unsupported ``--backend`` ends
    the script with one line on stderr and exit code 2, before any work.
    """
    from figures.backend_check import BackendSpecError, backend_kwargs, check_backend_spec

    args = parser.parse_args(argv)
    try:
        kwargs = backend_kwargs(run, check_backend_spec(args.backend, args.executor))
    except BackendSpecError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return args, kwargs


def out_dir(path: str) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def save_figure(fig, out: str | Path, name: str, dpi: int = 130) -> Path:
    """Save a matplotlib figure as ``out/name.png`` atomically and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    path = out_dir(str(out)) / f"{name}.png"
    atomic_write_bytes(path, buf.getvalue())
    return path


def save_data(df: pd.DataFrame, out: str | Path, name: str) -> Path:
    """Save a DataFrame as ``out/name.parquet`` atomically."""
    path = out_dir(str(out)) / f"{name}.parquet"
    atomic_write_parquet(df, path)
    return path


def report_written(paths: list[Path], t0: float) -> None:
    """One line on stderr: the files a script wrote and the seconds since ``t0``.

    A figure script judges no claim: the verdicts are printed by ``regnorm verify`` and
    written by ``regnorm reproduce``.
    """
    names = ", ".join(str(p) for p in paths)
    print(f"wrote {names} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


def run_main(run: Callable[..., list[Path]], description: str, argv=None) -> int:
    """The command line of a figure script: parse the standard arguments, call ``run``."""
    args, backend = figure_args(figure_parser(description), argv, run)
    t0 = time.perf_counter()
    paths = run(Path(args.out), quick=args.quick, seed=args.seed, executor=args.executor, **backend)
    report_written(paths, t0)
    return 0


def draw_shared_run(
    experiment: Callable[..., pd.DataFrame],
    plot: Callable[[pd.DataFrame], Any],
    name: str,
    out: str | Path,
    *,
    quick: bool,
    seed: int,
    executor: Any,
    backend: Any,
) -> list[Path]:
    """Run (or reuse) ``experiment`` through :func:`regnorm.sweeps.shared_run`, draw it, and write
    ``out/name.png`` and ``out/name.parquet``; the figure of a run its claims checks share.

    ``backend`` (None: NumPy; a spec such as ``"cupy"`` or ``"array_api_strict:device1"``) is
    where the experiment runs (with a device backend, ``executor`` must be None or
    ``"inprocess"``). It is passed as the spec string the checks pass, and only off NumPy, so a
    figure and its checks find the same shared run.
    """
    on = backend_param(backend)
    df = shared_run(experiment, quick=quick, seed=seed, executor=executor, **on)
    return [save_figure(plot(df), out, name), save_data(df, out, name)]
