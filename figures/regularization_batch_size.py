"""C11: BN opened one hidden layer at a time: learned gamma^2 and test loss against M.

Teacher-student ReLU network with BN in layer 1 only or layer 2 only (the other layer plain
SGD), as article 001 §2.4.3 does; means over seeds with 95% intervals (the two layers offset
a little along M), the label-noise floor on the test loss. Right: what the C11 verdicts
judge, the per-seed slopes per doubling of M with their 95% t-intervals (printed by
``regnorm verify --claims C11``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from figures._regularization_plots import log2_batch_axis, protocol_caption
from figures.common import dodge, draw_shared_run, run_main, verdict_panel
from regnorm.estimates import group_summary
from simulations.checks.regularization import c11_records
from simulations.regularization import batch_size_gamma

NAME = "regularization_batch_size"


def plot(df: pd.DataFrame):
    """The figure of a :func:`simulations.regularization.batch_size_gamma` table."""
    fig, (ax, ax2, bx) = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    Ms = sorted(df["M"].unique())
    layers = sorted(df["open_layer"].unique())
    for k, layer in enumerate(layers):
        sub = df[df["open_layer"] == layer]
        for a, col in ((ax, f"gamma2_{layer}"), (ax2, "test_loss")):
            g = group_summary(sub, "M", col)
            a.errorbar(dodge(g["M"], k, len(layers)), g["mean"], yerr=g["half_width"],
                       marker="o", capsize=3, label=f"BN in layer {layer}")  # fmt: skip
    ax2.axhline(df.attrs["settings"]["delta2"], color="k", ls=":", lw=1, label="noise floor")
    for a, title in (
        (ax, r"learned $\gamma^2$ of the BN layer (mean over units)"),
        (ax2, "test loss"),
    ):
        log2_batch_axis(a, Ms)
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
    caption = protocol_caption(df.attrs["settings"])
    fig.suptitle(f"C11: BN opened one layer at a time; {caption}", fontsize=9)
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Train (or reuse) the C11 runs, draw them, write ``out/NAME.{png,parquet}``.

    ``backend``: see :func:`figures.common.draw_shared_run`."""
    return draw_shared_run(
        batch_size_gamma,
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
