"""Figure: teacher-student learning curves against the random-matrix closed forms (C5-C8).

Article 001 §2.3's figure: generalization error against ``alpha = P/N`` in [0.1, 3] for
``delta^2 = 0.25``, ``M = 32``: the pseudo-inverse (plain SGD) closed form, WN + gamma decay
(ridge) for ``zeta = 1/(2M)`` and for the optimal ``zeta = delta^2``, simulated
pseudo-inverse and ridge points, and the BN student (points with error bars, inference with
population and with training-set statistics). A second panel shows the fitted effective
``zeta`` of the BN student against the four candidate predictions (C8).

Sizes: ``--quick`` N=128 (8 alpha, 2 repetitions, under a minute); default N=512 (10 alpha,
5 repetitions); ``--full`` N=4096 (10 alpha, 5 repetitions, the article's scale; one worker
process per core unless ``--executor`` says otherwise). Every size writes the same files,
``teacher_student.png``, ``.parquet`` and ``_c8.parquet``. Default and full go through
:func:`regnorm.sweeps.sweep` with a store of their own in ``--out``
(``teacher_student_store_<size>``) and resume if interrupted.

Run: ``python -m figures.teacher_student --out results [--quick | --full]``, or
:func:`run` from Python. The plot reads ``N``, ``M`` and ``delta2`` from the sweep's table.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from figures.common import (
    figure_args,
    figure_parser,
    out_dir,
    report_written,
    save_data,
    save_figure,
)
from regnorm import learning_curves as lc
from simulations.teacher_student import (
    DELTA2_PAPER,
    M_PAPER,
    bn_sweep,
    c8_summary,
    sweep_setting,
)

NAME = "teacher_student"

SIZES = {
    "quick": dict(N=128, alphas=[0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.0], repetitions=2),
    "default": dict(
        N=512, alphas=[0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0], repetitions=5
    ),
    # alpha = 1 itself is left out at full scale: there BN's effective ridge parameter is
    # ~0.004 and the SGD noise of any affordable step competes with it (see the README)
    "full": dict(
        N=4096, alphas=[0.1, 0.3, 0.5, 0.7, 0.85, 1.15, 1.5, 2.0, 2.5, 3.0], repetitions=5
    ),
}


#: top of the left panel; simulated means above it are marked at the edge and listed
YMAX = 1.6
SERIES = (
    ("eps_pinv", dict(color="C0", marker="o", mfc="none"), "pseudo-inverse (sim.)"),
    ("eps_ridge_M", dict(color="C2", marker="s", mfc="none"), r"ridge $1/(2M)$ (sim.)"),
    ("eps_ridge_opt", dict(color="C3", marker="^", mfc="none"), r"ridge $\delta^2$ (sim.)"),
    ("eps_batch_norm", dict(color="k", marker="s"), "BN student, population stats"),
    ("eps_batch_norm_trainstats", dict(color="C1", marker="D"), "BN student, training-set stats"),
)


def _unconverged(df) -> dict[float, tuple[int, int]]:
    """Per alpha where not every data set converged: (converged, data sets)."""
    g = df.groupby("alpha")["converged"]
    n_ok, n = g.sum(), g.size()
    return {float(a): (int(n_ok[a]), int(n[a])) for a in n.index if n_ok[a] < n[a]}


def _agg(df, col):
    g = df.groupby("alpha")[col]
    return g.mean().index.to_numpy(), g.mean().to_numpy(), g.sem().to_numpy()


def plot(df, summary):
    """The figure of a :func:`~simulations.teacher_student.bn_sweep` table and its
    :func:`~simulations.teacher_student.c8_summary`, at the sweep's own ``N``, ``M`` and
    ``delta2``."""
    import matplotlib.pyplot as plt

    N, M = int(sweep_setting(df, "N")), int(sweep_setting(df, "M"))
    delta2 = float(sweep_setting(df, "delta2"))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    a = np.linspace(0.1, 3.0, 600)
    a = a[np.abs(a - 1.0) > 1e-9]
    sgd = lc.eps_sgd(a, delta2)
    ax.plot(a, np.where(sgd < 5, sgd, np.nan), "C0-", lw=1.6, label="pseudo-inverse / SGD (C5)")
    ax.plot(
        a,
        lc.eps_wn(a, 1 / (2 * M), delta2),
        "C2-",
        lw=1.6,
        label=r"WN + $\gamma$ decay, $\zeta=1/(2M)$ (C6)",
    )
    ax.plot(
        a,
        lc.eps_wn(a, delta2, delta2),
        "C3-",
        lw=1.6,
        label=r"WN + $\gamma$ decay, optimal $\zeta=\delta^2$ (C7)",
    )
    ax.plot(
        a,
        lc.eps_wn(a, 3 * a / (2 * M), delta2),
        "C4:",
        lw=1.3,
        label=r"WN + $\gamma$ decay, $\zeta=3\alpha/(2M)$",
    )
    ax.plot(
        a,
        lc.eps_wn(a, a / (2 * M), delta2),
        "C6--",
        lw=1.3,
        label=r"WN + $\gamma$ decay, $\zeta=\alpha/(2M)$ (best fit)",
    )
    listed = []
    for col, style, label in SERIES:
        x, m, s = _agg(df, col)
        ok = m < YMAX
        ax.errorbar(x[ok], m[ok], yerr=s[ok], ls="none", ms=5, capsize=2.5, label=label, **style)
        # off-scale points: a mark at the top edge, the value listed in the panel
        ax.plot(x[~ok], np.full((~ok).sum(), YMAX), ls="none", marker="^", ms=6,
                color=style["color"], clip_on=False)  # fmt: skip
        listed += [
            (f"{label}, α={xi:g}: {mi:.3g} ± {si:.2g}", style["color"])
            for xi, mi, si in zip(x[~ok], m[~ok], s[~ok], strict=True)
        ]
    for k, (text, color) in enumerate(listed):
        ax.text(0.98, 0.50 - 0.05 * k, text, transform=ax.transAxes, ha="right", fontsize=7,
                color=color)  # fmt: skip
    few = _unconverged(df)
    for xi, (n_ok, n) in few.items():
        ax.annotate(f"{n_ok}/{n} data sets\nconverged", (xi, 0.02), xytext=(xi, 0.25),
                    fontsize=7, color="C3", ha="center",
                    arrowprops=dict(arrowstyle="->", color="C3", lw=0.8))  # fmt: skip
    ax.set_ylim(0, YMAX)
    ax.set_xlim(0, 3.1)
    ax.set_xlabel(r"$\alpha = P/N$")
    ax.set_ylabel(r"generalization error $\|v - w^*\|^2$")
    repetitions = int(df.groupby("alpha").size().min())
    ax.set_title(
        rf"Teacher-student, $N={N}$, $M={M}$, $\delta^2={delta2}$ "
        rf"({repetitions} data sets, $\pm$1 s.e.)"
    )
    ax.legend(fontsize=7, loc="upper right")
    if listed:
        ax.text(
            0.02,
            0.02,
            "▲ at the top: points above the axis (values listed, mean ± s.e.)",
            transform=ax.transAxes,
            fontsize=7,
            color="0.3",
        )

    bn = summary[summary["variant"] == "batch_norm"]
    n_worse = 0
    for conv, style in (
        ("population", dict(color="k", marker="s")),
        ("training", dict(color="C1", marker="D")),
    ):
        b = bn[bn["inference"] == conv]
        # matched zeta is 0 only when BN's error is at or above the least regularized ridge
        # on the same data: "worse than the pseudo-inverse", not a measured zero
        worse = (b["zeta_pair"] <= 0).to_numpy()
        g = b[~worse]
        err = np.stack([g["zeta_pair"] - g["zeta_pair_lo"], g["zeta_pair_hi"] - g["zeta_pair"]])
        bx.errorbar(
            g["alpha"],
            g["zeta_pair"],
            yerr=np.maximum(err, 0.0),
            ls="none",
            capsize=2.5,
            ms=5,
            label=f"BN, {conv} stats (95% t-interval)",
            **style,
        )
        if worse.any():
            bx.plot(b["alpha"][worse], np.zeros(worse.sum()), ls="none", ms=8, mfc="none",
                    clip_on=False, zorder=5, **style)  # fmt: skip
            n_worse += int(worse.sum())
    if n_worse:
        label = "open at 0: BN worse than the pseudo-inverse\n(no ridge matches)"
        bx.plot([], [], ls="none", marker="o", mfc="none", color="0.3", ms=7, label=label)
    for xi, (n_ok, n) in few.items():
        bx.annotate(f"{n_ok}/{n} converged", (xi, 0.0), xytext=(xi, 0.6), fontsize=7,
                    color="C3", ha="center", textcoords=("data", "axes fraction"),
                    arrowprops=dict(arrowstyle="->", color="C3", lw=0.8))  # fmt: skip
    xs = np.linspace(0.1, 3.0, 50)
    names = {
        "half_M": r"$1/(2M)$",
        "alpha_half_M": r"$\alpha/(2M)$",
        "three_half_M": r"$3/(2M)$",
        "alpha_three_half_M": r"$3\alpha/(2M)$",
    }
    for k, (key, lab) in enumerate(names.items()):
        bx.plot(xs, [lc.candidate_zetas(x, M)[key] for x in xs], f"C{k + 5}--", lw=1.2, label=lab)
    bx.set_xlabel(r"$\alpha$")
    bx.set_ylabel(r"effective $\zeta$ (ridge matched on the same data)")
    bx.set_title("C8: which gamma decay does BN follow?")
    bx.set_ylim(bottom=0)
    bx.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def run(
    out: Path,
    *,
    quick: bool = False,
    seed: int = 0,
    executor=None,
    full: bool = False,
    overwrite: bool = False,
    backend=None,
) -> list[Path]:
    """Compute the sweep, draw the figure and write ``out/teacher_student{,_c8}.parquet`` and
    ``out/teacher_student.png``; returns the paths written.

    Parameters
    ----------
    out : Path
        Output folder (created if missing).
    quick, full : bool
        The size (:data:`SIZES`): ``quick``, ``full`` or (neither) ``default``; not both.
    seed : int
        Root seed of the sweep.
    executor : optional
        Executor spec of :func:`regnorm.sweeps.sweep` (``full`` defaults to one worker
        process per core, each with one BLAS thread).
    overwrite : bool
        Discard this figure's sweep store in ``out`` (default and full sizes resume from it).
    backend : spec or Backend, optional
        Where the data sets are drawn and the students trained
        (:func:`regnorm.backend.resolve_backend`; None: NumPy). On a device backend the
        sweep runs in this process unless ``executor`` says otherwise.
    """
    if quick and full:
        raise ValueError("quick and full are two different sizes: give at most one")
    mode = "quick" if quick else ("full" if full else "default")
    size = SIZES[mode]
    out = out_dir(str(out))
    store = None if mode == "quick" else out / f"{NAME}_store_{mode}"
    if store is not None and overwrite and store.exists():
        # an earlier run's half-finished sweep is part of the run being discarded
        shutil.rmtree(store)
    if executor is None and mode == "full" and backend is None:
        executor = "processes"
    df = bn_sweep(
        size["N"],
        size["alphas"],
        size["repetitions"],
        M=M_PAPER,
        delta2=DELTA2_PAPER,
        seed=seed,
        executor=executor,
        store=store,
        backend=backend,
    )
    summary = c8_summary(df)
    paths = [save_data(df, out, NAME), save_data(summary, out, f"{NAME}_c8")]
    paths.append(save_figure(plot(df, summary), out, NAME))
    return paths


def main(argv=None) -> int:
    p = figure_parser(__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="N=4096, 10 alpha, 5 repetitions")
    args, backend = figure_args(p, argv, run)
    if args.quick and args.full:
        p.error("--quick and --full are two different sizes: give at most one")
    t0 = time.perf_counter()
    paths = run(
        Path(args.out),
        quick=args.quick,
        seed=args.seed,
        executor=args.executor,
        full=args.full,
        overwrite=args.overwrite,
        **backend,
    )
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
