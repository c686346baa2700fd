"""Figure: channel normalization and expressivity by depth at initialization (C18).

Plain ReLU network of 3x3 convolutions (He init) on i.i.d. Gaussian input, one normalizer per
block; on the normalized pre-activations: mean over channels of squared channel means, and
the variance across samples of instance means and of instance standard deviations. A
normalizer whose statistic is 0 by construction (below ``FLOOR`` everywhere: rounding) has
no place on a log axis: it is drawn as a row of open markers at the panel's bottom edge,
labelled "0 (by construction)". The title states GN's group count (read from the layer).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.transforms import blended_transform_factory

from figures.common import (
    run_main,
    save_data,
    save_figure,
)
from simulations.normalizer_family import (
    DEPTH_BLOCKS,
    block_layers,
    proxy_norm_depth_profile,
    summarize,
)

NAME = "proxy_norm_depth"

PANELS = (
    ("channel_sq_mean", "mean$_c$ (channel mean)$^2$\n(channel normalization lost if large)"),
    ("instance_mean_var", "Var$_n$ of instance means\n(expressivity lost if 0)"),
    ("instance_std_var", "Var$_n$ of instance stds\n(expressivity lost if 0)"),
)
STYLES = {
    "BN": ("C0", "-"),
    "LN": ("C1", "-"),
    "IN": ("C2", "-"),
    "GN": ("C4", "-"),
    "LN+PN": ("C1", "--"),
    "GN+PN": ("C4", "--"),
}
#: values below this are rounding-level zeros (the normalization makes them 0 by construction)
FLOOR = 1e-9


def _gn_groups(width: int) -> int:
    """GN's group count, from the layer the simulation builds (not a copy of its constant)."""
    return block_layers("GN", width)[0].num_groups


def plot(s, cfg: dict):
    """The three panels from the summary ``s`` (norm, metric, depth, mean, stderr) of a
    profile run with the sizes ``cfg`` (its ``attrs["settings"]``)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    fig.subplots_adjust(wspace=0.38)
    for ax, (metric, ylabel) in zip(axes, PANELS, strict=True):
        zero = []
        for norm in DEPTH_BLOCKS:
            r = s[(s.norm == norm) & (s.metric == metric)].sort_values("depth")
            color, ls = STYLES[norm]
            if float(r["mean"].abs().max()) < FLOOR:
                zero.append(norm)
                # x in data, y in axes units: the bottom edge, whatever the log range
                at_bottom = blended_transform_factory(ax.transData, ax.transAxes)
                ax.plot(r.depth, [0.02 + 0.04 * (len(zero) - 1)] * len(r), "v", mfc="none",
                        color=color, ms=5, transform=at_bottom, clip_on=False)  # fmt: skip
                continue
            ax.plot(r.depth, r["mean"], ls, color=color, label=norm)
            ax.fill_between(
                r.depth,
                r["mean"] - r["stderr"],
                r["mean"] + r["stderr"],
                color=color,
                alpha=0.2,
                lw=0,
            )
        if zero:
            ax.text(
                0.98,
                0.04 * len(zero) + 0.01,
                f"▽ {', '.join(zero)}: 0 (by construction; < {FLOOR:g}, rounding)",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
            )
        ax.set_yscale("log")
        ax.set_xlabel("depth (block)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    handles = [Line2D([], [], color=c, ls=ls, label=n) for n, (c, ls) in STYLES.items()]
    handles.append(
        Line2D([], [], color="0.3", ls="none", marker="v", mfc="none", label="0 (by construction)")
    )
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=9, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(
        f"Proxy Norm at initialization (C18): width {cfg['width']}, {cfg['size']}x"
        f"{cfg['size']} Gaussian input, batch {cfg['batch']}, mean ± s.e. over "
        f"{cfg['repetitions']} networks; GN and GN+PN with {_gn_groups(cfg['width'])} groups "
        f"of {cfg['width'] // _gn_groups(cfg['width'])} channels",
        fontsize=10,
    )
    return fig


def run(
    out: Path, *, quick: bool = False, seed: int = 0, executor=None, backend=None
) -> list[Path]:
    """Measure, draw, and write ``out/proxy_norm_depth.parquet`` and ``out/proxy_norm_depth.png``;
    returns the paths written."""
    cfg = (
        dict(depth=12, width=16, size=8, batch=16, repetitions=3)
        if quick
        else dict(depth=50, width=32, size=8, batch=32, repetitions=8)
    )
    df = proxy_norm_depth_profile(seed=seed, executor=executor, backend=backend, **cfg)
    s = summarize(df, ["norm", "metric", "depth"], "value")
    return [save_data(df, out, NAME), save_figure(plot(s, df.attrs["settings"]), out, NAME)]


def main(argv=None) -> int:
    return run_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
