"""C15/C16: Switchable Norm's learned IN/LN/BN weights (mean and variance) against M.

1x1-convolutional teacher-student problem of simulations.switchable_weights, Gaussian and
heavy-tailed (Student-t) pixel noise; means over seeds with 95% t-intervals. One panel per
layer and noise with the mean weights (solid) and the variance weights (dashed) of each
component side by side, so that C16 (BN's variance weight against its mean weight) reads
off one panel. The weights lie in [0, 1]; their t-intervals may reach beyond it and are
drawn unclipped (the band outside [0, 1] is shaded). The C15 and C16 verdicts are
``regnorm verify --claims C15,C16``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from figures._regularization_plots import log2_batch_axis
from figures.common import dodge, draw_shared_run, run_main
from regnorm.estimates import group_summary
from simulations.switchable_weights import switchable_weights

NAME = "switchable_weights"
COMPONENTS = {"bn": "BN", "in": "IN", "ln": "LN"}
COLORS = {"bn": "C0", "in": "C1", "ln": "C2"}


def signed(x: float, digits: int = 1) -> str:
    """``x`` to ``digits`` decimals, with a value that rounds to zero written ``0.0``.

    A small negative number would otherwise print as ``-0.0``, a sign the rounding has
    already made meaningless.
    """
    text = f"{x:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def plot(df: pd.DataFrame):
    """The figure of a :func:`simulations.switchable_weights.switchable_weights` table."""
    noises = list(dict.fromkeys(df["noise"]))
    fig, axes = plt.subplots(
        len(noises), 2, figsize=(13, 4.2 * len(noises)), squeeze=False, layout="constrained"
    )
    Ms = sorted(df["M"].unique())
    for r, noise in enumerate(noises):
        sub = df[df["noise"] == noise]
        rho = signed(sub["rho_1"].mean())
        for c, layer in enumerate((1, 2)):
            ax = axes[r, c]
            k = 0
            for comp, label in COMPONENTS.items():
                for kind, word, ls, marker in (
                    ("mean", "mean", "-", "o"),
                    ("var", "variance", "--", "s"),
                ):
                    s = group_summary(sub, "M", f"{kind}_{comp}_{layer}")
                    ax.errorbar(dodge(s["M"], k, 2 * len(COMPONENTS)), s["mean"],
                                yerr=s["half_width"], ls=ls, marker=marker, ms=4, capsize=3,
                                color=COLORS[comp],
                                label=f"{label}, {word}")  # fmt: skip
                    k += 1
            ax.axhline(1 / 3, color="k", ls=":", lw=0.8)
            lo, hi = ax.get_ylim()
            ax.axhspan(min(lo, 0.0), 0.0, color="0.9", zorder=0)
            ax.axhspan(1.0, max(hi, 1.0), color="0.9", zorder=0)
            ax.set_ylim(lo, hi)
            log2_batch_axis(ax, Ms)
            ax.set_ylabel("learned SN weight")
            ax.set_title(
                f"layer {layer}, {noise} noise\n(excess kurtosis of layer 1's input {rho})",
                fontsize=9,
            )
    # below the panels: inside one it would cover error bars
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=6,
               fontsize=8)  # fmt: skip
    st = df.attrs["settings"]
    fig.suptitle(
        f"C15/C16: SN weights vs batch size; 1x1-conv student, {st['channels']} channels, "
        f"{st['size']}x{st['size']} images, {st['steps']} steps, lr={st['lr']}, "
        f"logit lr={st['logit_lr']}, {st['repetitions']} seeds, 95% t-intervals (dotted: initial "
        "1/3; shaded: outside [0, 1], where no weight lies)",
        fontsize=9,
    )
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Train (or reuse) the C15/C16 students, draw them, write ``out/NAME.{png,parquet}``.

    ``backend``: see :func:`figures.common.draw_shared_run`."""
    return draw_shared_run(
        switchable_weights,
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
