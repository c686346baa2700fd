"""Figure: the noise of batch statistics (claims C1 and C3).

Left: ``M * error`` of batch standardization of ``N(0,1)`` data against ``M`` (log axis) for
each convention (x inside/outside the batch, biased/unbiased std): Monte-Carlo (two draws per
batch) over the exact curves, and the ``3/(2M)`` asymptote (``M * error = 1.5``); below it
the residual Monte-Carlo minus exact with +-2 s.e. bars (too small to see on the top scale).
Values whose exact curve leaves the frame are marked at its edge and listed.
Middle and right: the conditional error ``M * E[(h_hat - h_bar)^2 | z]`` against ``z`` at
``M = 32`` for several input distributions, x inside (middle) and outside (right) the batch,
with the first-order C3 prediction (dashed) and the exact Gaussian curve (dotted; inside the
batch by 2-D quadrature). Bands +-2 s.e.; the uniform input's curves end at the last grid
``z`` below sqrt(3), the largest ``|z|`` a unit-variance uniform takes.

Run: ``python -m figures.bn_noise --out results [--quick]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from figures.common import (
    run_main,
    save_data,
    save_figure,
)
from regnorm.batch_noise import gaussian_conditional_error, standardization_error
from regnorm.seeding import seed_sequence
from simulations.batch_noise import (
    CONVENTIONS,
    conditional_error_rows,
    input_distribution,
    standardization_error_rows,
)

NAME = "bn_noise"
INPUTS = (("gaussian", None), ("uniform", None), ("laplace", None), ("student_t", 10.0))
M_COND = 32
#: The first word of each panel's streams (C1: 1, C3: 3): the panels never share batches.
C1_STREAM, C3_STREAM = 1, 3


def _label(inside: bool, ddof: int) -> str:
    return f"x {'inside' if inside else 'outside'}, ddof={ddof}"


def c1_data(trials: int, seed: int, executor, backend=None) -> pd.DataFrame:
    """The C1 panel: two-draw Monte-Carlo and exact error per convention and ``M``."""
    rows = standardization_error_rows(
        trials,
        lambda M, inside, ddof: seed_sequence(seed, C1_STREAM, M, int(inside), ddof),
        executor=executor,
        backend=backend,
    )
    return pd.DataFrame(rows)


def c3_data(
    trials_gauss: int, trials_other: int, seed: int, executor, backend=None
) -> pd.DataFrame:
    """The C3 panels: the conditional error at ``M_COND`` per input and convention."""
    zs = np.linspace(0.0, 3.5, 15)
    rows = []
    for k, (name, df) in enumerate(INPUTS):
        for inside in (True, False):
            rows += conditional_error_rows(
                zs,
                M_COND,
                trials_gauss if name == "gaussian" else trials_other,
                input_distribution(name, df=df),
                inside=inside,
                rng=seed_sequence(seed, C3_STREAM, k, int(inside)),
                executor=executor,
                backend=backend,
            )
    return pd.DataFrame(rows)


#: error bars and bands: +-SE_BARS standard errors of the Monte-Carlo estimate
SE_BARS = 2
#: top of the C1 panel; exact values and estimates above it are marked and listed
C1_TOP = 3.3


#: x outside the batch: the exact error is finite from M = 4 (E[1/sigma_B^2] < inf needs
#: M - 1 > 2), the Monte-Carlo's variance only from MIN_M_OUTSIDE
M_EXACT_OUTSIDE = 4


def _exact_start(inside: bool) -> int:
    return 2 if inside else M_EXACT_OUTSIDE


def off_frame(c1: pd.DataFrame, top: float = C1_TOP) -> list[str]:
    """One line per convention with values above ``top``, the C1 panel's upper edge.

    Listed: the exact ``M * error`` at the curve's first ``M`` if it starts above ``top``,
    and every Monte-Carlo estimate above ``top`` (drawn at the edge).
    """
    lines = []
    for inside, ddof in CONVENTIONS:
        m0 = _exact_start(inside)
        start = m0 * standardization_error(m0, inside=inside, ddof=ddof)
        d = c1[(c1.inside == inside) & (c1.ddof == ddof) & (c1.M * c1.estimate > top)]
        parts = [f"exact {start:.3g} at M={m0}"] if start > top else []
        parts += [
            f"MC {r.M * r.estimate:.3g} ± {SE_BARS * r.M * r.stderr:.2g} at M={r.M}"
            for r in d.itertuples()
        ]
        if parts:
            lines.append(f"{_label(inside, ddof)}: " + "; ".join(parts))
    return lines


def _support_note(d: pd.DataFrame) -> str:
    """Why a distribution's curve ends early: the largest ``z`` its input can take."""
    hi = d.z.max()
    if hi >= 3.5:
        return ""
    return f"\n  ends at z={hi:g}: |z| ≤ √3 ≈ 1.73, larger z impossible"


