"""Switchable Normalization (C14): derived statistics, one-hot reductions, evaluation modes."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import (
    BatchNorm,
    InstanceNorm,
    LayerNorm,
    SwitchableNorm,
)
from tests.regnorm.finite_differences import check_layer_gradients
from tests.tolerances import assert_allclose_rounding

# exp(-1000) underflows to exactly 0: these logits give exactly one-hot softmax weights
ONE_HOT = {"in": [0.0, -1e3, -1e3], "ln": [-1e3, 0.0, -1e3], "bn": [-1e3, -1e3, 0.0]}


def _x(seed=0, shape=(6, 4, 5, 3)):
    rng = np.random.default_rng(seed)
    return rng.normal(rng.normal(0, 2, size=(1, shape[1], 1, 1)), 1.5, size=shape)


def test_initial_weights_are_equal(xp):
    sn = SwitchableNorm(4, xp=xp)
    assert_allclose_rounding(to_numpy(sn.mean_weights), np.full(3, 1 / 3))
    assert_allclose_rounding(to_numpy(sn.var_weights), np.full(3, 1 / 3))


def test_derived_statistics_equal_direct_ones(xp):
    x = _x()
    stats = SwitchableNorm(4, xp=xp).statistics(xp.asarray(x))
    direct = {"in": (2, 3), "ln": (1, 2, 3), "bn": (0, 2, 3)}
    for name, axes in direct.items():
        mu, var = (to_numpy(s) for s in stats[name])
        # the derived variance is a difference of second moments: its rounding error scales
        # with E[x^2] / var, about 10 here, hence the ops count
        assert_allclose_rounding(mu, x.mean(axis=axes, keepdims=True), ops=400)
        assert_allclose_rounding(var, x.var(axis=axes, keepdims=True), ops=400)


@pytest.mark.parametrize(
    "name, reference",
    [("in", InstanceNorm), ("ln", LayerNorm), ("bn", BatchNorm)],
)
def test_one_hot_weights_reduce_to_in_ln_bn(xp, name, reference):
    x = xp.asarray(_x(1))
    sn = SwitchableNorm(4, xp=xp)
    sn.params["mean_logits"] = xp.asarray(ONE_HOT[name])
    sn.params["var_logits"] = xp.asarray(ONE_HOT[name])
    assert_allclose_rounding(
        to_numpy(sn.forward(x)), to_numpy(reference(4, xp=xp).forward(x)), ops=400
    )


def test_mixed_weights_use_the_mixed_statistics(xp):
    x = _x(2)
    sn = SwitchableNorm(4, xp=xp)
    sn.params["mean_logits"] = xp.asarray([0.0, np.log(2.0), np.log(3.0)])  # w = 1/6, 2/6, 3/6
    sn.params["var_logits"] = xp.asarray([np.log(3.0), 0.0, np.log(2.0)])  # w' = 3/6, 1/6, 2/6
    mu = (
        x.mean(axis=(2, 3), keepdims=True)
        + 2 * x.mean(axis=(1, 2, 3), keepdims=True)
        + 3 * x.mean(axis=(0, 2, 3), keepdims=True)
    ) / 6
    var = (
        3 * x.var(axis=(2, 3), keepdims=True)
        + x.var(axis=(1, 2, 3), keepdims=True)
        + 2 * x.var(axis=(0, 2, 3), keepdims=True)
    ) / 6
    assert_allclose_rounding(
        to_numpy(sn.forward(xp.asarray(x))), (x - mu) / np.sqrt(var + 1e-5), ops=400
    )


def test_moving_average_evaluation_with_bn_weight_equals_batchnorm_eval(xp):
    sn = SwitchableNorm(4, momentum=0.3, xp=xp)
    bn = BatchNorm(4, momentum=0.3, xp=xp)
    sn.params["mean_logits"] = xp.asarray(ONE_HOT["bn"])
    sn.params["var_logits"] = xp.asarray(ONE_HOT["bn"])
    for seed in range(3):
        batch = xp.asarray(_x(seed))
        sn.forward(batch)
        bn.forward(batch)
    x = xp.asarray(_x(10, shape=(2, 4, 5, 3)))
    assert_allclose_rounding(
        to_numpy(sn.forward(x, training=False)), to_numpy(bn.forward(x, training=False)), ops=400
    )


def test_batch_average_evaluation(xp):
    batches = [_x(seed) for seed in range(4)]
    sn = SwitchableNorm(4, eval_mode="batch_average", xp=xp)
    with pytest.raises(RuntimeError, match="compute_batch_average"):
        sn.forward(xp.asarray(batches[0]), training=False)
    sn.compute_batch_average(xp.asarray(b) for b in batches)
    m = 6 * 5 * 3
    assert_allclose_rounding(
        to_numpy(sn.state["average_mean"]),
        np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0),
        ops=400,
    )
    assert_allclose_rounding(
        to_numpy(sn.state["average_var"]),
        np.mean([b.var(axis=(0, 2, 3)) * m / (m - 1) for b in batches], axis=0),
        ops=400,
    )
    # the running (moving-average) statistics are untouched by compute_batch_average
    np.testing.assert_array_equal(to_numpy(sn.state["running_mean"]), np.zeros(4))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 3, 2)])
def test_switchable_gradients(xp, training, shape):
    rng = np.random.default_rng(11)
    sn = SwitchableNorm(4, xp=xp)
    sn.params["mean_logits"] = xp.asarray([0.3, -0.5, 1.0])
    sn.params["var_logits"] = xp.asarray([1.2, 0.1, -0.4])
    sn.params["gamma"] = xp.asarray(rng.normal(1.0, 0.3, size=4))
    sn.params["beta"] = xp.asarray(rng.normal(0.0, 0.3, size=4))
    if not training:
        sn.forward(xp.asarray(rng.normal(size=(8,) + shape[1:])))
    x = rng.normal(0.5, 1.5, size=shape)
    assert check_layer_gradients(sn, x, xp, training=training) <= 1.0


def test_batch_dependence_only_through_the_bn_weight(xp):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4, 3, 3))
    b = a.copy()
    b[1:] = rng.normal(2.0, 3.0, size=(4, 4, 3, 3))
    sn = SwitchableNorm(4, xp=xp)
    sn.params["mean_logits"] = xp.asarray([0.0, 0.0, -1e3])
    sn.params["var_logits"] = xp.asarray([0.5, 0.0, -1e3])
    ya, yb = to_numpy(sn.forward(xp.asarray(a))), to_numpy(sn.forward(xp.asarray(b)))
    np.testing.assert_array_equal(ya[0], yb[0])
    sn.params["var_logits"] = xp.asarray([0.5, 0.0, -2.0])  # a small BN variance weight
    ya, yb = to_numpy(sn.forward(xp.asarray(a))), to_numpy(sn.forward(xp.asarray(b)))
    assert np.max(np.abs(ya[0] - yb[0])) > 1e-2


def test_switchable_bad_input():
    with pytest.raises(ValueError, match="eval_mode='median' is not allowed"):
        SwitchableNorm(4, eval_mode="median")
    sn = SwitchableNorm(4)
    sn.params["mean_logits"] = np.ones(2)
    with pytest.raises(ValueError, match=r"params\['mean_logits'\] must have shape \(3,\)"):
        sn.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="eps must be"):
        SwitchableNorm(4, eps=0.0)
    with pytest.raises(ValueError, match="at least one batch"):
        SwitchableNorm(4).compute_batch_average([])
