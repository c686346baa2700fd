"""Every normalizer configuration the input and dtype tests run over, with random parameters."""

from __future__ import annotations

import numpy as np

from regnorm.normalizers import (
    BatchNorm,
    BatchRenorm,
    GhostBatchNorm,
    GroupNorm,
    InstanceNorm,
    KernelNorm,
    KNConv,
    LayerNorm,
    PopulationNorm,
    ProxyNorm,
    RMSNorm,
    SwitchableNorm,
    SyncBatchNorm,
    WeightNorm,
)

C = 4

#: name -> factory(xp, **kwargs); every layer takes (N, 4, H, W) input
LAYERS = {
    "bn": lambda xp, **kw: BatchNorm(C, xp=xp, **kw),
    "bn_mean_only": lambda xp, **kw: BatchNorm(C, scale=False, xp=xp, **kw),
    "bn_variance_only": lambda xp, **kw: BatchNorm(C, center=False, xp=xp, **kw),
    "pn": lambda xp, **kw: PopulationNorm(
        C, mean=[0.1, -0.2, 0.3, 0.0], var=[1.0, 2.0, 0.5, 1.5], xp=xp, **kw
    ),
    "ln": lambda xp, **kw: LayerNorm(C, xp=xp, **kw),
    "in": lambda xp, **kw: InstanceNorm(C, xp=xp, **kw),
    "gn": lambda xp, **kw: GroupNorm(2, C, xp=xp, **kw),
    "wn": lambda xp, **kw: WeightNorm(C, 3, rng=1, xp=xp, **kw),
    "sn": lambda xp, **kw: SwitchableNorm(C, xp=xp, **kw),
    "proxy_relu": lambda xp, **kw: ProxyNorm(C, xp=xp, **kw),
    "proxy_tanh": lambda xp, **kw: ProxyNorm(C, activation="tanh", xp=xp, **kw),
    "kn": lambda xp, **kw: KernelNorm(2, stride=1, xp=xp, **kw),
    "knconv": lambda xp, **kw: KNConv(C, 3, 2, rng=2, xp=xp, **kw),
    "knconv_naive": lambda xp, **kw: KNConv(C, 3, 2, rng=2, fused=False, xp=xp, **kw),
    "batch_renorm": lambda xp, **kw: BatchRenorm(C, xp=xp, **kw),
    "ghost_bn": lambda xp, **kw: GhostBatchNorm(C, virtual_batch_size=2, xp=xp, **kw),
    "rms": lambda xp, **kw: RMSNorm(C, xp=xp, **kw),
    "sync_bn": lambda xp, **kw: SyncBatchNorm(C, xp=xp, **kw),
}

#: the layers that compute statistics of their input (the others have no squares of x)
STATISTICS = [
    "bn",
    "bn_variance_only",
    "ln",
    "in",
    "gn",
    "sn",
    "kn",
    "knconv",
    "knconv_naive",
    "ghost_bn",
    "rms",
    "sync_bn",
]

#: the layers whose deviations come from :func:`regnorm.normalizers.base.moments`
REFINED = ["bn", "ln", "in", "gn"]

#: the axes of each layer's statistics on (N, C, H, W) input (GN: 2 groups of 2 channels)
AXES = {"bn": (0, 2, 3), "ln": (1, 2, 3), "in": (2, 3)}


def randomize(layer, xp, seed: int = 0) -> None:
    """Replace the parameters by random ones near their initial values (float64)."""
    rng = np.random.default_rng(seed)
    for key, value in layer.params.items():
        base = np.asarray(value, dtype=np.float64)
        layer.params[key] = xp.asarray(base + rng.normal(0.0, 0.3, size=base.shape))


def make(name: str, xp, seed: int = 0, **kwargs):
    """Layer ``name`` with random parameters."""
    layer = LAYERS[name](xp, **kwargs)
    randomize(layer, layer.xp, seed)
    return layer
