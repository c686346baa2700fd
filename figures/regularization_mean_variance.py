"""C10: generalization gap of plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN.

Teacher-student ReLU network at one batch size; bars are means over seeds with 95%
intervals; the right panel shows the paired differences that the C10 verdicts use (the
verdicts themselves are ``regnorm verify --claims C10``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figures._regularization_plots import loss_bars, protocol_caption
from figures.common import draw_shared_run, run_main, verdict_panel
from simulations.checks.regularization import c10_records
from simulations.regularization import mean_variance_noise

NAME = "regularization_mean_variance"
LABELS = {
    "none": "plain SGD",
    "weight_norm": "WN",
    "batch_norm_mean": "WN + mean-only BN",
    "batch_norm_variance": "WN + variance-only BN",
    "batch_norm": "BN",
}


def plot(df: pd.DataFrame):
    """The figure of a :func:`simulations.regularization.mean_variance_noise` table."""
    methods = list(dict.fromkeys(df["method"]))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
    loss_bars(ax, df, "method", methods)
    ax.set_xticks(np.arange(len(methods)), [LABELS[m] for m in methods], rotation=20, fontsize=8)
    records = c10_records(df)

    def pair(r):
        mid = f"({LABELS[r.params['method']]})"
        return f"BN - {mid}" if r.params["compared_with"] == "batch_norm" else f"{mid} - WN"

    verdict_panel(
        ax2,
        records,
        [pair(r) for r in records],
        "paired difference of generalization gap (MSE; C10 claims < 0)",
    )
    ax2.set_ylabel("difference of gaps")
    caption = protocol_caption(df.attrs["settings"])
    fig.suptitle(f"C10: mean vs variance noise; M={int(df['M'].iloc[0])}, {caption}", fontsize=9)
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Train (or reuse) the C10 runs, draw them, write ``out/NAME.{png,parquet}``.

    ``backend``: see :func:`figures.common.draw_shared_run`."""
    return draw_shared_run(
        mean_variance_noise,
        plot,
        NAME,
        out,
        quick=quick,
        seed=seed,
        executor=executor,
        backend=backend,
    )


def main(argv=None) -> int:
    return run_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
