"""C12: dropout after BN (0.125) at large batch, dropout before BN, WN + dropout (0.25).

Teacher-student ReLU network. Left: test loss and gap, means over seeds with 95% intervals
(the label-noise floor drawn across the test-loss bars only). Right: the paired differences
of test loss that the C12 verdicts judge, with their 95% t-intervals and verdicts (printed
by ``regnorm verify --claims C12``).
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
from simulations.regularization import c12_records, default_run

NAME = "regularization_dropout"


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("dropout_experiment", quick=args.quick, seed=args.seed, executor=args.executor)
    labels = list(dict.fromkeys(df["label"]))
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(15, 4.8), layout="constrained", gridspec_kw={"width_ratios": [3, 2]}
    )
    loss_bars(ax, df, "label", labels)
    x = np.arange(len(labels))
    ax.set_xticks(x, [lab.replace(", ", "\n").replace(" + ", "\n+ ") for lab in labels], fontsize=8)
    records = c12_records(df)
    verdict_panel(
        bx,
        records,
        [r.params["compared"].replace(" vs ", "\n  − ") for r in records],
        "paired difference of test loss (MSE)",
    )
    bx.set_ylabel("difference of test losses")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C12: dropout and BN/WN; P={st['n_train']}, {st['steps']} steps, lr={st['lr']}, "
        f"{st['n_seeds']} seeds",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
