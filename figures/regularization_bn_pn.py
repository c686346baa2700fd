"""C9: BN against PN + gamma decay (zeta of C4 from 10k samples) against the batch size.

Teacher-student ReLU network (simulations.relu_network); train loss, test loss and
generalization gap (test - train) with 95% intervals over seeds (the four methods offset a
little along M; the label-noise floor on the test loss only); PN without gamma decay as the
control. Right: the paired differences of test loss that the C9 verdicts judge, with their
95% t-intervals (printed by ``regnorm verify --claims C9``).
"""

from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt

from figures._common import (
    dodge,
    figure_parser,
    report_written,
    save_data,
    save_figure,
    verdict_panel,
)
from simulations.regularization import c9_records, default_run, seed_summary

NAME = "regularization_bn_pn"
LABELS = {
    "bn": "BN",
    "pn_gamma_decay": r"PN + $\gamma$ decay (C4, Gauss-Newton $A''$)",
    "pn_gamma_decay_relu": r"PN + $\gamma$ decay (C4, $A''$ = activation prob.)",
    "pn": r"PN, no $\gamma$ decay",
}


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("bn_vs_pn", quick=args.quick, seed=args.seed, executor=args.executor)
    fig, axes = plt.subplots(
        1, 4, figsize=(19, 4.4), layout="constrained", gridspec_kw={"width_ratios": [1, 1, 1, 1.1]}
    )
    Ms = sorted(df["M"].unique())
    for ax, col, title in zip(
        axes,
        ("train_loss", "test_loss", "gap"),
        ("train loss", "test loss", "generalization gap (test - train)"),
        strict=False,
    ):
        summ = seed_summary(df, ["method", "M"], col)
        for k, (method, label) in enumerate(LABELS.items()):
            s = summ[summ["method"] == method]
            ax.errorbar(dodge(s["M"], k, len(LABELS)), s["mean"], yerr=s["half_width"],
                        marker="o", ms=4, capsize=3, label=label)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xticks(Ms, [str(m) for m in Ms])
        ax.set_xlabel("batch size M")
        ax.set_ylabel(f"{title.split(' (')[0]} (MSE)")
        ax.set_title(title)
    axes[1].axhline(df.attrs["settings"]["delta"] ** 2, color="k", ls=":", lw=1,
                    label="noise floor")  # fmt: skip
    # below the panels: inside any of them it would cover error bars
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=8)
    records = c9_records(df)
    curvature = {"gauss_newton": "Gauss-Newton", "relu": "activation prob."}
    verdict_panel(
        axes[3],
        records,
        [f"M={r.params['M']}, {curvature[r.params['curvature']]}" for r in records],
        r"test loss PN + $\gamma$ decay $-$ BN (C9 claims $\leq$ 0 within a margin)",
    )
    axes[3].set_ylabel(r"batch size, $A''$ of $\zeta$")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C9: BN vs PN + $\\gamma$ decay; 2-layer ReLU student (d={st['input_dim']}, "
        f"H={st['width']}), P={st['n_train']}, {st['steps']} SGD steps, lr={st['lr']}, "
        f"{st['n_seeds']} seeds",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
