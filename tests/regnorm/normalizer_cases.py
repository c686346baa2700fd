"""Every normalizer configuration the input and dtype tests run over, with random parameters.

The cases are named by the registry's canonical names (:mod:`regnorm.normalizers.registry`),
and built with its :func:`~regnorm.normalizers.make_normalizer`; a name with a suffix is a
second configuration of the same normalizer.
"""

from __future__ import annotations

import numpy as np

from regnorm.backend import device_of, to_numpy
from regnorm.normalizers import make_normalizer

C = 4

#: case -> (registry name, constructor arguments); every layer takes (N, 4, H, W) input
CASES: dict[str, tuple[str, dict]] = {
    "batch_norm": ("batch_norm", {}),
    "batch_norm_mean": ("batch_norm_mean", {}),
    "batch_norm_variance": ("batch_norm_variance", {}),
    "population_norm": (
        "population_norm",
        {"mean": [0.1, -0.2, 0.3, 0.0], "var": [1.0, 2.0, 0.5, 1.5]},
    ),
    "layer_norm": ("layer_norm", {}),
    "instance_norm": ("instance_norm", {}),
    "group_norm": ("group_norm", {"num_groups": 2}),
    "weight_norm": ("weight_norm", {"out_channels": 3, "rng": 1}),
    "switchable_norm": ("switchable_norm", {}),
    "proxy_norm": ("proxy_norm", {}),
    "proxy_norm_tanh": ("proxy_norm", {"activation": "tanh"}),
    "kernel_norm": ("kernel_norm", {"kernel_size": 2, "stride": 1}),
    "kn_conv": ("kn_conv", {"out_channels": 3, "kernel_size": 2, "rng": 2}),
    "kn_conv_naive": ("kn_conv", {"out_channels": 3, "kernel_size": 2, "rng": 2, "fused": False}),
    "batch_renorm": ("batch_renorm", {}),
    "ghost_batch_norm": ("ghost_batch_norm", {"virtual_batch_size": 2}),
    "rms_norm": ("rms_norm", {}),
    "sync_batch_norm": ("sync_batch_norm", {}),
}


def _factory(name: str, fixed: dict):
    def build(xp, **kwargs):
        return make_normalizer(name, C, xp=xp, **fixed, **kwargs)

    return build


#: case -> factory(xp, **kwargs)
LAYERS = {case: _factory(name, fixed) for case, (name, fixed) in CASES.items()}

#: the layers that compute statistics of their input (the others have no squares of x)
STATISTICS = [
    "batch_norm",
    "batch_norm_variance",
    "layer_norm",
    "instance_norm",
    "group_norm",
    "switchable_norm",
    "kernel_norm",
    "kn_conv",
    "kn_conv_naive",
    "ghost_batch_norm",
    "rms_norm",
    "sync_batch_norm",
]

#: the layers whose deviations come from :func:`regnorm.normalizers.standardization.moments`
REFINED = ["batch_norm", "layer_norm", "instance_norm", "group_norm"]

#: the axes of each layer's statistics on (N, C, H, W) input (GN: 2 groups of 2 channels)
AXES = {"batch_norm": (0, 2, 3), "layer_norm": (1, 2, 3), "instance_norm": (2, 3)}


def randomize(layer, xp, seed: int = 0) -> None:
    """Replace the parameters by random ones near their initial values (float64)."""
    rng = np.random.default_rng(seed)
    for key, value in layer.params.items():
        base = to_numpy(value).astype(np.float64)
        new = base + rng.normal(0.0, 0.3, size=base.shape)
        layer.params[key] = xp.asarray(new, device=device_of(value))  # the layer's device


def make(name: str, xp, seed: int = 0, **kwargs):
    """Layer of case ``name`` with random parameters."""
    layer = LAYERS[name](xp, **kwargs)
    randomize(layer, layer.xp, seed)
    return layer
