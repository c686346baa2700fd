"""C15/C16: Switchable Norm's learned IN/LN/BN weights (mean and variance) against M.

1x1-convolutional teacher-student problem of simulations.switchable_weights, Gaussian and
heavy-tailed (Student-t) pixel noise; means over seeds with 95% intervals. The C15 and C16
verdicts are ``regnorm verify --claims C15,C16``.
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt

from figures._common import figure_parser, report_written, save_data, save_figure
from simulations.regularization import seed_summary
from simulations.switchable_weights import default_run_weights

NAME = "switchable_weights"
COMPONENTS = {"bn": "BN", "in": "IN", "ln": "LN"}


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run_weights(quick=args.quick, seed=args.seed, executor=args.executor)
    noises = list(dict.fromkeys(df["noise"]))
    fig, axes = plt.subplots(
        len(noises), 4, figsize=(15, 3.6 * len(noises)), squeeze=False, layout="constrained"
    )
    Ms = sorted(df["M"].unique())
    for r, noise in enumerate(noises):
        sub = df[df["noise"] == noise]
        rho = sub["rho_1"].mean()
        for c, (layer, kind) in enumerate(((1, "mean"), (1, "var"), (2, "mean"), (2, "var"))):
            ax = axes[r, c]
            for comp, label in COMPONENTS.items():
                s = seed_summary(sub, "M", f"{kind}_{comp}_{layer}")
                ax.errorbar(
                    s["M"], s["mean"], yerr=s["half_width"], marker="o", capsize=3, label=label
                )
            ax.axhline(1 / 3, color="k", ls=":", lw=0.8)
            ax.set_xscale("log", base=2)
            ax.set_xticks(Ms, [str(int(m)) for m in Ms])
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("batch size M")
            ax.set_title(
                f"layer {layer}, {'mean' if kind == 'mean' else 'variance'} weights "
                f"({noise}, rho1={rho:.1f})",
                fontsize=9,
            )
            if c == 0:
                ax.set_ylabel("learned SN weight")
                ax.legend(fontsize=8)
    st = df.attrs["settings"]
    fig.suptitle(
        f"C15/C16: SN weights vs batch size; 1x1-conv student, {st['channels']} channels, "
        f"{st['size']}x{st['size']} images, {st['steps']} steps, lr={st['lr']}, "
        f"logit lr={st['logit_lr']}, {st['n_seeds']} seeds, 95% CI (dotted: initial 1/3)",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
