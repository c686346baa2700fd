"""Figure: the noise of batch statistics (claims C1 and C3).

Left: ``M * error`` of batch standardization of ``N(0,1)`` data against ``M`` (log axis) for
each convention (x inside/outside the batch, biased/unbiased std): Monte-Carlo with error bars
(two draws per batch) over the exact curves, and the ``3/(2M)`` asymptote (``M * error = 1.5``).
Middle and right: the conditional error ``M * E[(h_hat - h_bar)^2 | z]`` against ``z`` at
``M = 32`` for several input distributions, x inside (middle) and outside (right) the batch,
with the first-order C3 prediction (dashed) and the exact Gaussian curve (dotted; inside the
batch by 2-D quadrature).

Run: ``python -m figures.bn_noise --out results [--quick]``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from figures._common import figure_parser, report_written, save_data, save_figure
from regnorm.batch_noise import (
    conditional_error,
    gaussian_conditional_error,
    standardization_error,
)
from simulations.batch_noise import (
    MIN_M_OUTSIDE,
    conditional_error_mc,
    gaussian_standardization_error,
)
from simulations.input_distributions import input_distribution

NAME = "bn_noise"
M_GRID = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONVENTIONS = ((True, 0), (True, 1), (False, 0), (False, 1))
INPUTS = (("gaussian", None), ("uniform", None), ("laplace", None), ("student_t", 10.0))
M_COND = 32


def _label(inside: bool, ddof: int) -> str:
    return f"x {'inside' if inside else 'outside'}, ddof={ddof}"


def c1_data(trials: int, seed: int, executor) -> pd.DataFrame:
    rows = []
    for inside, ddof in CONVENTIONS:
        for M in M_GRID:
            if not inside and M < MIN_M_OUTSIDE:
                continue
            ss = np.random.SeedSequence(seed, spawn_key=(1, M, int(inside), ddof))
            est = gaussian_standardization_error(
                M, trials, inside=inside, ddof=ddof, rng=ss, executor=executor
            )
            rows.append(
                {
                    "M": M,
                    "inside": inside,
                    "ddof": ddof,
                    "estimate": est.estimate,
                    "stderr": est.stderr,
                    "exact": standardization_error(M, inside=inside, ddof=ddof),
                    "trials": trials,
                }
            )
    return pd.DataFrame(rows)


def c3_data(trials_gauss: int, trials_other: int, seed: int, executor) -> pd.DataFrame:
    zs = np.linspace(0.0, 3.5, 15)
    rows = []
    for k, (name, df) in enumerate(INPUTS):
        dist = input_distribution(name, df=df)
        for inside in (True, False):
            trials = trials_gauss if name == "gaussian" else trials_other
            ss = np.random.SeedSequence(seed, spawn_key=(3, k, int(inside)))
            est = conditional_error_mc(
                zs,
                M_COND,
                trials,
                distribution=name,
                df=df,
                inside=inside,
                rng=ss,
                executor=executor,
            )
            lo, hi = ((b - dist.mean) / dist.std for b in dist.frozen.support())
            for z, m, se in zip(zs, est.estimate, est.stderr, strict=True):
                if not lo <= z <= hi:
                    continue  # a value the input never takes (uniform: |z| <= sqrt(3))
                rows.append(
                    {
                        "distribution": dist.label,
                        "rho": dist.excess_kurtosis,
                        "inside": inside,
                        "M": M_COND,
                        "z": z,
                        "estimate": m,
                        "stderr": se,
                        "first_order": conditional_error(z, M_COND, rho=dist.excess_kurtosis),
                        "trials": trials,
                    }
                )
    return pd.DataFrame(rows)


def plot(c1: pd.DataFrame, c3: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    Ms = np.unique(np.round(np.geomspace(2, 1024, 200)).astype(int))
    for c, (inside, ddof) in zip(colors, CONVENTIONS, strict=False):
        m = Ms if inside else Ms[Ms >= MIN_M_OUTSIDE]
        exact = m * standardization_error(m, inside=inside, ddof=ddof)
        ax.plot(m, exact, color=c, lw=1.2, label=_label(inside, ddof))
        d = c1[(c1.inside == inside) & (c1.ddof == ddof)]
        ax.errorbar(
            d.M, d.M * d.estimate, yerr=5 * d.M * d.stderr, fmt="o", ms=4, color=c, capsize=3
        )
    ax.errorbar(
        [],
        [],
        yerr=[],
        fmt="o",
        color="gray",
        capsize=3,
        label="Monte-Carlo, ±5 s.e. (lines: exact)",
    )
    ax.axhline(1.5, color="k", ls="--", lw=1, label="3/(2M) asymptote: M × error = 1.5")
    ax.set_xscale("log", base=2)
    ax.set_ylim(1.3, 3.3)
    ax.set_xlabel("batch size M")
    ax.set_ylabel("M × E[((x - μ_B)/σ_B - x)²]")
    ax.set_title("C1: batch-standardization error, N(0,1) input")
    ax.text(
        0.35,
        0.45,
        "x outside: infinite error for M ≤ 3,\ninfinite variance for M ≤ 5",
        transform=ax.transAxes,
        fontsize=7,
        va="bottom",
    )
    ax.legend(fontsize=7.5, loc="upper right")
    for ax, inside in zip(axes[1:], (True, False), strict=True):
        d_all = c3[c3.inside == inside]
        for c, (label, d) in zip(colors, d_all.groupby("distribution", sort=False), strict=False):
            ax.fill_between(
                d.z,
                d.M * (d.estimate - 5 * d.stderr),
                d.M * (d.estimate + 5 * d.stderr),
                color=c,
                alpha=0.25,
            )
            ax.plot(
                d.z,
                d.M * d.estimate,
                "o-",
                ms=3,
                color=c,
                label=f"Monte-Carlo, {label} (ρ={d.rho.iloc[0]:.2g})",
            )
            ax.plot(d.z, d.M * d.first_order, "--", color=c, lw=1)
        z = np.linspace(0, 3.5, 36 if inside else 100)
        where = "inside" if inside else "outside"
        ax.plot(
            z,
            M_COND * gaussian_conditional_error(z, M_COND, inside=inside),
            ":",
            color="k",
            lw=1.5,
            label=f"exact, Gaussian ({where})",
        )
        ax.plot([], [], "--", color="gray", label="first-order C3 prediction")
        ax.set_xlabel("z = (h - μ_P)/σ_P")
        ax.set_ylabel(f"M × E[(ĥ - h̄)² | z],  M = {M_COND}")
        ax.set_title(f"C3: conditional error, x {where} the batch (bands ±5 s.e.)")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        c1 = c1_data(200_000, args.seed, args.executor)
        c3 = c3_data(200_000, 20_000, args.seed, args.executor)
    else:
        c1 = c1_data(20_000_000, args.seed, args.executor)
        c3 = c3_data(5_000_000, 500_000, args.seed, args.executor)
    paths = [save_data(c1, args.out, f"{NAME}_c1"), save_data(c3, args.out, f"{NAME}_c3")]
    paths.append(save_figure(plot(c1, c3), args.out, NAME))
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
