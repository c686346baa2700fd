"""Bad input to the normalizers: a clear error naming the argument."""

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


@pytest.mark.parametrize("cls", [BatchNorm, LayerNorm, InstanceNorm, PopulationNorm])
@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (1, 3, 2, 2, 2)])
def test_wrong_rank(xp, cls, shape):
    with pytest.raises(ValueError, match=r"x must have shape \(N, C\) or \(N, C, H, W\)"):
        cls(3, xp=xp).forward(xp.zeros(shape, dtype=xp.float64))


def test_wrong_channel_count(xp):
    with pytest.raises(ValueError, match="num_channels=3"):
        LayerNorm(3, xp=xp).forward(xp.zeros((2, 4), dtype=xp.float64))


def test_integer_input_refused(xp):
    with pytest.raises(TypeError, match="real floating"):
        LayerNorm(3, xp=xp).forward(xp.zeros((2, 3), dtype=xp.int64))


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match="num_groups=3 must divide num_channels=8"):
        GroupNorm(3, 8)
    with pytest.raises(ValueError, match="num_groups must be"):
        GroupNorm(0, 8)


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("nan"), float("inf")])
@pytest.mark.parametrize("cls", [BatchNorm, LayerNorm, InstanceNorm, PopulationNorm])
def test_eps_must_be_positive(cls, eps):
    with pytest.raises(ValueError, match="eps must be"):
        cls(3, eps=eps)


def test_eps_type():
    with pytest.raises(TypeError, match="eps must be a real number"):
        LayerNorm(3, eps="1e-5")


@pytest.mark.parametrize("momentum", [0.0, -0.1, 1.5])
def test_momentum_range(momentum):
    with pytest.raises(ValueError, match="momentum must be"):
        BatchNorm(3, momentum=momentum)


def test_flags_must_be_bool():
    with pytest.raises(TypeError, match="center must be True or False"):
        BatchNorm(3, center=1)
    with pytest.raises(TypeError, match="training must be True or False"):
        BatchNorm(3).forward(np.zeros((4, 3)), training="yes")


def test_mismatched_parameter_shapes(xp):
    layer = BatchNorm(3, xp=xp)
    layer.params["gamma"] = xp.ones(4, dtype=xp.float64)
    with pytest.raises(ValueError, match=r"params\['gamma'\] must have shape \(3,\)"):
        layer.forward(xp.zeros((4, 3), dtype=xp.float64))
    bn = BatchNorm(3, xp=xp)
    bn.state["running_var"] = xp.ones((3, 1), dtype=xp.float64)
    with pytest.raises(ValueError, match=r"state\['running_var'\] must have shape"):
        bn.forward(xp.zeros((4, 3), dtype=xp.float64))
    wn = WeightNorm(3, 2)
    wn.params["w"] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"params\['w'\] must have shape \(2, 3\)"):
        wn.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"mean must have shape \(num_channels,\) = \(3,\)"):
        PopulationNorm(3, mean=[0.0, 1.0])
    with pytest.raises(ValueError, match="var must be >= 0"):
        PopulationNorm(3, var=[1.0, -1.0, 1.0])


def test_backward_checks(xp):
    layer = LayerNorm(3, xp=xp)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(xp.zeros((2, 3), dtype=xp.float64))
    layer.forward(xp.ones((2, 3), dtype=xp.float64))
    with pytest.raises(ValueError, match="dy must have the shape"):
        layer.backward(xp.zeros((2, 4), dtype=xp.float64))


def test_batchnorm_needs_two_values_per_channel():
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm(3).forward(np.zeros((1, 3)))
    BatchNorm(3).forward(np.zeros((1, 3)), training=False)  # evaluation is fine


def test_weight_norm_zero_row():
    wn = WeightNorm(3, 2)
    wn.params["w"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match="zero row"):
        wn.forward(np.ones((4, 3)))
