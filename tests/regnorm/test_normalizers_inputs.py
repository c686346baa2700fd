"""Inputs that are hard for a normalizer: NaN and inf (refused), magnitudes whose squares
overflow (normalized correctly), offsets that dwarf the spread and constants (stated error
bounds), one value per statistic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regnorm.backend import get_namespace, to_numpy
from regnorm.normalizers import BatchNorm, GroupNorm, LayerNorm, SwitchableNorm
from regnorm.normalizers.standardization import REFINE_RATIO
from tests.regnorm.finite_differences import check_layer_gradients
from tests.regnorm.normalizer_cases import AXES, LAYERS, REFINED, STATISTICS, make
from tests.tolerances import assert_allclose_rounding, assert_close_normwise, summation_bound

SHAPE = (8, 4, 4, 4)
EPS = 1e-5


def _x(seed=0, shape=SHAPE):
    return np.random.default_rng(seed).normal(0.3, 1.2, size=shape)


# -- NaN and inf ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_nan_or_inf_in_x_is_refused(xp, name, bad):
    x = _x()
    x[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(1 of 512 elements\); pass "):
        make(name, xp).forward(xp.asarray(x))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_check_finite_false_skips_the_check(name):
    x = _x()
    x[0, 0, 0, 0] = np.nan
    y = make(name, None).forward(x, check_finite=False)
    assert np.isnan(y).any()
    y = make(name, None, check_finite=False).forward(x)
    assert np.isnan(y).any()
    with pytest.raises(ValueError, match="contains NaN"):  # the call's value wins
        make(name, None, check_finite=False).forward(x, check_finite=True)


def test_check_finite_must_be_a_bool():
    with pytest.raises(TypeError, match="check_finite must be True or False"):
        BatchNorm(4, check_finite=1)
    with pytest.raises(TypeError, match="check_finite must be True or False"):
        BatchNorm(4).forward(_x(), check_finite="no")


# -- magnitudes whose squares overflow ------------------------------------------------------
@pytest.mark.parametrize("dtype, big, small", [(np.float64, 1e200, 1e50), (np.float32, 1e30, 1e5)])
@pytest.mark.parametrize("name", STATISTICS)
def test_huge_input_gives_the_output_of_the_scaled_down_input(xp, name, dtype, big, small):
    """Normalization is scale-free: at a scale where x**2 overflows, output, gradients and
    parameter gradients equal those of the same input at a harmless scale, to rounding (the
    input gradient scales as 1/scale)."""
    x = _x()
    dy = np.random.default_rng(1).normal(size=LAYERS[name](None).forward(x).shape)
    out = {}
    for scale in (big, small):
        layer = make(name, xp)
        y = layer.forward(xp.asarray(x * scale, dtype=getattr(xp, np.dtype(dtype).name)))
        dx = layer.backward(xp.asarray(dy, dtype=y.dtype))
        grads = {k: to_numpy(v) for k, v in layer.grads.items()}
        out[scale] = (to_numpy(y), to_numpy(dx) * scale, grads)
    (y_big, dx_big, g_big), (y_small, dx_small, g_small) = out[big], out[small]
    assert np.all(np.isfinite(y_big)) and np.all(np.isfinite(dx_big))
    assert_close_normwise(y_big, y_small, dtype, ops=x.size)
    assert_close_normwise(dx_big, dx_small, dtype, ops=x.size)
    for key in g_small:
        assert_close_normwise(g_big[key], g_small[key], dtype, ops=x.size)


@pytest.mark.parametrize("name", STATISTICS)
def test_input_near_the_largest_float_is_normalized(name):
    """Near 1.8e308 the sum behind the mean overflows too; mixed signs make x - mu the
    largest intermediate."""
    x = _x()
    ref = make(name, None).forward(x * 1e50)
    y = make(name, None).forward(x / np.max(np.abs(x)) * 1.5e308)
    assert_close_normwise(y, ref * 1.0, np.float64, ops=x.size)


def test_mean_only_bn_refuses_a_difference_beyond_the_float_range():
    x = np.array([[1.7e308], [1.7e308], [-1.7e308]])
    with pytest.raises(ValueError, match=r"x - mean\(x\) overflows"):
        BatchNorm(1, scale=False).forward(x)


@pytest.mark.parametrize(
    "layer", [BatchNorm(4), SwitchableNorm(4)], ids=["batch_norm", "switchable_norm"]
)
def test_evaluation_refuses_a_running_variance_that_overflowed(layer):
    y = layer.forward(_x() * 1e200)  # training: correct, but sigma^2 ~ 1e400 is not a float
    assert np.all(np.isfinite(y))
    with pytest.raises(ValueError, match=r"state\['running_var'\] is not finite"):
        layer.forward(_x(1), training=False)


# -- offsets that dwarf the spread, constants, one value per statistic ---------------------
def _offset_input(dtype, shape=SHAPE, seed=4):
    return (0.01 * np.random.default_rng(seed).standard_normal(shape) + 100.0).astype(dtype)


def _standardized(d, axes):
    """Reference standardization of the float64 data ``d`` (independent of regnorm)."""
    return (d - d.mean(axis=axes, keepdims=True)) / np.sqrt(d.var(axis=axes, keepdims=True) + EPS)


def _reference(name, d, layer):
    """The exact output of ``layer`` (no affine part) for float64 data ``d``."""
    if name in AXES:
        return _standardized(d, AXES[name])
    if name == "group_norm":
        n, c, h, w = d.shape
        return _standardized(d.reshape(n, 2, c // 2, h, w), (2, 3, 4)).reshape(d.shape)
    if name == "switchable_norm":  # equal weights 1/3
        axes = [(2, 3), (1, 2, 3), (0, 2, 3)]
        mu = sum(d.mean(axis=a, keepdims=True) for a in axes) / 3
        var = sum(d.var(axis=a, keepdims=True) for a in axes) / 3
        return (d - mu) / np.sqrt(var + EPS)
    n, c, h, w = d.shape  # KNConv: non-overlapping 2 x 2 windows over all channels
    units = d.reshape(n, c, h // 2, 2, w // 2, 2)
    z = _standardized(units, (1, 3, 5))
    return np.einsum("ncakbl,ockl->noab", z, np.asarray(layer.params["weight"]))


def _spread(name, d):
    """The smallest standard deviation among the layer's sets of statistics."""
    if name in AXES:
        return float(np.min(d.std(axis=AXES[name])))
    if name == "group_norm":
        return float(np.min(d.reshape(d.shape[0], 2, -1).std(axis=2)))
    if name == "switchable_norm":  # of the mixed variance, equal weights
        axes = [(2, 3), (1, 2, 3), (0, 2, 3)]
        return float(np.sqrt(np.min(sum(d.var(axis=a, keepdims=True) for a in axes) / 3)))
    n, c, h, w = d.shape
    return float(np.min(d.reshape(n, c, h // 2, 2, w // 2, 2).std(axis=(1, 3, 5))))


HARD = REFINED + ["switchable_norm", "kn_conv", "kn_conv_naive"]
PLAIN = {
    "batch_norm": lambda xp: BatchNorm(4, affine=False, xp=xp),
    "layer_norm": lambda xp: LayerNorm(4, affine=False, xp=xp),
    "instance_norm": lambda xp: LAYERS["instance_norm"](xp, affine=False),
    "group_norm": lambda xp: GroupNorm(2, 4, affine=False, xp=xp),
    "switchable_norm": lambda xp: SwitchableNorm(4, affine=False, xp=xp),
    "kn_conv": lambda xp: LAYERS["kn_conv"](xp, bias=False),
    "kn_conv_naive": lambda xp: LAYERS["kn_conv_naive"](xp, bias=False),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", HARD)
def test_offset_that_dwarfs_the_spread_within_the_stated_bound(xp, name, dtype):
    """``0.01 randn + 100``: |mu| / sigma ~ 1e4. Bounds, with ``b = 2 (log2 m + 1) u`` the
    two-pass summation bound (m = x.size terms at most):

    * BN, LN, IN, GN (corrected two-pass deviations): ``|dz| <= b (64 + max|z|)``;
    * SN (two-pass statistics, deviations from a rounded mean):
      ``|dz| <= b (max|x| / sigma + max|z|)``;
    * KNConv (the input shifted by its first element per sample):
      ``|dz| <= b (max|x - x_0| / sigma + max|z|) max_o sum|W_o|``.

    A one-pass ``E[x^2] - mu^2`` variance misses these by 1e3 (float64) and gives NaN or
    garbage (float32)."""
    x = _offset_input(dtype)
    layer = PLAIN[name](xp)
    y = to_numpy(layer.forward(xp.asarray(x)))
    assert y.dtype == dtype
    d = x.astype(np.float64) - 100.0  # exact (Sterbenz): the same data without the offset
    ref = _reference(name, d, layer)
    b = summation_bound(dtype, x.size)
    if name in REFINED:
        bound = b * (REFINE_RATIO + np.max(np.abs(ref)))
    else:
        z_max = np.max(np.abs(_standardized(d, (1, 2, 3))))
        if name == "switchable_norm":
            offset = float(np.max(np.abs(x)))
        else:
            offset = float(np.max(np.abs(d - d[:, :1, :1, :1])))
        bound = b * (offset / _spread(name, d) + z_max)
        if name.startswith("kn_conv"):
            bound *= float(np.max(np.sum(np.abs(to_numpy(layer.params["weight"])), (1, 2, 3))))
    err = float(np.max(np.abs(y - ref)))
    assert err <= bound, f"error {err:.3g} > bound {bound:.3g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["kn_conv", "kn_conv_naive"])
def test_windows_at_different_offsets_within_the_stated_bound(name, dtype):
    """Windows at levels 0 and 100 (a checkerboard of 2 x 2 windows), spread 0.01: no shift
    removes both offsets, so the fused form falls back to two-pass variances. Bound as for
    KNConv above, ``b (max|x - x_0| / sigma + max|z|) max_o sum|W_o|``."""
    rng = np.random.default_rng(6)
    a, b = np.meshgrid(np.arange(2), np.arange(2), indexing="ij")
    levels = np.kron(100.0 * ((a + b) % 2), np.ones((2, 2)))[None, None]  # (1, 1, 4, 4)
    x = (0.01 * rng.standard_normal(SHAPE) + levels).astype(dtype)
    layer = PLAIN[name](None)
    y = layer.forward(x)
    d = x.astype(np.float64) - levels  # exact: each window without its level
    ref = _reference(name, d, layer)
    offset = float(np.max(np.abs(x.astype(np.float64) - x[:, :1, :1, :1])))
    z_max = np.max(np.abs(_standardized(d.reshape(8, 4, 2, 2, 2, 2), (1, 3, 5))))
    weights = float(np.max(np.sum(np.abs(layer.params["weight"]), axis=(1, 2, 3))))
    bound = summation_bound(dtype, x.size) * (offset / _spread(name, d) + z_max) * weights
    assert y.dtype == dtype
    assert float(np.max(np.abs(y - ref))) <= bound


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", HARD)
def test_offset_with_one_value_per_sample_and_channel(name, dtype):
    """(N, C) input: IN and GN with C/G = 1 have one value per statistic (z = 0); SN mixes
    those with LN's and BN's; KNConv has no windows on such input and is left out."""
    if name.startswith("kn_conv"):
        pytest.skip("KNConv needs (N, C, H, W) input")
    x = _offset_input(dtype, shape=(8, 4))
    layer = GroupNorm(4, 4, affine=False) if name == "group_norm" else PLAIN[name](None)
    y = layer.forward(x)
    d = x.astype(np.float64) - 100.0
    d4 = d.reshape(8, 4, 1, 1)
    ref = (
        np.zeros_like(d4)
        if name in ("group_norm", "instance_norm")
        else _reference(name, d4, layer)
    )
    bound = summation_bound(dtype, x.size) * (REFINE_RATIO + np.max(np.abs(ref)))
    if name == "switchable_norm":
        z_max = np.max(np.abs(_standardized(d, (0, 1))))
        bound = summation_bound(dtype, x.size) * (float(np.max(x)) / _spread(name, d4) + z_max)
    assert y.dtype == dtype and np.all(np.isfinite(y))
    assert float(np.max(np.abs(y - ref.reshape(8, 4)))) <= bound


@pytest.mark.parametrize("value", [3.7, math.pi * 1e13, -2.5e-200, 3.7e200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", HARD + ["kernel_norm"])
def test_constant_input_gives_zero(name, dtype, value):
    """A constant has no spread: z = 0 up to the rounding of its mean, which the corrected
    deviations of BN/LN/IN/GN and the shift of KernelNorm/KNConv (no padding here) remove
    (bound ``b``, ``b`` as above); for SN the bound is ``b |c| / sqrt(eps)``. Where squares
    overflow, the max-abs unit maps the constant to +-1 exactly."""
    if dtype == np.float32 and abs(value) > 1e30:
        pytest.skip("not a float32 number")
    x = np.full(SHAPE, value, dtype=dtype)
    layer = LAYERS["kernel_norm"](None) if name == "kernel_norm" else PLAIN[name](None)
    y = layer.forward(x)
    assert y.dtype == dtype and np.all(np.isfinite(y))
    b = summation_bound(dtype, x.size)
    bound = (
        b * abs(value) / math.sqrt(EPS) if name == "switchable_norm" and abs(value) < 1e100 else b
    )
    assert float(np.max(np.abs(y))) <= bound


# -- the refined paths on ordinary data: same output to rounding, correct gradients --------
FORCED = {  # layer -> (module, constant) whose value 0 forces the path for hard inputs
    "batch_norm": ("regnorm.normalizers.standardization", "REFINE_RATIO"),
    "group_norm": ("regnorm.normalizers.standardization", "REFINE_RATIO"),
    "switchable_norm": ("regnorm.normalizers.standardization", "ONE_PASS_RATIO"),
    "kernel_norm": ("regnorm.normalizers.standardization", "REFINE_RATIO"),
    "kn_conv": ("regnorm.normalizers.standardization", "ONE_PASS_RATIO"),
    "kn_conv_naive": ("regnorm.normalizers.standardization", "REFINE_RATIO"),
}


@pytest.mark.parametrize("name", sorted(FORCED))
def test_paths_for_hard_inputs_agree_with_the_plain_ones(monkeypatch, name):
    """With the thresholds at 0 the corrected, shifted or two-pass statistics run on an
    ordinary input: the output equals the plain path's to rounding, and the gradients pass
    the central-difference check."""
    import importlib

    module, constant = FORCED[name]
    x = _x(shape=(3, 4, 4, 4))
    plain = make(name, None).forward(x)
    target = importlib.import_module(module)
    monkeypatch.setattr(target, constant, 0.0)
    for user in ("regnorm.normalizers.switchable_norm", "regnorm.normalizers.kernel_norm"):
        if hasattr(importlib.import_module(user), constant):
            monkeypatch.setattr(importlib.import_module(user), constant, 0.0)
    layer = make(name, None)
    assert_allclose_rounding(layer.forward(x), plain, ops=x.size, atol=1e-14)
    assert check_layer_gradients(make(name, None), x, get_namespace("numpy")) <= 1.0
