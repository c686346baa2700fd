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

from figures._common import (
    figure_parser,
    loss_bars,
    report_written,
    save_data,
    save_figure,
    verdict_panel,
)
from simulations.regularization import (
    C10_METHODS,
    c10_records,
    default_run,
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
    loss_bars(ax, df, "method", list(C10_METHODS))
    x = np.arange(len(C10_METHODS))
    ax.set_xticks(x, [LABELS[m] for m in C10_METHODS], rotation=20, fontsize=8)
    records = c10_records(df)

    def pair(r):
        mid = f"({LABELS[r.params['method']]})"
        return f"BN - {mid}" if r.params["compared_with"] == "bn" else f"{mid} - WN"

    verdict_panel(
        ax2,
        records,
        [pair(r) for r in records],
        "paired difference of generalization gap (MSE; C10 claims < 0)",
    )
    ax2.set_ylabel("difference of gaps")
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
