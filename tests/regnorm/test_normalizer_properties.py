"""Properties every normalizer must have, for shapes and values hypothesis draws.

* invariance of the output to shifting and scaling the input along each normalizer's
  statistics axes (BN per channel, LN per sample, IN per sample and channel, GN per sample and
  group);
* BN (training) permutation-equivariant over the batch;
* GN with one group is LN, GN with one channel per group is IN;
* batch independence: a sample's output does not depend on the rest of the batch for every
  batch-free normalizer (LN, IN, GN, WN, Proxy Norm, KernelNorm, BN in evaluation).

Tolerances (each an identity up to rounding). With ``eps = 1e-20`` (far below every drawn
variance, see ``MIN_STD``) shifting by ``b`` and scaling by ``a`` changes the exact output by
at most ``eps / (2 a^2 sigma^2) < 1e-14``. Rounding: a standardization computed from inputs of
magnitude ``|x|`` and spread ``sigma`` loses ``|x| / sigma`` ulps of the deviation
``x - mu`` (cancellation), summed over the ``m`` values of a statistic, so outputs are
compared with ``atol = 64 eps_mach (max|x| / min sigma) sqrt(m)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regnorm.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    KernelNorm,
    LayerNorm,
    ProxyNorm,
    RMSNorm,
    SyncBatchNorm,
    WeightNorm,
)

EPS = 1e-20
MIN_STD = 1e-3
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
EPS_MACH = float(np.finfo(np.float64).eps)

#: statistics axes of each normalizer on (N, C, H, W), and how to group channels
AXES = {"BN": (0, 2, 3), "LN": (1, 2, 3), "IN": (2, 3)}


@st.composite
def images(draw, min_n=1, min_hw=1):
    n = draw(st.integers(min_n, 4))
    c = draw(st.sampled_from([1, 2, 4, 6]))
    h = draw(st.integers(min_hw, 3))
    w = draw(st.integers(min_hw, 3))
    elements = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
    x = draw(hnp.arrays(np.float64, (n, c, h, w), elements=elements))
    return x


def _std(x, axes):
    return np.sqrt(x.var(axis=axes, keepdims=True))


def _group_view(x, g):
    n, c, h, w = x.shape
    return x.reshape(n, g, (c // g) * h * w)


def _atol(x, min_std, m):
    return 64 * EPS_MACH * (float(np.max(np.abs(x))) + 1.0) / min_std * math.sqrt(m)


def _layers(c, g):
    return {
        "BN": BatchNorm(c, eps=EPS),
        "LN": LayerNorm(c, eps=EPS),
        "IN": InstanceNorm(c, eps=EPS),
        "GN": GroupNorm(g, c, eps=EPS),
    }


@SETTINGS
@given(
    x=images(),
    data=st.data(),
    kind=st.sampled_from(["BN", "LN", "IN", "GN"]),
)
def test_output_is_invariant_to_shift_and_scale_along_the_statistics_axes(x, data, kind):
    n, c, h, w = x.shape
    g = data.draw(st.sampled_from([d for d in (1, 2, c) if c % d == 0]), label="groups")
    if kind == "GN":
        xv = _group_view(x, g)
        std = xv.std(axis=2)
        m = xv.shape[2]
        shape = (n, g, 1)
    else:
        std = _std(x, AXES[kind])
        m = math.prod(x.shape[a] for a in AXES[kind])
        shape = std.shape
    assume(m >= 2 and float(np.min(std)) > MIN_STD)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = rng.uniform(0.1, 10.0, size=shape)  # one shift and scale per statistic
    b = rng.uniform(-1e3, 1e3, size=shape)
    if kind == "GN":
        x2 = (a * _group_view(x, g) + b).reshape(x.shape)
    else:
        x2 = a * x + b
    layer = _layers(c, g)[kind]
    y1 = layer.forward(x)
    y2 = layer.forward(x2)
    min_std = (
        float(np.min(std * a.reshape(std.shape)))
        if kind != "GN"
        else float(np.min(std * a[..., 0]))
    )
    atol = _atol(x2, min(min_std, float(np.min(std))), m)
    np.testing.assert_allclose(y2, y1, rtol=0, atol=atol)


@SETTINGS
@given(x=images(min_n=2), seed=st.integers(0, 2**32 - 1))
def test_batch_norm_is_permutation_equivariant_over_the_batch(x, seed):
    std = _std(x, AXES["BN"])
    assume(float(np.min(std)) > MIN_STD)
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    bn = BatchNorm(x.shape[1], eps=EPS)
    y = bn.forward(x)
    dy = np.random.default_rng(seed + 1).standard_normal(x.shape)
    dx = bn.backward(dy)
    yp = bn.forward(x[perm])
    dxp = bn.backward(dy[perm])
    m = x.shape[0] * x.shape[2] * x.shape[3]
    atol = _atol(x, float(np.min(std)), m)
    np.testing.assert_allclose(yp, y[perm], rtol=0, atol=atol)
    np.testing.assert_allclose(
        dxp, dx[perm], rtol=0, atol=atol * float(np.max(np.abs(dy))) / float(np.min(std))
    )


@SETTINGS
@given(x=images())
def test_group_norm_with_one_group_is_layer_norm_and_with_c_groups_instance_norm(x):
    n, c, h, w = x.shape
    rng = np.random.default_rng(0)
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    dy = rng.standard_normal(x.shape)
    scale = float(np.max(np.abs(x))) + 1.0
    for g, other in ((1, LayerNorm(c, eps=1e-5)), (c, InstanceNorm(c, eps=1e-5))):
        gn = GroupNorm(g, c, eps=1e-5)
        for layer in (gn, other):
            layer.params["gamma"], layer.params["beta"] = gamma.copy(), beta.copy()
        # same statistics over the same axes: to rounding (eps = 1e-5 bounds 1/sigma)
        atol = 64 * EPS_MACH * scale / math.sqrt(1e-5) * math.sqrt(x.size)
        np.testing.assert_allclose(gn.forward(x), other.forward(x), rtol=0, atol=atol)
        np.testing.assert_allclose(
            gn.backward(dy),
            other.backward(dy),
            rtol=0,
            atol=atol * float(np.max(np.abs(dy))) / math.sqrt(1e-5),
        )


def _batch_free(c):
    rng = np.random.default_rng(1)
    bn_eval = BatchNorm(c, eps=1e-5)
    bn_eval.state["running_mean"] = rng.standard_normal(c)
    bn_eval.state["running_var"] = rng.uniform(0.5, 2, c)
    return {
        "LN": (LayerNorm(c), True),
        "IN": (InstanceNorm(c), True),
        "GN": (GroupNorm(1, c), True),
        "WN": (WeightNorm(c, 3, rng=2), True),
        "PN": (ProxyNorm(c), True),
        "KN": (KernelNorm(1, num_channels=c), True),
        "RMS": (RMSNorm(c), True),
        "BN (evaluation)": (bn_eval, False),
    }


@SETTINGS
@given(x=images(min_n=2, min_hw=1), kind=st.sampled_from(list(_batch_free(1))))
def test_batch_free_normalizers_give_each_sample_the_same_output_in_any_batch(x, kind):
    layer, training = _batch_free(x.shape[1])[kind]
    if kind == "KN":
        training = False  # KernelNorm's dropout draws per batch in training; evaluation is exact
    y = layer.forward(x, training=training)
    scale = float(np.max(np.abs(y))) + 1.0
    for i in range(x.shape[0]):
        yi = layer.forward(x[i : i + 1], training=training)
        np.testing.assert_allclose(
            yi[0], y[i], rtol=0, atol=64 * EPS_MACH * scale * math.sqrt(x[0].size)
        )


def test_batch_norm_negative_control_depends_on_the_batch():
    """The batch-independence check can fail: BN in training does depend on the batch."""
    x = np.random.default_rng(3).standard_normal((4, 2, 2, 2))
    bn = BatchNorm(2)
    y = bn.forward(x)
    y0 = bn.forward(np.concatenate([x[:1], 2 * x[1:]]))
    assert float(np.max(np.abs(y0[0] - y[0]))) > 1e-3


@pytest.mark.parametrize("kind", ["BN", "LN", "IN", "GN"])
def test_shift_invariance_negative_control(kind):
    """A shift that is not constant along the statistics axes changes the output: a shift
    per channel for LN and GN (whose statistics mix channels), per sample for BN, across
    (H, W) for IN."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2, 2))
    shift = {
        "BN": np.arange(3.0)[:, None, None, None],
        "LN": np.arange(4.0)[None, :, None, None],
        "GN": np.arange(4.0)[None, :, None, None],
        "IN": rng.standard_normal((1, 1, 2, 2)),
    }[kind]
    layer = _layers(4, 2)[kind]
    assert float(np.max(np.abs(layer.forward(x + shift) - layer.forward(x)))) > 1e-3


