"""C11: BN opened one hidden layer at a time: learned gamma^2 and test loss against M.

Teacher-student ReLU network with BN in layer 1 only or layer 2 only (the other layer plain
SGD), as article 001 §2.4.3 does; means over seeds with 95% intervals. The C11 verdicts
(slopes per doubling of M) are ``regnorm verify --claims C11``.
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.regularization import default_run, seed_summary

NAME = "regularization_batch_size"


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("batch_size_gamma", quick=args.quick, seed=args.seed, executor=args.executor)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    Ms = sorted(df["M"].unique())
    for layer in (1, 2):
        sub = df[df["open_layer"] == layer]
        g = seed_summary(sub, "M", f"gamma2_{layer}")
        t = seed_summary(sub, "M", "test_loss")
        ax.errorbar(
            g["M"],
            g["mean"],
            yerr=g["half_width"],
            marker="o",
            capsize=3,
            label=f"BN in layer {layer}",
        )
        ax2.errorbar(
            t["M"],
            t["mean"],
            yerr=t["half_width"],
            marker="o",
            capsize=3,
            label=f"BN in layer {layer}",
        )
    for a, title in ((ax, "learned gamma^2 of the BN layer (mean over units)"), (ax2, "test loss")):
        a.set_xscale("log", base=2)
        a.set_xticks(Ms, [str(int(m)) for m in Ms])
        a.set_xlabel("batch size M")
        a.set_title(title, fontsize=10)
        a.legend(fontsize=8)
    ax2.set_ylabel("MSE (noise floor 0.25)")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C11: BN opened one layer at a time; P={st['n_train']}, {st['steps']} steps, "
        f"lr={st['lr']}, {st['n_seeds']} seeds, 95% CI",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
