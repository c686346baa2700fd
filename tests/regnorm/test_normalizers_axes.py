"""Statistics axes of BN, LN, IN, GN, PN (C17) and the identities between them."""

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
from tests.tolerances import assert_allclose_rounding


def _x(xp, shape=(6, 8, 5, 4), seed=0):
    rng = np.random.default_rng(seed)
    # channel-dependent location and scale, so wrong axes give visibly wrong statistics
    loc = rng.normal(0, 3, size=(1, shape[1]) + (1,) * (len(shape) - 2))
    scale = (1 + np.arange(shape[1])).reshape(loc.shape)
    return xp.asarray(loc + rng.gamma(2.0, size=shape) * scale)


def _moments(y, axes):
    y = to_numpy(y)
    return y.mean(axis=axes), y.var(axis=axes)


def _no_affine_eps_free(cls, *args, xp):
    return cls(*args, affine=False, eps=1e-300, xp=xp)


@pytest.mark.parametrize(
    "make, axes",
    [
        (lambda xp: _no_affine_eps_free(BatchNorm, 8, xp=xp), (0, 2, 3)),
        (lambda xp: _no_affine_eps_free(LayerNorm, 8, xp=xp), (1, 2, 3)),
        (lambda xp: _no_affine_eps_free(InstanceNorm, 8, xp=xp), (2, 3)),
    ],
    ids=["batch_norm", "layer_norm", "instance_norm"],
)
def test_means_zero_variances_one_over_the_statistics_axes(xp, make, axes):
    y = make(xp).forward(_x(xp))
    mean, var = _moments(y, axes)
    assert_allclose_rounding(mean, np.zeros_like(mean), atol=1e-13)
    assert_allclose_rounding(var, np.ones_like(var), ops=200)
    # and NOT over other axes (the input's channels differ)
    other = {(0, 2, 3): (1, 2, 3), (1, 2, 3): (0, 2, 3), (2, 3): (0, 2, 3)}[axes]
    m_other, _ = _moments(y, other)
    if axes != (2, 3):  # IN also zeroes the means over (0, 2, 3)
        assert np.max(np.abs(m_other)) > 1e-3


def test_groupnorm_groups_have_mean_zero_variance_one(xp):
    y = to_numpy(GroupNorm(4, 8, affine=False, eps=1e-300, xp=xp).forward(_x(xp)))
    yg = y.reshape(6, 4, 2, 5, 4)
    assert_allclose_rounding(yg.mean(axis=(2, 3, 4)), np.zeros((6, 4)), atol=1e-13)
    assert_allclose_rounding(yg.var(axis=(2, 3, 4)), np.ones((6, 4)), ops=200)


def test_groupnorm_one_group_is_layernorm_and_c_groups_is_instancenorm(xp):
    x = _x(xp)
    assert_allclose_rounding(
        to_numpy(GroupNorm(1, 8, xp=xp).forward(x)), to_numpy(LayerNorm(8, xp=xp).forward(x))
    )
    assert_allclose_rounding(
        to_numpy(GroupNorm(8, 8, xp=xp).forward(x)), to_numpy(InstanceNorm(8, xp=xp).forward(x))
    )


def test_affine_parameters_apply_per_channel(xp):
    x = _x(xp)
    layer = LayerNorm(8, xp=xp)
    layer.params["gamma"] = xp.asarray(np.arange(1.0, 9.0))
    layer.params["beta"] = xp.asarray(np.arange(8.0))
    plain = to_numpy(LayerNorm(8, affine=False, xp=xp).forward(x))
    expected = plain * np.arange(1.0, 9.0).reshape(1, 8, 1, 1) + np.arange(8.0).reshape(1, 8, 1, 1)
    assert_allclose_rounding(to_numpy(layer.forward(x)), expected)


def test_batchnorm_matches_numpy_expression_on_2d_input(xp):
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(16, 5))
    y = to_numpy(BatchNorm(5, affine=False, xp=xp).forward(xp.asarray(x)))
    assert_allclose_rounding(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), ops=20)


