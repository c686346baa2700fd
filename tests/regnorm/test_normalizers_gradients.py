"""Finite-difference gradient checks of every normalizer (input and parameter gradients)."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.normalizers import BatchNorm, make_normalizer
from tests.regnorm.finite_differences import check_layer_gradients


def _randomize_affine(layer, xp, rng):
    for key, value in layer.params.items():
        layer.params[key] = xp.asarray(rng.normal(1.0, 0.3, size=tuple(value.shape)))


#: case -> (registry name, constructor arguments)
CASES = {
    "batch_norm": ("batch_norm", {}),
    "batch_norm_mean": ("batch_norm_mean", {}),
    "batch_norm_variance": ("batch_norm_variance", {}),
    "batch_norm_no_affine": ("batch_norm", {"affine": False}),
    "population_norm": (
        "population_norm",
        {"mean": [0.1, -0.2, 0.3, 0.0], "var": [1.0, 2.0, 0.5, 1.5]},
    ),
    "layer_norm": ("layer_norm", {}),
    "instance_norm": ("instance_norm", {}),
    "group_norm": ("group_norm", {"num_groups": 2}),
    "weight_norm": ("weight_norm", {"out_channels": 3, "rng": 1}),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 3, 2)])
def test_gradients_match_central_differences(xp, name, shape):
    if name == "instance_norm" and len(shape) == 2:
        pytest.skip("IN of (N, C) input is constant (single-element statistics)")
    rng = np.random.default_rng(7)
    registry_name, kwargs = CASES[name]
    layer = make_normalizer(registry_name, 4, xp=xp, **kwargs)
    _randomize_affine(layer, xp, rng)
    x = rng.normal(0.5, 1.5, size=shape)
    assert check_layer_gradients(layer, x, xp) <= 1.0


def test_batchnorm_eval_gradients(xp):
    rng = np.random.default_rng(3)
    layer = BatchNorm(4, xp=xp)
    layer.forward(xp.asarray(rng.normal(size=(8, 4, 2, 2))))  # fills the running stats
    assert check_layer_gradients(layer, rng.normal(size=(3, 4, 2, 2)), xp, training=False) <= 1


def test_negative_control_gradient_without_variance_term_is_rejected(xp):
    """Dropping the variance term of BN's gradient (a classic bug) must fail the check."""

    def wrong(layer, x, r):
        gamma = np.asarray(layer.params["gamma"]).reshape(1, -1, 1, 1)
        g = r * gamma
        var = x.var(axis=(0, 2, 3), keepdims=True)
        return (g - g.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(var + layer.eps)

    rng = np.random.default_rng(5)
    layer = BatchNorm(4, xp=xp)
    x = rng.normal(size=(3, 4, 3, 2))
    assert check_layer_gradients(layer, x, xp, wrong=wrong) > 1.0
