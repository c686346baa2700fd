"""What the regularization and switchable-weights figures share: panels, captions, ``main``.

The C9-C12 figures draw means over replicates with their 95% Student-t intervals
(:func:`regnorm.estimates.group_summary`) beside the paired differences their verdicts
judge; the label-noise floor is the ``delta2`` of the data drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regnorm.estimates import group_summary

__all__ = ["QUANTITY_COLORS", "log2_batch_axis", "loss_bars", "protocol_caption"]

#: one colour per measured quantity, the same in every regularization figure
QUANTITY_COLORS = {"train_loss": "C2", "test_loss": "C0", "gap": "C1"}


def loss_bars(ax, df: pd.DataFrame, by: str, order: list) -> None:
    """Test loss and gap per group ``by`` (in ``order``): means over replicates, 95% intervals.

    The label-noise floor ``delta2`` (from ``df.attrs["settings"]``) bounds the test loss
    only, so it is drawn across the test-loss bars alone.
    """
    x = np.arange(len(order))
    for off, col, label in ((-0.2, "test_loss", "test loss"), (0.2, "gap", "gap (test - train)")):
        summ = group_summary(df, by, col).set_index(by).loc[list(order)]
        ax.bar(x + off, summ["mean"], 0.4, yerr=summ["half_width"], capsize=3,
               color=QUANTITY_COLORS[col], label=label)  # fmt: skip
    floor = df.attrs["settings"]["delta2"]
    ax.hlines(
        [floor] * len(x), x - 0.4, x, color="k", ls=":", lw=1, label="noise floor (test loss)"
    )
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    ax.set_title("means over seeds, 95% t-interval (the verdicts use the right panel)", fontsize=10)


def log2_batch_axis(ax, Ms) -> None:
    """A log2 x axis ticked at the batch sizes ``Ms``."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(Ms, [str(int(m)) for m in Ms])
    ax.set_xlabel("batch size M")


def protocol_caption(settings: dict) -> str:
    """The training protocol of a run, for a figure's title: P, steps, lr, replicates."""
    st = settings
    return f"P={st['n_train']}, {st['steps']} steps, lr={st['lr']}, {st['repetitions']} seeds"
