"""The small-batch normalizers: ghost BN, synchronized BN, batch renormalization, RMS norm.

Each is checked against an independent computation (BN applied piece by piece, BN on the
concatenated batch, the population normalization it must reduce to, a direct formula),
by finite differences of its gradients, and for batch (in)dependence (C22).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import (
    BatchNorm,
    BatchRenorm,
    GhostBatchNorm,
    LayerNorm,
    RMSNorm,
    SyncBatchNorm,
)
from tests.regnorm.finite_differences import check_layer_gradients
from tests.tolerances import assert_allclose_rounding


def _x(shape, seed=0, loc=0.5, scale=1.5):
    return np.random.default_rng(seed).normal(loc, scale, size=shape)


def _randomize(layer, xp, seed=1):
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = xp.asarray(rng.normal(1.0, 0.3, size=tuple(v.shape)))


# -- finite differences ---------------------------------------------------------------------
GRADIENT_LAYERS = {
    "rms_norm": lambda xp: RMSNorm(4, xp=xp),
    "ghost_batch_norm": lambda xp: GhostBatchNorm(4, virtual_batch_size=2, xp=xp),
    "ghost_batch_norm_uneven": lambda xp: GhostBatchNorm(4, virtual_batch_size=4, xp=xp),
    "sync_batch_norm": lambda xp: SyncBatchNorm(4, shard_sizes=(1, 3, 1), xp=xp),
    "sync_batch_norm_variance": lambda xp: SyncBatchNorm(
        4, shard_sizes=(2, 3), center=False, xp=xp
    ),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_LAYERS))
@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 3, 2)])
def test_gradients_match_central_differences(xp, name, shape):
    layer = GRADIENT_LAYERS[name](xp)
    if isinstance(layer, SyncBatchNorm):  # unequal shards, one of a single sample
        layer.shard_sizes = (1, shape[0] - 2, 1)
    _randomize(layer, xp)
    assert check_layer_gradients(layer, _x(shape), xp) <= 1.0


def test_batch_renorm_gradient_treats_r_and_d_as_constants(xp):
    """Ioffe's gradient: that of ``gamma ((x - mu_B(x))/sigma_B(x) r0 + d0) + beta`` with
    ``r0, d0`` frozen at their values; checked by central differences of that function."""
    x = _x((6, 3, 2, 2), seed=3)
    layer = BatchRenorm(3, r_max=1.5, d_max=0.2, xp=xp)
    layer.state["running_mean"] = xp.asarray([0.2, -0.4, 1.0])
    layer.state["running_std"] = xp.asarray([0.5, 2.5, 1.4])
    _randomize(layer, xp)
    gamma = to_numpy(layer.params["gamma"])[None, :, None, None]
    beta = to_numpy(layer.params["beta"])[None, :, None, None]
    mu = to_numpy(layer.state["running_mean"])[None, :, None, None]
    sig = to_numpy(layer.state["running_std"])[None, :, None, None]
    eps = layer.eps

    def stats(a):
        m = a.mean(axis=(0, 2, 3), keepdims=True)
        return m, np.sqrt(a.var(axis=(0, 2, 3), keepdims=True) + eps)

    mb, sb = stats(x)
    r0 = np.clip(sb / sig, 1 / 1.5, 1.5)
    d0 = np.clip((mb - mu) / sig, -0.2, 0.2)
    assert np.any(r0 == 1.5) or np.any(r0 == 1 / 1.5)  # a clip is active: not plain BN
    assert np.any(np.abs(d0) == 0.2) and np.any(np.abs(d0) < 0.2)

    def f(a):
        m, s = stats(a)
        return gamma * ((a - m) / s * r0 + d0) + beta

    y = to_numpy(layer.forward(xp.asarray(x)))
    assert_allclose_rounding(y, f(x), ops=100)
    R = np.random.default_rng(0).standard_normal(x.shape)
    dx = to_numpy(layer.backward(xp.asarray(R)))
    h = 1e-6
    num = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        num.reshape(-1)[i] = (np.sum(f(x + e) * R) - np.sum(f(x - e) * R)) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=0, atol=1e-6)  # central difference, h = 1e-6
    z = (x - mb) / sb * r0 + d0
    assert_allclose_rounding(to_numpy(layer.grads["gamma"]), np.sum(R * z, axis=(0, 2, 3)), ops=100)
    assert_allclose_rounding(to_numpy(layer.grads["beta"]), np.sum(R, axis=(0, 2, 3)), ops=100)


# -- independent computations ---------------------------------------------------------------
@pytest.mark.parametrize("vbs, n", [(2, 6), (3, 7), (8, 5)])
def test_ghost_batch_norm_is_batch_norm_on_each_virtual_batch(xp, vbs, n):
    x = _x((n, 3, 2, 2), seed=vbs)
    dy = _x((n, 3, 2, 2), seed=10 + vbs, loc=0.0, scale=1.0)
    ghost = GhostBatchNorm(3, virtual_batch_size=vbs, momentum=0.3, xp=xp)
    _randomize(ghost, xp)
    bn = BatchNorm(3, momentum=0.3, xp=xp)
    bn.params = {k: v for k, v in ghost.params.items()}
    y = to_numpy(ghost.forward(xp.asarray(x)))
    dx = to_numpy(ghost.backward(xp.asarray(dy)))
    ys, dxs, dgamma = [], [], 0.0
    for a in range(0, n, vbs):
        ys.append(to_numpy(bn.forward(xp.asarray(x[a : a + vbs]))))
        dxs.append(to_numpy(bn.backward(xp.asarray(dy[a : a + vbs]))))
        dgamma = dgamma + to_numpy(bn.grads["gamma"])
    assert_allclose_rounding(y, np.concatenate(ys), ops=100)
    assert_allclose_rounding(dx, np.concatenate(dxs), ops=100)
    assert_allclose_rounding(to_numpy(ghost.grads["gamma"]), dgamma, ops=100)
    for k in ("running_mean", "running_var"):  # one momentum update per virtual batch
        assert_allclose_rounding(to_numpy(ghost.state[k]), to_numpy(bn.state[k]), ops=100)
    ye = to_numpy(ghost.forward(xp.asarray(x), training=False))
    assert_allclose_rounding(ye, to_numpy(bn.forward(xp.asarray(x), training=False)), ops=10)


def test_ghost_batch_norm_refuses_a_virtual_batch_of_one_value():
    with pytest.raises(ValueError, match="virtual batch of 1 sample"):
        GhostBatchNorm(3, virtual_batch_size=2).forward(_x((5, 3)))
    with pytest.raises(ValueError, match="virtual_batch_size"):
        GhostBatchNorm(3, virtual_batch_size=0)


@pytest.mark.parametrize("shards", [(1, 4, 2), (3, 3, 1), (7,)])
def test_sync_batch_norm_is_batch_norm_on_the_whole_batch(xp, shards):
    n = sum(shards)
    x = _x((n, 3, 2, 2), seed=n)
    dy = _x((n, 3, 2, 2), seed=n + 1, loc=0.0, scale=1.0)
    sync = SyncBatchNorm(3, shard_sizes=shards, momentum=0.25, xp=xp)
    _randomize(sync, xp)
    bn = BatchNorm(3, momentum=0.25, xp=xp)
    bn.params = {k: v for k, v in sync.params.items()}
    for layer in (sync, bn):
        layer.forward(xp.asarray(x[::-1].copy()))  # a first step: running statistics move
    got = [to_numpy(sync.forward(xp.asarray(x))), to_numpy(sync.backward(xp.asarray(dy)))]
    want = [to_numpy(bn.forward(xp.asarray(x))), to_numpy(bn.backward(xp.asarray(dy)))]
    for g, w in zip(got, want, strict=True):
        assert_allclose_rounding(g, w, ops=100)
    for k in ("running_mean", "running_var"):
        assert_allclose_rounding(to_numpy(sync.state[k]), to_numpy(bn.state[k]), ops=100)


def test_sync_running_variance_is_not_the_mean_of_the_shards_unbiased_variances():
    """Negative control: with unequal shards, averaging each shard's unbiased variance (a
    classic mistake) is not the whole batch's unbiased variance, which SyncBN stores."""
    shards = (1, 2, 5)
    x = _x((8, 2), seed=4)
    sync = SyncBatchNorm(2, shard_sizes=shards, momentum=1.0)
    sync.forward(x)
    whole = x.var(axis=0, ddof=1)
    assert_allclose_rounding(sync.state["running_var"], whole, ops=20)
    edges = np.cumsum((0, *shards))
    naive = np.mean(
        [
            x[a:b].var(axis=0, ddof=1) if b - a > 1 else np.zeros(2)
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ],
        axis=0,
    )
    assert np.min(np.abs(naive - whole) / whole) > 0.05