@SETTINGS
@given(x=images(), seed=st.integers(0, 2**32 - 1))
def test_rms_norm_is_invariant_to_scaling_each_sample(x, seed):
    """RMSNorm keeps LayerNorm's re-scaling invariance (per sample), not its re-centring."""
    ms = np.sqrt(np.mean(x**2, axis=(1, 2, 3), keepdims=True))
    assume(float(np.min(ms)) > MIN_STD)
    a = np.random.default_rng(seed).uniform(0.1, 10.0, size=(x.shape[0], 1, 1, 1))
    layer = RMSNorm(x.shape[1], eps=EPS)
    m = math.prod(x.shape[1:])
    atol = 64 * EPS_MACH * math.sqrt(m) * (float(np.max(np.abs(x / ms))) + 1.0)
    np.testing.assert_allclose(layer.forward(a * x), layer.forward(x), rtol=0, atol=atol)


@SETTINGS
@given(x=images(min_n=2), data=st.data())
def test_sync_batch_norm_equals_batch_norm_for_any_shards(x, data):
    """The whole batch's statistics from any split into shards: BN's output to rounding."""
    n = x.shape[0]
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=n - 1), label="cuts"))
    sizes = tuple(b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True))
    std = _std(x, AXES["BN"])
    assume(float(np.min(std)) > MIN_STD)
    y = SyncBatchNorm(x.shape[1], shard_sizes=sizes, eps=EPS).forward(x)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    atol = _atol(x, float(np.min(std)), m)
    np.testing.assert_allclose(y, BatchNorm(x.shape[1], eps=EPS).forward(x), rtol=0, atol=atol)
