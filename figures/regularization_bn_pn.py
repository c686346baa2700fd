"""C9: BN against PN + gamma decay (zeta of C4 from 10k samples) against the batch size.

Teacher-student ReLU network (simulations.relu_network); train loss, test loss and
generalization gap (test - train) with 95% intervals over seeds (the four methods offset a
little along M; the label-noise floor on the test loss only); PN without gamma decay as the
control. Right: the paired differences of test loss that the C9 verdicts judge, with their
95% t-intervals (printed by ``regnorm verify --claims C9``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from figures._regularization_plots import log2_batch_axis, protocol_caption
from figures.common import dodge, draw_shared_run, run_main, verdict_panel
from regnorm.estimates import group_summary
from simulations.checks.regularization import c9_records
from simulations.regularization import bn_vs_pn

NAME = "regularization_bn_pn"
LABELS = {
    "batch_norm": "BN",
    "population_norm_gamma_decay": r"PN + $\gamma$ decay (C4, Gauss-Newton $A''$)",
    "population_norm_gamma_decay_relu": r"PN + $\gamma$ decay (C4, $A''$ = activation prob.)",
    "population_norm": r"PN, no $\gamma$ decay",
}


def plot(df: pd.DataFrame):
    """The figure of a :func:`simulations.regularization.bn_vs_pn` table."""
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
        summ = group_summary(df, ["method", "M"], col)
        for k, (method, label) in enumerate(LABELS.items()):
            s = summ[summ["method"] == method]
            ax.errorbar(dodge(s["M"], k, len(LABELS)), s["mean"], yerr=s["half_width"],
                        marker="o", ms=4, capsize=3, label=label)  # fmt: skip
        log2_batch_axis(ax, Ms)
        ax.set_ylabel(f"{title.split(' (')[0]} (MSE)")
        ax.set_title(title)
    axes[1].axhline(df.attrs["settings"]["delta2"], color="k", ls=":", lw=1,
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
        f"H={st['width']}), {protocol_caption(st)}",
        fontsize=9,
    )
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Train (or reuse) the C9 runs, draw them, write ``out/NAME.{png,parquet}``.

    ``backend``: see :func:`figures.common.draw_shared_run`."""
    return draw_shared_run(
        bn_vs_pn, plot, NAME, out, quick=quick, seed=seed, executor=executor, backend=backend
    )


def main(argv=None) -> int:
    return run_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