def test_sync_batch_norm_shard_sizes_must_add_up():
    layer = SyncBatchNorm(2, shard_sizes=(2, 2))
    with pytest.raises(ValueError, match=r"shard_sizes \(2, 2\) add up to 4, but the batch has 5"):
        layer.forward(_x((5, 2)))
    with pytest.raises(ValueError, match="shard_sizes"):
        SyncBatchNorm(2, shard_sizes=(2, 0))
    with pytest.raises(TypeError, match="shard_sizes"):
        SyncBatchNorm(2, shard_sizes="22")


def test_sync_batch_norm_large_inputs_equal_the_scaled_down_input():
    x = _x((6, 3), seed=2)
    a = SyncBatchNorm(3, shard_sizes=(2, 4)).forward(x * 1e200)
    b = SyncBatchNorm(3, shard_sizes=(2, 4), eps=1e-300).forward(x)  # eps / 1e400 underflows
    assert_allclose_rounding(a, b, ops=100)


def test_batch_renorm_unclipped_is_population_normalization(xp):
    """Where no clip is active the training output is (x - mu)/sigma with the running
    statistics, exactly: no batch noise (and it differs from BN's output)."""
    x = _x((4, 3, 2, 2), seed=8)
    layer = BatchRenorm(3, r_max=1e6, d_max=1e6, affine=False, xp=xp)
    mu, sig = np.array([0.1, 0.7, -0.3]), np.array([1.2, 0.8, 2.0])
    layer.state["running_mean"], layer.state["running_std"] = xp.asarray(mu), xp.asarray(sig)
    y = to_numpy(layer.forward(xp.asarray(x)))
    assert_allclose_rounding(y, (x - mu[None, :, None, None]) / sig[None, :, None, None], ops=100)
    bn = to_numpy(BatchNorm(3, affine=False, xp=xp).forward(xp.asarray(x)))
    assert np.max(np.abs(y - bn)) > 0.1
    # the running averages move by momentum towards the batch's mean and sigma_B
    mb = x.mean(axis=(0, 2, 3))
    sb = np.sqrt(x.var(axis=(0, 2, 3)) + layer.eps)
    assert_allclose_rounding(layer.state["running_mean"], mu + 0.01 * (mb - mu), ops=20)
    assert_allclose_rounding(layer.state["running_std"], sig + 0.01 * (sb - sig), ops=20)
    ye = to_numpy(layer.forward(xp.asarray(x), training=False))
    mu2, sig2 = to_numpy(layer.state["running_mean"]), to_numpy(layer.state["running_std"])
    assert_allclose_rounding(
        ye, (x - mu2[None, :, None, None]) / sig2[None, :, None, None], ops=100
    )


