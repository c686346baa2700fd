"""The public fast path ``forward(x, check=False)`` / ``backward(dy, check=False)``: the checked
call's numbers bit for bit, without the checks, which ``check_params()`` offers on its own."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import BatchNorm, LayerNorm
from tests.regnorm.normalizer_cases import LAYERS, make

SHAPES = [(6, 4, 3, 3), (6, 4)]


def _numpy_groups(layer):
    return {
        group: {k: to_numpy(v) for k, v in getattr(layer, group).items()}
        for group in ("params", "grads", "state")
    }


@pytest.mark.parametrize("shape", SHAPES, ids=["images", "features"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fast_path_is_bit_identical_to_the_checked_path(xp, name, shape):
    """Three training steps and one evaluation, each with a parameter update between them:
    outputs, input gradients, parameter gradients and state agree to the bit."""
    if len(shape) == 2 and name.startswith(("kernel_norm", "kn_conv")):
        pytest.skip("KernelNorm and KNConv need (N, C, H, W) input")
    checked, fast = make(name, xp, seed=5), make(name, xp, seed=5)
    rng = np.random.default_rng(7)
    for step, training in enumerate([True, True, True, False]):
        x = xp.asarray(rng.normal(0.2, 1.1, size=shape))
        y_checked = checked.forward(x, training=training)
        y_fast = fast.forward(x, training=training, check=False)
        np.testing.assert_array_equal(to_numpy(y_fast), to_numpy(y_checked), err_msg=f"{step}")
        dy = xp.asarray(rng.normal(size=tuple(y_checked.shape)))
        dx_checked = checked.backward(dy)
        dx_fast = fast.backward(dy, check=False)
        np.testing.assert_array_equal(to_numpy(dx_fast), to_numpy(dx_checked))
        ours, theirs = _numpy_groups(fast), _numpy_groups(checked)
        for group in ours:
            assert ours[group].keys() == theirs[group].keys()
            for key in ours[group]:
                np.testing.assert_array_equal(ours[group][key], theirs[group][key])
        for layer in (checked, fast):  # an SGD step, as a training loop makes
            for key, g in layer.grads.items():
                layer.params[key] = layer.params[key] - 0.1 * g


def test_fast_path_keeps_the_float16_computation_in_float32():
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float16)
    checked, fast = BatchNorm(4), BatchNorm(4)
    y_fast = fast.forward(x, check=False)
    assert y_fast.dtype == np.float16
    np.testing.assert_array_equal(y_fast, checked.forward(x))
    dy = np.ones_like(x)
    np.testing.assert_array_equal(fast.backward(dy, check=False), checked.backward(dy))


def test_fast_path_skips_the_input_checks():
    """What the checked path refuses, the fast path does not look at: the caller owns it."""
    x = np.random.default_rng(0).normal(size=(5, 3))
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        LayerNorm(3).forward(x)
    assert np.isnan(LayerNorm(3).forward(x, check=False)).any()
    layer = LayerNorm(3)
    y = layer.forward(x, check=False)
    with pytest.raises(ValueError, match="dy must have the shape"):
        layer.backward(np.ones((5, 3, 1)))
    assert layer.backward(np.ones(y.shape), check=False).shape == (5, 3)


def test_check_params_refuses_a_parameter_of_the_wrong_shape():
    layer = BatchNorm(3)
    layer.check_params()  # a fresh layer passes
    layer.params["gamma"] = np.ones(4)
    with pytest.raises(ValueError, match=r"params\['gamma'\] must have shape \(3,\), got \(4,\)"):
        layer.check_params()
    with pytest.raises(ValueError, match=r"params\['gamma'\] must have shape"):
        layer.forward(np.ones((5, 3)))
    layer.state["running_var"] = np.ones(2)
    layer.params["gamma"] = np.ones(3)
    with pytest.raises(ValueError, match=r"state\['running_var'\] must have shape \(3,\)"):
        layer.check_params()


def test_check_finite_cannot_be_asked_of_the_fast_path():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="check_finite=True needs check=True"):
        LayerNorm(3).forward(x, check=False, check_finite=True)
    LayerNorm(3).forward(x, check=False, check_finite=False)  # agreeing is fine


@pytest.mark.parametrize("bad", [0, 1, None, "no"])
def test_check_must_be_a_bool(bad):
    layer = LayerNorm(3)
    with pytest.raises(TypeError, match="check must be True or False"):
        layer.forward(np.ones((4, 3)), check=bad)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(TypeError, match="check must be True or False"):
        layer.backward(np.ones((4, 3)), check=bad)
