"""Batch (in)dependence (C22): changing the other samples leaves a sample's output unchanged
for every normalizer but BN (and SN with a BN weight)."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    PopulationNorm,
    WeightNorm,
)

INDEPENDENT = {
    "population_norm": lambda xp: PopulationNorm(
        6, mean=np.linspace(-1, 1, 6), var=np.linspace(1, 2, 6), xp=xp
    ),
    "layer_norm": lambda xp: LayerNorm(6, xp=xp),
    "instance_norm": lambda xp: InstanceNorm(6, xp=xp),
    "group_norm": lambda xp: GroupNorm(3, 6, xp=xp),
    "weight_norm": lambda xp: WeightNorm(6, 4, rng=0, xp=xp),
    "batch_norm_eval": lambda xp: _trained_bn(xp),
}


def _trained_bn(xp):
    bn = BatchNorm(6, xp=xp)
    bn.forward(xp.asarray(np.random.default_rng(9).normal(size=(8, 6, 3, 3))))
    return bn


def _outputs(layer, xp, x, training):
    return to_numpy(layer.forward(xp.asarray(x), training=training))


def _two_batches(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(5, 6, 3, 3))
    b = a.copy()
    b[1:] = rng.normal(2.0, 3.0, size=(4, 6, 3, 3))  # same sample 0, different others
    return a, b


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_output_of_a_sample_ignores_the_other_samples(xp, name):
    layer = INDEPENDENT[name](xp)
    training = name != "batch_norm_eval"
    a, b = _two_batches()
    np.testing.assert_array_equal(
        _outputs(layer, xp, a, training)[0], _outputs(layer, xp, b, training)[0]
    )


def test_batchnorm_in_training_depends_on_the_other_samples(xp):
    a, b = _two_batches()
    bn = BatchNorm(6, xp=xp)
    diff = _outputs(bn, xp, a, True)[0] - _outputs(bn, xp, b, True)[0]
    assert np.max(np.abs(diff)) > 0.1