def test_batch_renorm_with_r_max_1_and_d_max_0_is_batch_norm_in_training(xp):
    x = _x((5, 3, 2, 2), seed=9)
    a = to_numpy(BatchRenorm(3, r_max=1.0, d_max=0.0, xp=xp).forward(xp.asarray(x)))
    b = to_numpy(BatchNorm(3, xp=xp).forward(xp.asarray(x)))
    assert_allclose_rounding(a, b, ops=100)


def test_batch_renorm_refuses_bad_settings():
    with pytest.raises(ValueError, match="r_max"):
        BatchRenorm(3, r_max=0.5)
    with pytest.raises(ValueError, match="d_max"):
        BatchRenorm(3, d_max=-1.0)
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchRenorm(3).forward(_x((1, 3)))


def test_rms_norm_matches_the_direct_formula(xp):
    x = _x((4, 3, 2, 2), seed=5)
    layer = RMSNorm(3, eps=1e-5, xp=xp)
    _randomize(layer, xp)
    g, b = (to_numpy(layer.params[k])[None, :, None, None] for k in ("gamma", "beta"))
    want = g * x / np.sqrt(np.mean(x**2, axis=(1, 2, 3), keepdims=True) + 1e-5) + b
    assert_allclose_rounding(to_numpy(layer.forward(xp.asarray(x))), want, ops=100)
    # mean square 1 per sample (to eps / mean square); not LayerNorm: the mean is kept
    z = to_numpy(RMSNorm(3, affine=False, xp=xp).forward(xp.asarray(x)))
    assert_allclose_rounding(np.mean(z**2, axis=(1, 2, 3)), np.ones(4), ops=100, atol=1e-4)
    ln = to_numpy(LayerNorm(3, affine=False, xp=xp).forward(xp.asarray(x)))
    assert np.max(np.abs(z - ln)) > 0.1