def plot(c1: pd.DataFrame, c3: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(16, 5.6))
    grid = fig.add_gridspec(2, 3, height_ratios=[3, 1.3], hspace=0.08)
    ax = fig.add_subplot(grid[0, 0])
    rx = fig.add_subplot(grid[1, 0], sharex=ax)
    axes = [ax, fig.add_subplot(grid[:, 1]), fig.add_subplot(grid[:, 2])]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    Ms = np.unique(np.round(np.geomspace(2, 1024, 200)).astype(int))
    for k, (c, (inside, ddof)) in enumerate(zip(colors, CONVENTIONS, strict=False)):
        m = Ms[Ms >= _exact_start(inside)]
        exact = m * standardization_error(m, inside=inside, ddof=ddof)
        ax.plot(m, exact, color=c, lw=1.2, label=_label(inside, ddof))
        if exact[0] > C1_TOP:  # offset so that conventions starting at one M stay apart
            ax.plot(m[0] * 2 ** (0.1 * (ddof - 0.5)), C1_TOP, "^", ms=7, color=c, clip_on=False)
        d = c1[(c1.inside == inside) & (c1.ddof == ddof)]
        ax.plot(d.M, np.minimum(d.M * d.estimate, C1_TOP), "o", ms=3.5, color=c, clip_on=False)
        # the bars are far smaller than the markers above: shown on the residual scale,
        # each convention offset a little along M so that they do not hide each other
        rx.errorbar(
            d.M * 2 ** (0.06 * (k - 1.5)),
            d.M * (d.estimate - d.exact),
            yerr=SE_BARS * d.M * d.stderr,
            fmt="o",
            ms=3,
            color=c,
            capsize=2,
        )
    rx.axhline(0, color="k", lw=0.8)
    ax.plot([], [], "o", ms=3.5, color="gray", label="Monte-Carlo (lines: exact)")
    ax.plot([], [], "^", ms=7, color="gray", label="exact curve starts above the frame")
    ax.axhline(1.5, color="k", ls="--", lw=1, label="3/(2M) asymptote: M × error = 1.5")
    ax.set_xscale("log", base=2)
    ax.set_ylim(1.3, C1_TOP)
    ax.tick_params(labelbottom=False)
    rx.set_xlabel("batch size M")
    rx.set_ylabel(f"M × (MC − exact)\n±{SE_BARS} s.e.", fontsize=8)
    ax.set_ylabel("M × E[((x - μ_B)/σ_B - x)²]")
    ax.set_title("C1: batch-standardization error, N(0,1) input")
    lines = off_frame(c1)
    ax.text(
        0.22,
        0.3,
        "x outside: infinite error for M ≤ 3,\ninfinite variance for M ≤ 5"
        + ("\n▲ above the frame:\n" + "\n".join(lines) if lines else ""),
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
                d.M * (d.estimate - SE_BARS * d.stderr),
                d.M * (d.estimate + SE_BARS * d.stderr),
                color=c,
                alpha=0.25,
            )
            ax.plot(
                d.z,
                d.M * d.estimate,
                "o-",
                ms=3,
                color=c,
                label=f"Monte-Carlo, {label} (ρ={d.rho.iloc[0]:.2g})" + _support_note(d),
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
        ax.set_title(f"C3: conditional error, x {where} the batch\n(bands ±{SE_BARS} s.e.)")
        ax.legend(fontsize=7, loc="upper left")
    fig.subplots_adjust(wspace=0.25)
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Compute the figure's data, draw it, and write ``out/bn_noise{_c1,_c3}.parquet`` and
    ``out/bn_noise.png``; returns the paths written.

    ``backend`` (None: NumPy; ``"cupy"``, ``"array_api_strict:device1"`` ...) is where the
    Monte-Carlo batches are drawn and reduced (see :mod:`simulations.batch_noise.estimators`);
    with a device backend ``executor`` must be None or ``"inprocess"``.
    """
    if quick:
        c1 = c1_data(200_000, seed, executor, backend)
        c3 = c3_data(200_000, 20_000, seed, executor, backend)
    else:
        c1 = c1_data(20_000_000, seed, executor, backend)
        c3 = c3_data(5_000_000, 500_000, seed, executor, backend)
    paths = [save_data(c1, out, f"{NAME}_c1"), save_data(c3, out, f"{NAME}_c3")]
    paths.append(save_figure(plot(c1, c3), out, NAME))
    return paths


def main(argv=None) -> int:
    return run_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
