"""C12: dropout after BN (0.125) at large batch, dropout before BN, WN + dropout (0.25).

Teacher-student ReLU network; test losses (means over seeds, 95% intervals). The C12
verdicts (paired differences) are ``regnorm verify --claims C12``.
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.regularization import default_run, seed_summary

NAME = "regularization_dropout"


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("dropout_experiment", quick=args.quick, seed=args.seed, executor=args.executor)
    labels = list(dict.fromkeys(df["label"]))
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    x = np.arange(len(labels))
    for off, col, name in ((-0.2, "test_loss", "test loss"), (0.2, "gap", "gap (test - train)")):
        summ = seed_summary(df, "label", col).set_index("label").loc[labels]
        ax.bar(x + off, summ["mean"], 0.4, yerr=summ["half_width"], capsize=3, label=name)
    ax.axhline(0.25, color="k", ls=":", lw=0.8, label="noise floor of the test loss")
    ax.set_xticks(x, [lab.replace(", ", "\n").replace(" + ", "\n+ ") for lab in labels], fontsize=8)
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    st = df.attrs["settings"]
    ax.set_title(
        f"C12: dropout and BN/WN; P={st['n_train']}, {st['steps']} steps, lr={st['lr']}, "
        f"{st['n_seeds']} seeds, 95% CI",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