def test_rms_norm_large_inputs_and_zero_input():
    x = _x((3, 4), seed=6)
    assert_allclose_rounding(
        RMSNorm(4).forward(x * 1e200), RMSNorm(4, eps=1e-300).forward(x), ops=100
    )
    y = RMSNorm(4).forward(np.zeros((2, 4)))
    np.testing.assert_array_equal(y, np.zeros((2, 4)))  # 0 / sqrt(eps): no NaN


# -- batch (in)dependence (C22) -------------------------------------------------------------
def _two_batches(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(6, 3, 2, 2))
    b = a.copy()
    b[1:] = rng.normal(2.0, 3.0, size=(5, 3, 2, 2))
    return a, b


def test_rms_norm_and_evaluation_modes_ignore_the_other_samples(xp):
    a, b = _two_batches()
    for make, training in (
        (lambda: RMSNorm(3, xp=xp), True),
        (lambda: BatchRenorm(3, xp=xp), False),
        (lambda: GhostBatchNorm(3, virtual_batch_size=2, xp=xp), False),
    ):
        ya = to_numpy(make().forward(xp.asarray(a), training=training))[0]
        yb = to_numpy(make().forward(xp.asarray(b), training=training))[0]
        assert_allclose_rounding(ya, yb, ops=10)


def test_batch_dependent_layers_in_training_depend_on_the_batch(xp):
    a, b = _two_batches()
    for make in (
        lambda: GhostBatchNorm(3, virtual_batch_size=2, xp=xp),
        lambda: SyncBatchNorm(3, shard_sizes=(2, 4), xp=xp),
        lambda: BatchRenorm(3, r_max=1.0, d_max=0.0, xp=xp),
    ):
        ya = to_numpy(make().forward(xp.asarray(a)))[0]
        yb = to_numpy(make().forward(xp.asarray(b)))[0]
        assert np.max(np.abs(ya - yb)) > 1e-2
    # ghost BN: only the sample's own virtual batch matters
    c = a.copy()
    c[2:] = b[2:]
    g = [
        to_numpy(GhostBatchNorm(3, virtual_batch_size=2, xp=xp).forward(xp.asarray(v)))[0]
        for v in (a, c)
    ]
    assert_allclose_rounding(g[0], g[1], ops=10)


def test_dtypes_follow_the_input():
    for layer in (
        RMSNorm(3),
        GhostBatchNorm(3, virtual_batch_size=2),
        SyncBatchNorm(3, shard_sizes=(1, 3)),
        BatchRenorm(3),
    ):
        x = _x((4, 3)).astype(np.float32)
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == np.float32 and dx.dtype == np.float32, type(layer).__name__
        assert all(v.dtype == np.float32 for v in layer.state.values())
        assert math.isfinite(float(np.sum(y)))
