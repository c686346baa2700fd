"""Every normalizer keeps the input's floating dtype, forward and backward, and computes in it
as accurately as float64 does to that dtype's rounding."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.backend import get_namespace, to_numpy
from regnorm.normalizers import BatchNorm, KernelNorm
from tests.regnorm.normalizer_cases import LAYERS, make
from tests.tolerances import assert_close_normwise

SHAPE = (3, 4, 4, 4)
LOW = ["float32", "float16"]


def _dtype(xp, name):
    dtype = getattr(xp, name, None)
    if dtype is None:
        pytest.skip(f"{name} is not in this namespace")
    return dtype


def _groups(layer):
    return {"params": layer.params, "grads": layer.grads, "state": layer.state}


@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_output_gradients_parameters_and_state_keep_the_input_dtype(xp, name, dtype_name):
    dtype = _dtype(xp, dtype_name)
    layer = make(name, xp)
    x = xp.asarray(np.random.default_rng(1).normal(0.3, 1.2, size=SHAPE), dtype=dtype)
    y = layer.forward(x)
    dx = layer.backward(xp.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    for group, values in _groups(layer).items():
        for key, value in values.items():
            assert value.dtype == dtype, f"{group}[{key!r}] is {value.dtype}, x is {dtype}"
    assert np.all(np.isfinite(to_numpy(y))) and np.all(np.isfinite(to_numpy(dx)))


@pytest.mark.parametrize("dtype_name", LOW)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_low_precision_matches_float64_to_its_rounding(name, dtype_name, training):
    """float32 / float16 output, input gradient and parameter gradients against the float64
    computation on the same (rounded) input, parameters and output gradient. The float64
    gradients are checked against central differences in test_normalizers_gradients.py and
    the layers' own test files."""
    xp = get_namespace("numpy")
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(2)
    x_low = rng.normal(0.3, 1.2, size=SHAPE).astype(dtype)
    low, ref = make(name, xp, seed=3), make(name, xp, seed=3)
    for key, value in low.params.items():
        low.params[key] = value.astype(dtype)
        ref.params[key] = low.params[key].astype(np.float64)
    if not training:  # running statistics from one training batch of the same values
        warm = rng.normal(0.3, 1.2, size=SHAPE).astype(dtype)
        low.forward(warm)
        ref.forward(warm.astype(np.float64))
        for key, value in low.state.items():
            ref.state[key] = value.astype(np.float64)
    y_low = low.forward(x_low, training=training)
    y_ref = ref.forward(x_low.astype(np.float64), training=training)
    dy = rng.normal(size=y_ref.shape).astype(dtype)
    dx_low, dx_ref = low.backward(dy), ref.backward(dy.astype(np.float64))
    # float16 is computed in float32 and rounded once at the end: a float16 rounding, not
    # one per operation; float32 accumulates over reductions of up to x.size terms
    ops = 1 if dtype == np.float16 else x_low.size
    assert y_low.dtype == dtype and dx_low.dtype == dtype
    assert_close_normwise(y_low, y_ref, dtype, ops)
    assert_close_normwise(dx_low, dx_ref, dtype, ops)
    for key in ref.grads:
        assert low.grads[key].dtype == dtype
        assert_close_normwise(low.grads[key], ref.grads[key], dtype, ops)


def test_dtype_argument_fixes_the_parameters_and_refuses_other_inputs(xp):
    layer = BatchNorm(4, dtype=xp.float32, xp=xp)
    assert all(v.dtype == xp.float32 for v in layer.params.values())
    assert all(v.dtype == xp.float32 for v in layer.state.values())
    with pytest.raises(TypeError, match=r"x has dtype \S*float64 but the layer was built with"):
        layer.forward(xp.ones((4, 4), dtype=xp.float64))
    y = layer.forward(xp.asarray(np.arange(16.0).reshape(4, 4), dtype=xp.float32))
    assert y.dtype == xp.float32 and layer.params["gamma"].dtype == xp.float32
    assert KernelNorm(2, dtype=xp.float64, xp=xp).forward(xp.ones((1, 1, 2, 2))).dtype == (
        xp.float64
    )


@pytest.mark.parametrize("bad", ["float32", int, np.int32, 3])
def test_dtype_argument_must_be_a_floating_dtype(bad):
    with pytest.raises(TypeError, match="dtype must be a real floating dtype"):
        BatchNorm(4, dtype=bad)


def test_parameters_follow_the_latest_input():
    layer = BatchNorm(4)
    assert layer.params["gamma"].dtype == np.float64
    layer.forward(np.ones((2, 4), dtype=np.float32))
    assert layer.params["gamma"].dtype == np.float32
    assert layer.state["running_var"].dtype == np.float32
    layer.forward(np.ones((2, 4)))
    assert layer.params["gamma"].dtype == np.float64


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_integer_input_is_refused_with_the_conversion_to_use(xp, name):
    with pytest.raises(TypeError, match=r"real floating dtype, got \S*int64 \(integer input is"):
        LAYERS[name](xp).forward(xp.ones(SHAPE, dtype=xp.int64))


def test_negative_control_float16_arithmetic_fails_the_float32_tolerance():
    """The float32 comparison above rejects a result carrying float16 rounding errors."""
    x = np.random.default_rng(2).normal(0.3, 1.2, size=SHAPE).astype(np.float32)
    ref = BatchNorm(4, affine=False).forward(x.astype(np.float64))
    x16 = x.astype(np.float16)
    mean = x16.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float16)
    var = ((x16 - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True, dtype=np.float16)
    y16 = ((x16 - mean) / np.sqrt(var + np.float16(1e-5))).astype(np.float32)
    with pytest.raises(AssertionError, match="max error"):
        assert_close_normwise(y16, ref, np.float32, ops=x.size)
