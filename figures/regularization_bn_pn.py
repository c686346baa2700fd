"""C9: BN against PN + gamma decay (zeta of C4 from 10k samples) against the batch size.

Teacher-student ReLU network (simulations.relu_network); train loss, test loss and
generalization gap (test - train) with 95% intervals over seeds; PN without gamma decay as
the control. The C9 verdicts are ``regnorm verify --claims C9``.
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.regularization import default_run, seed_summary

NAME = "regularization_bn_pn"
LABELS = {
    "bn": "BN",
    "pn_gamma_decay": "PN + gamma decay (C4, Gauss-Newton A'')",
    "pn_gamma_decay_relu": "PN + gamma decay (C4, A'' = activation prob.)",
    "pn": "PN, no gamma decay",
}


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("bn_vs_pn", quick=args.quick, seed=args.seed, executor=args.executor)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    for ax, col, title in zip(
        axes,
        ("train_loss", "test_loss", "gap"),
        ("train loss", "test loss", "generalization gap (test - train)"),
        strict=True,
    ):
        summ = seed_summary(df, ["method", "M"], col)
        for method, label in LABELS.items():
            s = summ[summ["method"] == method]
            ax.errorbar(s["M"], s["mean"], yerr=s["half_width"], marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(df["M"].unique()), [str(m) for m in sorted(df["M"].unique())])
        ax.set_xlabel("batch size M")
        ax.set_title(title)
    axes[0].set_ylabel("MSE (noise floor of test loss: 0.25)")
    axes[0].legend(fontsize=8, loc="upper right")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C9: BN vs PN + gamma decay; 2-layer ReLU student (d={st['input_dim']}, "
        f"H={st['width']}), P={st['n_train']}, {st['steps']} SGD steps, lr={st['lr']}, "
        f"{st['n_seeds']} seeds, 95% CI",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
