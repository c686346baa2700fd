"""KernelNorm (C20) and KNConv (C21): windows, dropout, fused = naive, gradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import KernelNorm, KNConv
from regnorm.normalizers.convolution import conv2d
from tests.regnorm.finite_differences import check_layer_gradients
from tests.tolerances import assert_allclose_rounding

CONFIGS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 1, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 2, "stride": 3},
]


def _x(shape=(2, 3, 7, 6), seed=0):
    return np.random.default_rng(seed).normal(0.3, 1.2, size=shape)


def _reference_kernel_norm(x, k, s, p, eps):
    """A plain loop over window positions (independent of the library's slicing)."""
    n, c, h, w = x.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.empty((n, c, oh * k, ow * k))
    for a in range(oh):
        for b in range(ow):
            u = xp_[:, :, a * s : a * s + k, b * s : b * s + k]
            mu = u.mean(axis=(1, 2, 3), keepdims=True)
            var = u.var(axis=(1, 2, 3), keepdims=True)
            out[:, :, a * k : (a + 1) * k, b * k : (b + 1) * k] = (u - mu) / np.sqrt(var + eps)
    return out


@pytest.mark.parametrize("cfg", CONFIGS)
def test_kernel_norm_matches_window_loop(xp, cfg):
    x = _x()
    y = to_numpy(KernelNorm(**cfg, xp=xp).forward(xp.asarray(x)))
    k = cfg["kernel_size"]
    ref = _reference_kernel_norm(x, k, cfg.get("stride", k), cfg.get("padding", 0), 1e-5)
    assert y.shape == ref.shape
    assert_allclose_rounding(y, ref, ops=100, atol=1e-14)


def test_units_have_mean_zero_variance_one(xp):
    y = to_numpy(KernelNorm(3, stride=1, eps=1e-300, xp=xp).forward(xp.asarray(_x())))
    units = y.reshape(2, 3, 5, 3, 4, 3)  # (N, C, OH, k, OW, k)
    assert_allclose_rounding(units.mean(axis=(1, 3, 5)), np.zeros((2, 5, 4)), atol=1e-14)
    assert_allclose_rounding(units.var(axis=(1, 3, 5)), np.ones((2, 5, 4)), ops=100)


def test_conv2d_matches_loop(xp):
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 3))
    y = to_numpy(conv2d(xp.asarray(x), xp.asarray(w), stride=2, padding=1))
    xp_ = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 4, 3, 3))
    for a in range(3):
        for b in range(3):
            patch = xp_[:, :, 2 * a : 2 * a + 3, 2 * b : 2 * b + 3]
            ref[:, :, a, b] = np.einsum("ncij,ocij->no", patch, w)
    assert_allclose_rounding(y, ref, ops=30, atol=1e-14)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_fused_knconv_equals_naive_composition(xp, cfg):
    x = xp.asarray(_x())
    layer = KNConv(3, 4, **cfg, rng=5, xp=xp)
    layer.params["bias"] = xp.asarray([0.1, -0.2, 0.3, 0.0])
    fused = to_numpy(layer.forward(x))
    naive = to_numpy(layer.forward_naive(x))
    # one-pass vs two-pass window variance: rounding ~ eps (mu^2 + sigma^2)/sigma^2 * k^2 C terms
    assert_allclose_rounding(fused, naive, ops=100, atol=1e-13)


def test_fused_equals_naive_with_dropout_and_same_masks(xp):
    x = xp.asarray(_x())
    a = KNConv(3, 4, 2, stride=1, dropout=0.4, rng=9, xp=xp)
    b = KNConv(3, 4, 2, stride=1, dropout=0.4, rng=9, xp=xp)  # same weights, same masks
    assert_allclose_rounding(to_numpy(a.forward(x)), to_numpy(b.forward_naive(x)), ops=100)


def test_dropout_only_in_training(xp):
    x = xp.asarray(_x())
    plain = to_numpy(KernelNorm(2, stride=1, xp=xp).forward(x))
    drop = KernelNorm(2, stride=1, dropout=0.5, rng=0, xp=xp)
    np.testing.assert_array_equal(to_numpy(drop.forward(x, training=False)), plain)
    trained = to_numpy(drop.forward(x, training=True))
    assert np.max(np.abs(trained - plain)) > 1e-2
    assert np.all(np.isfinite(trained))


def _fixed_mask(layer, xp, shape, seed):
    keep = np.random.default_rng(seed).random(shape) >= layer.dropout
    mask = xp.asarray(keep / (1 - layer.dropout))
    layer._mask = lambda units_shape, training: mask if training else None


@pytest.mark.parametrize("cfg", CONFIGS)
def test_kernel_norm_gradients(xp, cfg):
    x = _x((2, 2, 5, 4))
    assert check_layer_gradients(KernelNorm(**cfg, xp=xp), x, xp) <= 1.0


@pytest.mark.parametrize("cfg", CONFIGS[:2])
@pytest.mark.parametrize("fused", [True, False])
def test_knconv_gradients(xp, cfg, fused):
    x = _x((2, 2, 5, 4))
    layer = KNConv(2, 3, **cfg, fused=fused, rng=3, xp=xp)
    assert check_layer_gradients(layer, x, xp) <= 1.0


def test_gradients_with_a_fixed_dropout_mask(xp):
    x = _x((2, 2, 4, 4))
    kn = KernelNorm(2, stride=1, dropout=0.3, xp=xp)
    _fixed_mask(kn, xp, (2, 2, 2, 2, 3, 3), 4)
    assert check_layer_gradients(kn, x, xp) <= 1.0
    conv = KNConv(2, 3, 2, stride=1, dropout=0.3, rng=1, xp=xp)
    _fixed_mask(conv, xp, (2, 2, 2, 2, 3, 3), 4)
    assert check_layer_gradients(conv, x, xp) <= 1.0


def test_batch_independence_without_dropout(xp):
    a = _x((4, 3, 6, 6))
    b = a.copy()
    b[1:] = _x((3, 3, 6, 6), seed=8) * 5
    for layer in (KernelNorm(3, stride=1, padding=1, xp=xp), KNConv(3, 2, 3, rng=0, xp=xp)):
        ya = to_numpy(layer.forward(xp.asarray(a)))
        yb = to_numpy(layer.forward(xp.asarray(b)))
        np.testing.assert_array_equal(ya[0], yb[0])


def test_kernel_bad_input():
    with pytest.raises(ValueError, match=r"kernel_size=5 is larger than the padded input"):
        KernelNorm(5).forward(np.zeros((1, 2, 3, 3)))
    KernelNorm(5, padding=1).forward(np.ones((1, 2, 3, 3)))  # 3 + 2 = 5 fits
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="dropout must be"):
            KernelNorm(2, dropout=bad)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\), got rank 2"):
        KernelNorm(1).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="stride must be"):
        KernelNorm(2, stride=0)
    with pytest.raises(ValueError, match="padding must be"):
        KNConv(2, 2, 2, padding=-1)
    with pytest.raises(ValueError, match="eps must be"):
        KNConv(2, 2, 2, eps=0.0)
    layer = KNConv(2, 3, 2)
    layer.params["weight"] = np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"params\['weight'\] must have shape \(3, 2, 2, 2\)"):
        layer.forward(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="num_channels=2"):
        KNConv(2, 3, 2).forward(np.zeros((1, 3, 4, 4)))
