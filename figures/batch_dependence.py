"""Figure: batch-dependence noise of every normalizer against the batch size M (C22).

Mean squared change of a sample's output between the batch computation and the batch-free
one (population statistics for BN and SN, the sample alone for the others), i.i.d. N(0,1)
input of shape (M, 8, 4, 4); BN against its exact value 2 - 2 E[sigma_B(16 M)] (C1).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.normalizer_family import (
    BATCH_NORMALIZERS,
    batch_dependence_noise,
    bn_noise_exact,
    summarize,
)

NAME = "batch_dependence"


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    ms = (2, 4, 8, 16, 32) if args.quick else (2, 4, 8, 16, 32, 64, 128, 256)
    reps, batches = (6, 8) if args.quick else (16, 25)
    df = batch_dependence_noise(
        Ms=ms, repetitions=reps, batches=batches, seed=args.seed, executor=args.executor
    )
    paths = [save_data(df, args.out, NAME)]
    s = summarize(df, ["normalizer", "M"], "noise")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    m_line = np.geomspace(min(ms), max(ms), 200)
    exact_label = r"BN exact $2-2E[\sigma_B]$, $m=16M$"
    ax.plot(m_line, bn_noise_exact(16 * m_line), "-", color="0.6", lw=3, label=exact_label)
    ax.plot(m_line, 3 / (2 * 16 * m_line), "k:", lw=1, label=r"$3/(2m)$")
    styles = {"BN": ("C0", "o"), "SN": ("C3", "s")}
    for name, (color, marker) in styles.items():
        r = s[s.normalizer == name]
        ax.errorbar(
            r.M,
            r["mean"],
            yerr=r["stderr"],
            fmt=marker,
            color=color,
            ms=5,
            capsize=2,
            label=f"{name} (measured, ±1 s.e.)" if name == "BN" else "SN, equal weights (measured)",
        )
    zero = [
        n
        for n in BATCH_NORMALIZERS
        if n not in styles and float(s[s.normalizer == n]["mean"].abs().max()) == 0.0
    ]
    nonzero = [n for n in BATCH_NORMALIZERS if n not in styles and n not in zero]
    text = "exactly 0 (bit-identical output\nwhatever the other samples):\n" + ", ".join(zero)
    if nonzero:
        text += "\nNOT zero: " + ", ".join(nonzero)
    ax.text(
        0.97,
        0.97,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        bbox=dict(boxstyle="round", fc="white", ec="0.7"),
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size M")
    ax.set_ylabel("mean squared change of a sample's output")
    ax.set_title("Batch-dependence noise (C22), input N(0,1) of shape (M, 8, 4, 4)", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    paths.append(save_figure(fig, args.out, NAME))
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
