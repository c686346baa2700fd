"""C10: generalization gap of plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN.

Teacher-student ReLU network at one batch size; bars are means over seeds with 95%
intervals; the right panel shows the paired differences that the C10 verdicts use (the
verdicts themselves are ``regnorm verify --claims C10``).
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.regularization import (
    C10_METHODS,
    default_run,
    paired_difference,
    seed_summary,
)

NAME = "regularization_mean_variance"
LABELS = {
    "sgd": "plain SGD",
    "wn": "WN",
    "wn_mean_bn": "WN + mean-only BN",
    "wn_variance_bn": "WN + variance-only BN",
    "bn": "BN",
}


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run(
        "mean_variance_noise", quick=args.quick, seed=args.seed, executor=args.executor
    )
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
    x = np.arange(len(C10_METHODS))
    for off, col, label in ((-0.2, "gap", "gap (test - train)"), (0.2, "test_loss", "test loss")):
        summ = seed_summary(df, "method", col).set_index("method").loc[list(C10_METHODS)]
        ax.bar(x + off, summ["mean"], 0.4, yerr=summ["half_width"], capsize=3, label=label)
    ax.set_xticks(x, [LABELS[m] for m in C10_METHODS], rotation=20, fontsize=8)
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    ax.set_title("means over seeds, 95% CI")
    gap = {m: df[df["method"] == m].sort_values("seed_index")["gap"].to_numpy() for m in LABELS}
    pairs = [
        ("bn", "wn_mean_bn"),
        ("wn_mean_bn", "wn"),
        ("bn", "wn_variance_bn"),
        ("wn_variance_bn", "wn"),
        ("bn", "wn"),
    ]
    for i, (a, b) in enumerate(pairs):
        d = paired_difference(gap[a], gap[b])
        ax2.errorbar(d["mean"], i, xerr=d["half_width"], fmt="o", capsize=3)
    ax2.axvline(0, color="k", lw=0.8)

    def paren(m):
        return f"({LABELS[m]})" if "+" in LABELS[m] else LABELS[m]

    ax2.set_yticks(range(len(pairs)), [f"{paren(a)} - {paren(b)}" for a, b in pairs], fontsize=8)
    ax2.set_xlabel("paired difference of generalization gap (C10 claims < 0)")
    ax2.set_title("paired differences over seeds, 95% CI")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C10: mean vs variance noise; M={int(df['M'].iloc[0])}, P={st['n_train']}, "
        f"{st['steps']} steps, {st['n_seeds']} seeds",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
