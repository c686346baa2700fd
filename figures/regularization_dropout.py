"""C12: dropout after BN (0.125) at large batch, dropout before BN, WN + dropout (0.25).

Teacher-student ReLU network. Left: test loss and gap, means over seeds with 95% intervals
(the label-noise floor drawn across the test-loss bars only). Right: the paired differences
of test loss that the C12 verdicts judge, with their 95% t-intervals and verdicts (printed
by ``regnorm verify --claims C12``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figures._regularization_plots import loss_bars, protocol_caption
from figures.common import draw_shared_run, run_main, verdict_panel
from simulations.checks.regularization import c12_records
from simulations.regularization import dropout_experiment

NAME = "regularization_dropout"


def plot(df: pd.DataFrame):
    """The figure of a :func:`simulations.regularization.dropout_experiment` table."""
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
    caption = protocol_caption(df.attrs["settings"])
    fig.suptitle(f"C12: dropout and BN/WN; {caption}", fontsize=9)
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Train (or reuse) the C12 runs, draw them, write ``out/NAME.{png,parquet}``.

    ``backend``: see :func:`figures.common.draw_shared_run`."""
    return draw_shared_run(
        dropout_experiment,
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
