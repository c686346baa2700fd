"""C11: BN opened one hidden layer at a time: learned gamma^2 and test loss against M.

Teacher-student ReLU network with BN in layer 1 only or layer 2 only (the other layer plain
SGD), as article 001 §2.4.3 does; means over seeds with 95% intervals (the two layers offset
a little along M), the label-noise floor on the test loss. Right: what the C11 verdicts
judge, the per-seed slopes per doubling of M with their 95% t-intervals (printed by
``regnorm verify --claims C11``).
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
from simulations.regularization import c11_records, default_run, seed_summary

NAME = "regularization_batch_size"


def main(argv=None) -> int:
    args = figure_parser(__doc__.splitlines()[0]).parse_args(argv)
    t0 = time.perf_counter()
    df = default_run("batch_size_gamma", quick=args.quick, seed=args.seed, executor=args.executor)
    fig, (ax, ax2, bx) = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    Ms = sorted(df["M"].unique())
    for k, layer in enumerate((1, 2)):
        sub = df[df["open_layer"] == layer]
        for a, col in ((ax, f"gamma2_{layer}"), (ax2, "test_loss")):
            g = seed_summary(sub, "M", col)
            a.errorbar(dodge(g["M"], k, 2), g["mean"], yerr=g["half_width"], marker="o",
                       capsize=3, label=f"BN in layer {layer}")  # fmt: skip
    ax2.axhline(df.attrs["settings"]["delta"] ** 2, color="k", ls=":", lw=1, label="noise floor")
    for a, title in (
        (ax, r"learned $\gamma^2$ of the BN layer (mean over units)"),
        (ax2, "test loss"),
    ):
        a.set_xscale("log", base=2)
        a.set_xticks(Ms, [str(int(m)) for m in Ms])
        a.set_xlabel("batch size M")
        a.set_title(title, fontsize=10)
        a.legend(fontsize=8)
    ax.set_ylabel(r"$\gamma^2$")
    ax2.set_ylabel("test MSE")
    records = c11_records(df)
    names = {"gamma^2": r"$\gamma^2$", "test loss": "test loss"}
    verdict_panel(
        bx,
        records,
        [f"layer {r.params['open_layer']}: {names[r.params['quantity']]}" for r in records],
        "slope per doubling of M (C11 claims > 0)",
        what="mean of the per-seed slopes",
    )
    bx.set_ylabel("BN opened in")
    st = df.attrs["settings"]
    fig.suptitle(
        f"C11: BN opened one layer at a time; P={st['n_train']}, {st['steps']} steps, "
        f"lr={st['lr']}, {st['n_seeds']} seeds",
        fontsize=9,
    )
    paths = [save_figure(fig, args.out, NAME), save_data(df, args.out, NAME)]
    report_written(paths, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