def test_batchnorm_mean_only_and_variance_only(xp):
    x_np = to_numpy(_x(xp))
    x = xp.asarray(x_np)
    mu = x_np.mean(axis=(0, 2, 3), keepdims=True)
    sd = np.sqrt(x_np.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    mean_only = BatchNorm(8, scale=False, affine=False, xp=xp).forward(x)
    var_only = BatchNorm(8, center=False, affine=False, xp=xp).forward(x)
    assert_allclose_rounding(to_numpy(mean_only), x_np - mu, ops=200, atol=1e-13)
    assert_allclose_rounding(to_numpy(var_only), x_np / sd, ops=200)


def test_batchnorm_running_statistics_momentum_and_unbiased_convention(xp):
    rng = np.random.default_rng(2)
    batches = [rng.normal(1.0, 2.0, size=(4, 3, 2, 2)) for _ in range(3)]
    bn = BatchNorm(3, momentum=0.25, xp=xp)
    rm, rv = np.zeros(3), np.ones(3)
    for b in batches:
        bn.forward(xp.asarray(b))
        rm = 0.75 * rm + 0.25 * b.mean(axis=(0, 2, 3))
        rv = 0.75 * rv + 0.25 * b.var(axis=(0, 2, 3), ddof=1)
    assert_allclose_rounding(to_numpy(bn.state["running_mean"]), rm, ops=50)
    assert_allclose_rounding(to_numpy(bn.state["running_var"]), rv, ops=50)
    biased = BatchNorm(3, momentum=1.0, unbiased_running=False, xp=xp)
    biased.forward(xp.asarray(batches[0]))
    assert_allclose_rounding(
        to_numpy(biased.state["running_var"]), batches[0].var(axis=(0, 2, 3)), ops=50
    )


def test_batchnorm_eval_equals_population_norm_with_running_statistics(xp):
    rng = np.random.default_rng(4)
    bn = BatchNorm(3, xp=xp)
    bn.params["gamma"] = xp.asarray([1.0, 2.0, 0.5])
    bn.params["beta"] = xp.asarray([0.0, -1.0, 3.0])
    for _ in range(3):
        bn.forward(xp.asarray(rng.normal(size=(8, 3, 2, 2))))
    pn = PopulationNorm(3, mean=bn.state["running_mean"], var=bn.state["running_var"], xp=xp)
    pn.params = dict(bn.params)
    x = xp.asarray(rng.normal(size=(5, 3, 2, 2)))
    before = to_numpy(bn.state["running_mean"]).copy()
    assert_allclose_rounding(to_numpy(bn.forward(x, training=False)), to_numpy(pn.forward(x)))
    # evaluation does not touch the running statistics
    np.testing.assert_array_equal(to_numpy(bn.state["running_mean"]), before)


def test_instance_norm_single_element_statistics_give_zero_not_nan(xp):
    """(N, C, 1, 1) input: biased variance 0 -> z = 0/sqrt(eps) = 0, output beta (finite)."""
    layer = InstanceNorm(3, xp=xp)
    layer.params["beta"] = xp.asarray([0.5, -1.0, 2.0])
    for shape in [(4, 3, 1, 1), (4, 3)]:
        x = xp.asarray(np.random.default_rng(0).normal(size=shape))
        y = to_numpy(layer.forward(x))
        assert np.all(np.isfinite(y))
        np.testing.assert_array_equal(y.reshape(4, 3), np.broadcast_to([0.5, -1.0, 2.0], (4, 3)))
        dx = to_numpy(layer.backward(xp.ones_like(layer.forward(x))))
        np.testing.assert_array_equal(dx, np.zeros(shape))


def test_weight_norm_rows_are_unit_and_gain_scales(xp):
    rng = np.random.default_rng(3)
    wn = WeightNorm(4, 3, rng=0, xp=xp)
    wn.params["nu"] = xp.asarray([1.0, 2.0, 3.0])
    wn.params["b"] = xp.asarray([0.1, 0.2, 0.3])
    x = rng.normal(size=(7, 4))
    w = to_numpy(wn.params["w"])
    expected = x @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T * [1, 2, 3] + [0.1, 0.2, 0.3]
    assert_allclose_rounding(to_numpy(wn.forward(xp.asarray(x))), expected, ops=10)
    # 1x1-convolution form on (N, C, H, W) agrees with the dense form per position
    x4 = rng.normal(size=(2, 4, 3, 3))
    y4 = to_numpy(wn.forward(xp.asarray(x4)))
    dense = to_numpy(wn.forward(xp.asarray(x4.transpose(0, 2, 3, 1).reshape(-1, 4))))
    assert_allclose_rounding(y4, dense.reshape(2, 3, 3, 3).transpose(0, 3, 1, 2))
