"""Figure: batch-dependence noise of every normalizer against the batch size M (C22).

Mean squared change of a sample's output between the batch computation and the batch-free
one (population statistics for BN, SN, ghost BN, synchronized BN and batch renormalization,
the sample alone for the others), i.i.d. N(0,1) input of shape (M, 8, 4, 4); each
batch-dependent layer against its exact law (C1's ``2 - 2 E[sigma_B(m)]`` with ``m = 16 M``
for BN and synchronized BN, at ``m = 16 min(M, 4)`` for ghost BN, the clipped moments for batch
renormalization) and SN against its first-order 1/9 of BN's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from figures.common import (
    run_main,
    save_data,
    save_figure,
)
from regnorm.batch_noise import batch_renorm_noise
from regnorm.normalizers import SwitchableNorm
from regnorm.normalizers.registry import label
from simulations.normalizer_family import (
    BATCH_NORMALIZERS,
    ROUNDING_NOISE,
    batch_dependence_noise,
    bn_noise_exact,
    sn_noise_factor,
    summarize,
)

NAME = "batch_dependence"


def plot(df: pd.DataFrame):
    """The figure from the table of :func:`batch_dependence_noise` (its settings included)."""
    import matplotlib.pyplot as plt

    settings = df.attrs["settings"]
    channels, height, width = settings["sample_shape"]
    hw = height * width  # each BN statistic is taken over m = H W M values
    ghost_batch, (r_max, d_max) = settings["ghost_batch"], settings["brn_clips"]
    s = summarize(df, ["normalizer", "M"], "noise")
    ms = sorted(s.M.unique())
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    m_line = np.geomspace(min(ms), max(ms), 200)
    bn_line = bn_noise_exact(hw * m_line)
    ax.plot(m_line, bn_line, "-", color="0.65", lw=3,
            label=rf"BN exact $2-2E[\sigma_B(m)]$, $m = M H W = {hw}M$")  # fmt: skip
    ax.plot(m_line, 3 / (2 * hw * m_line), "k:", lw=1, label=r"$3/(2m)$ (leading term)")
    ax.plot(m_line, sn_noise_factor(SwitchableNorm(channels)) * bn_line, "--", color="C3", lw=1,
            label="SN first order: 1/9 of BN's (equal weights)")  # fmt: skip
    ghost = bn_noise_exact(hw * np.minimum(m_line, ghost_batch))
    ax.plot(m_line, ghost, "-", color="C2", lw=1,
            label=f"ghost BN exact: BN's at min(M, {ghost_batch})")  # fmt: skip
    ints = np.unique(np.rint(m_line).astype(int))
    brn = batch_renorm_noise(hw * ints, r_max=r_max, d_max=d_max)
    ax.plot(ints, brn, "-", color="C4", lw=1,
            label=f"BRN exact, clips r={r_max}, d={d_max}")  # fmt: skip
    styles = {
        "batch_norm": ("C0", "o", "BN"),
        "sync_batch_norm": ("C1", "x", "SyncBN, 2 unequal shards"),
        "switchable_norm": ("C3", "s", "SN, equal weights"),
        "ghost_batch_norm": ("C2", "^", f"ghost BN, virtual batch {ghost_batch}"),
        "batch_renorm": ("C4", "D", "batch renorm"),
    }
    for name, (color, marker, text) in styles.items():
        r = s[s.normalizer == name]
        r = r[r["mean"] > 0]  # (a log axis: a zero estimate is listed, not drawn)
        ax.errorbar(r.M, r["mean"], yerr=2 * r["stderr"], fmt=marker, color=color, ms=5,
                    capsize=2, label=f"{text} (measured, ±2 s.e.)")  # fmt: skip
    others = [n for n in BATCH_NORMALIZERS if n not in styles and n in set(s.normalizer)]
    zero = [n for n in others if float(s[s.normalizer == n]["mean"].abs().max()) < ROUNDING_NOISE]
    nonzero = [n for n in others if n not in zero]
    text = (
        f"zero to rounding (< {ROUNDING_NOISE:g}: the same\noutput whatever the other "
        "samples):\n" + ", ".join(label(n) for n in zero)
    )
    if nonzero:
        text += "\nNOT zero: " + ", ".join(label(n) for n in nonzero)
    ax.text(0.98, 0.98, text, transform=ax.transAxes, ha="right", va="top", fontsize=7.5,
            bbox=dict(boxstyle="round", fc="white", ec="0.7"))  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size M")
    ax.set_ylabel("mean squared change of a sample's output")
    ax.set_title(
        f"Batch-dependence noise (C22), input N(0,1) of shape (M, {channels}, {height}, {width})",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Measure, draw, and write ``out/batch_dependence.parquet`` and ``out/batch_dependence.png``;
    returns the paths written."""
    ms = (2, 4, 8, 16, 32) if quick else (2, 4, 8, 16, 32, 64, 128, 256)
    repetitions, batches = (6, 8) if quick else (16, 25)
    df = batch_dependence_noise(
        Ms=ms,
        repetitions=repetitions,
        batches=batches,
        seed=seed,
        executor=executor,
        backend=backend,
    )
    return [save_data(df, out, NAME), save_figure(plot(df), out, NAME)]


def main(argv=None) -> int:
    return run_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
