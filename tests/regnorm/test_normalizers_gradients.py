"""Finite-difference gradient checks of every normalizer (input and parameter gradients)."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    PopulationNorm,
    WeightNorm,
)
from tests.regnorm.finite_differences import check_layer_gradients


def _randomize_affine(layer, xp, rng):
    for key, value in layer.params.items():
        layer.params[key] = xp.asarray(rng.normal(1.0, 0.3, size=tuple(value.shape)))


LAYERS = {
    "bn": lambda xp: BatchNorm(4, xp=xp),
    "bn_mean_only": lambda xp: BatchNorm(4, scale=False, xp=xp),
    "bn_variance_only": lambda xp: BatchNorm(4, center=False, xp=xp),
    "bn_no_affine": lambda xp: BatchNorm(4, affine=False, xp=xp),
    "pn": lambda xp: PopulationNorm(4, mean=[0.1, -0.2, 0.3, 0.0], var=[1.0, 2.0, 0.5, 1.5], xp=xp),
    "ln": lambda xp: LayerNorm(4, xp=xp),
    "in": lambda xp: InstanceNorm(4, xp=xp),
    "gn": lambda xp: GroupNorm(2, 4, xp=xp),
    "wn": lambda xp: WeightNorm(4, 3, rng=1, xp=xp),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 3, 2)])
def test_gradients_match_central_differences(xp, name, shape):
    if name == "in" and len(shape) == 2:
        pytest.skip("IN of (N, C) input is constant (single-element statistics)")
    rng = np.random.default_rng(7)
    layer = LAYERS[name](xp)
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
