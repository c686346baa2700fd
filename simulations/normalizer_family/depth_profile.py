"""C18: channel normalization and expressivity of a deep plain ReLU network, by depth.

A deep plain ReLU network of 3x3 convolutions (He initialization, no bias) on i.i.d. Gaussian
input, one normalization per block (``conv -> norm -> relu``, or ``conv -> norm ->
ProxyNorm(relu)`` for the ``+PN`` blocks of article 003), at initialization (``gamma = 1``,
``beta = 0``). At each depth, on the normalized pre-activations: the mean over channels of the
squared channel means (channel normalization; 0 for BN by construction), and the variances
across samples of the instance means and of the instance standard deviations (expressivity;
0 for IN by construction), each averaged over channels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from regnorm.backend import backend_param, random_generator, resolve_backend, to_numpy
from regnorm.normalizers.convolution import conv2d
from regnorm.normalizers.registry import make_normalizer
from regnorm.sweeps import sweep

__all__ = [
    "DEPTH_BLOCKS",
    "DEPTH_METRICS",
    "GN_GROUPS",
    "ZERO_BY_CONSTRUCTION",
    "block_layers",
    "proxy_norm_depth_profile",
]

#: Groups of the GroupNorm blocks.
GN_GROUPS = 4

#: The blocks' normalization, by the label of article 003 (in these labels ``+PN`` is Proxy
#: Norm after the normalizer, not population normalization): the registry name of the
#: normalizer and whether Proxy Norm follows it.
DEPTH_BLOCKS: dict[str, tuple[str, bool]] = {
    "BN": ("batch_norm", False),
    "LN": ("layer_norm", False),
    "IN": ("instance_norm", False),
    "GN": ("group_norm", False),
    "LN+PN": ("layer_norm", True),
    "GN+PN": ("group_norm", True),
}

DEPTH_METRICS = ("channel_sq_mean", "instance_mean_var", "instance_std_var")
#: (block, metric) pairs that the normalization axes set to 0.
ZERO_BY_CONSTRUCTION = frozenset(
    {("BN", "channel_sq_mean"), ("IN", "channel_sq_mean"), ("IN", "instance_mean_var")}
)


def block_layers(norm: str, channels: int, backend: Any = None):
    """The normalizer (no affine) of block ``norm`` and its Proxy Norm (None without), on
    ``backend`` (anything :func:`regnorm.backend.resolve_backend` accepts; None: NumPy)."""
    name, use_proxy = DEPTH_BLOCKS[norm]
    extra = {"num_groups": GN_GROUPS} if name == "group_norm" else {}
    layer = make_normalizer(name, channels, affine=False, xp=backend, **extra)
    return layer, (make_normalizer("proxy_norm", channels, xp=backend) if use_proxy else None)


def _depth_task(
    params: dict[str, Any], rng: np.random.Generator, *, backend: str | None = None
) -> dict[str, float]:
    """One network's metrics by depth; on ``backend`` (a spec) the input and weights are
    drawn on its device (NumPy's numbers on NumPy and array-api-strict), and the metrics
    cross to the host once, at the end."""
    norm, depth, c, size, n = (params[k] for k in ("norm", "depth", "width", "size", "batch"))
    dev = resolve_backend(backend)
    with dev.activate():  # CuPy: kernels run on the current device
        xp = dev.xp
        g = random_generator(dev, rng)
        normalize, proxy = block_layers(norm, c, dev)
        a = g.standard_normal((n, c, size, size))
        keys, values = [], []
        for layer in range(1, depth + 1):
            w = g.standard_normal((c, c, 3, 3)) * math.sqrt(2.0 / (9 * c))  # He init
            h = conv2d(a, w, padding=1)
            z = normalize.forward(h)
            channel_means = xp.mean(z, axis=(0, 2, 3))
            inst_mean = xp.mean(z, axis=(2, 3))
            inst_std = xp.std(z, axis=(2, 3))
            keys += [f"{m}_{layer}" for m in DEPTH_METRICS]
            values += [
                xp.mean(channel_means**2),
                xp.mean(xp.var(inst_mean, axis=0)),
                xp.mean(xp.var(inst_std, axis=0)),
            ]
            a = proxy.forward(z) if proxy is not None else xp.maximum(z, 0.0)
        return dict(zip(keys, to_numpy(xp.stack(values)).tolist(), strict=True))


def proxy_norm_depth_profile(
    norms: Sequence[str] | None = None,
    *,
    depth: int = 40,
    width: int = 32,
    size: int = 8,
    batch: int = 32,
    repetitions: int = 8,
    seed: int = 0,
    executor: Any = None,
    backend: Any = None,
) -> pd.DataFrame:
    """C18: channel normalization and expressivity by depth at initialization.

    Parameters
    ----------
    norms : sequence of str, optional
        Blocks of :data:`DEPTH_BLOCKS` (default all).
    depth, width, size, batch : int
        Blocks, channels, input height and width, samples.
    repetitions : int
        Independent networks and input draws.
    seed : int
    executor : str or Executor, optional
        See :func:`regnorm.sweeps.sweep`.
    backend : spec or Backend, optional
        Where the networks run (anything :func:`regnorm.backend.resolve_backend` accepts;
        None: NumPy). Array-api-strict gives NumPy's numbers to rounding.

    Returns
    -------
    pandas.DataFrame
        A long table ``norm, depth, metric, rep, value`` (metrics: :data:`DEPTH_METRICS`),
        with the sizes (and, off NumPy, ``backend``, its spec) in ``attrs["settings"]``.
    """
    names = list(DEPTH_BLOCKS) if norms is None else list(norms)
    for n in names:
        if n not in DEPTH_BLOCKS:
            raise ValueError(f"norm={n!r} is not a block here; choose from {list(DEPTH_BLOCKS)}")
    grid = [
        {"norm": n, "depth": depth, "width": width, "size": size, "batch": batch} for n in names
    ]
    dev = resolve_backend(backend)
    on = backend_param(dev)
    # NumPy's task is the bare function: its provenance (and any cache of it) is as before
    task = functools.partial(_depth_task, **on) if on else _depth_task
    wide = sweep(
        task,
        grid,
        repetitions=repetitions,
        seed=seed,
        executor=executor,
        progress=None,  # a bar on a terminal, nothing in logs
        name="C18-proxy-norm-depth",
    )
    value_cols = [c for c in wide.columns if c.rsplit("_", 1)[0] in DEPTH_METRICS]
    long = wide.melt(id_vars=["norm", "rep"], value_vars=value_cols, var_name="key")
    long["metric"] = long["key"].str.rsplit("_", n=1).str[0]
    long["depth"] = long["key"].str.rsplit("_", n=1).str[1].astype(int)
    out = long[["norm", "depth", "metric", "rep", "value"]]
    out.attrs["settings"] = dict(
        depth=depth, width=width, size=size, batch=batch, repetitions=repetitions, seed=seed, **on
    )
    return out
