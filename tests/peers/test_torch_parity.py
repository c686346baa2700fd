"""regnorm's BN, LN, IN, GN and WN against PyTorch: forward, input and parameter gradients,
running statistics, in float64 and float32 (stored vectors; live with PyTorch installed).

Tolerance: both sides compute the same formulas in the same dtype in a different order, so
they agree to rounding: :func:`tests.tolerances.rounding_rtol` of the dtype for about as many
operations as one statistic sums, relative to the magnitude of the terms that make up the
compared array (:func:`_term_scale`), not to its own entries: a gradient that cancels to
almost 0 (BN over two values, LN over one, WN with one input) carries the rounding of the
terms that cancelled.
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from regnorm.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    SwitchableNorm,
    WeightNorm,
)
from tests.peers import torch_reference as ref
from tests.tolerances import rounding_rtol

_STORE = np.load(ref.VECTORS)
CASES = json.loads(str(_STORE["cases"]))
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _stored(i: int) -> dict[str, np.ndarray]:
    prefix = f"{i}/"
    return {k[len(prefix) :]: _STORE[k] for k in _STORE.files if k.startswith(prefix)}


def _layer(case):
    C = case["shape"][1]
    name = case["layer"]
    if name == "BatchNorm":
        return BatchNorm(C, eps=ref.EPS, momentum=case["momentum"])
    if name == "LayerNorm":
        return LayerNorm(C, eps=ref.EPS)
    if name == "InstanceNorm":
        return InstanceNorm(C, eps=ref.EPS)
    if name == "GroupNorm":
        return GroupNorm(case["groups"], C, eps=ref.EPS)
    if name == "SwitchableNorm":
        mode = case.get("eval_mode", "moving_average")
        return SwitchableNorm(
            C, eps=ref.EPS, momentum=case["momentum"], eval_mode=mode, convention="official"
        )
    return WeightNorm(C, case["out"])


def regnorm_compute(case, inputs) -> dict[str, np.ndarray]:
    """What :func:`tests.peers.torch_reference.torch_compute` computes, with regnorm."""
    dt = np.dtype(case["dtype"])
    layer = _layer(case)
    for k in layer.params:
        layer.params[k] = np.asarray(inputs[k])  # float64; a forward casts them to dt
    xs = inputs["x"].astype(dt)
    steps = case.get("steps", 0)
    if case.get("eval_mode") == "batch_average":
        layer.compute_batch_average([xs[k] for k in range(steps)])
    else:
        for k in range(steps):
            layer.forward(xs[k], training=True)
    y = layer.forward(xs[-1], training=case.get("training", True))
    dx = layer.backward(inputs["dy"].astype(dt))
    out = {"y": y, "dx": dx, **{f"d{k}": g for k, g in layer.grads.items()}}
    out.update(layer.state)
    return out


def test_the_official_switchable_norm_differs_from_regnorms_default():
    """What the convention changes, measured: on a 2x2 feature map the unbiased IN variance is
    4/3 of the biased one, and the outputs differ by more than rounding."""
    i = next(k for k, c in enumerate(CASES) if c["layer"] == "SwitchableNorm" and c["steps"] == 0)
    case, inputs = CASES[i], _stored(i)
    official = regnorm_compute(case, inputs)
    layer = SwitchableNorm(case["shape"][1], eps=ref.EPS)
    for k in layer.params:
        layer.params[k] = np.asarray(inputs[k])
    y = layer.forward(inputs["x"][-1])
    diff = float(np.max(np.abs(y - official["y"])))
    assert 0.01 < diff < 1.0, diff


def _ops(case) -> int:
    shape = case["shape"]
    n = int(np.prod(shape))
    return {
        "BatchNorm": n // shape[1],
        "LayerNorm": n // shape[0],
        "InstanceNorm": n // (shape[0] * shape[1]),
        "GroupNorm": n // (shape[0] * case.get("groups", 1)),
        "WeightNorm": shape[1],
        "SwitchableNorm": n // shape[1],
    }[case["layer"]] * (1 + case.get("steps", 0))


_STAT_AXES = {"BatchNorm": (0, 2, 3), "LayerNorm": (1, 2, 3), "InstanceNorm": (2, 3)}


def _term_scale(case, inputs, key) -> float:
    """The magnitude of the terms summed into ``key`` (an upper bound of each term)."""
    x = inputs["x"][-1]
    x4 = np.reshape(x, (*x.shape[:2], -1, 1))
    dy = float(np.max(np.abs(inputs["dy"])))
    n_pc = x4.shape[0] * x4.shape[2]  # terms in a per-channel parameter gradient
    if case["layer"] == "WeightNorm":
        w = inputs["w"]
        xs, nu = float(np.max(np.abs(x))), float(np.max(np.abs(inputs["nu"])))
        unit = xs * n_pc * dy
        wmin = float(np.min(np.linalg.norm(w, axis=1)))
        scales = {"dx": dy * nu * w.shape[0], "dw": unit * nu / wmin, "dnu": unit, "db": dy * n_pc}
        return scales.get(key, 0.0)
    if case["layer"] == "GroupNorm":
        g = x4.reshape(x4.shape[0], case["groups"], -1)
        var = g.var(axis=2)
    elif case["layer"] == "SwitchableNorm":  # a mix of IN, LN and BN variances
        var = np.concatenate([x4.var(axis=a).ravel() for a in ((2, 3), (1, 2, 3), (0, 2, 3))])
    else:
        var = x4.var(axis=_STAT_AXES[case["layer"]])
    inv = float(np.max(1 / np.sqrt(var + ref.EPS)))
    gamma = float(np.max(np.abs(inputs["gamma"])))
    zmax = float(np.max(np.abs(x4 - x4.mean()))) * inv
    scales = {"dx": dy * gamma * inv, "dgamma": dy * zmax * n_pc, "dbeta": dy * n_pc}
    # the logits' gradients sum dL/dz z-like terms over every element of the input
    scales["dmean_logits"] = scales["dvar_logits"] = dy * gamma * (zmax + 1) * x.size
    return scales.get(key, 0.0)


def _assert_agree(got, want, case, what, inputs):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    rtol = rounding_rtol(case["dtype"], ops=8 * _ops(case))
    scale = max(float(np.max(np.abs(want))), _term_scale(case, inputs, what))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def _id(case):
    extra = "".join(f"-{k}{case[k]}" for k in ("groups", "training", "steps") if k in case)
    return f"{case['layer']}-{'x'.join(map(str, case['shape']))}-{case['dtype']}{extra}"


@pytest.mark.parametrize("i", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_matches_pytorch(i):
    case, stored = CASES[i], _stored(i)
    inputs = {k: stored[k] for k in ref.case_inputs(i, case)}
    if "refused" in stored:
        # one value per channel in training: PyTorch refuses. regnorm refuses it for BN (its
        # batch variance would be 0 and the layer's output constant); for GN / IN a statistic
        # of one value is kept (z = 0, output beta), a documented difference
        if case["layer"] == "BatchNorm":
            with pytest.raises(ValueError, match="more than one value per channel"):
                regnorm_compute(case, inputs)
        else:
            out = regnorm_compute(case, inputs)
            want = np.broadcast_to(inputs["beta"][None, :, None, None], out["y"].shape)
            np.testing.assert_array_equal(out["y"], want.astype(case["dtype"]))
        return
    got = regnorm_compute(case, inputs)
    for key, want in stored.items():
        if key in inputs:
            continue
        assert got[key].dtype == np.dtype(case["dtype"]), f"{key}: dtype {got[key].dtype}"
        _assert_agree(got[key], want, case, key, inputs)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed (pip install '.[peers]')")
@pytest.mark.parametrize("i", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_stored_vectors_are_pytorchs(i):
    """Live: PyTorch recomputes each stored case (to rounding: another machine's kernels)."""
    case, stored = CASES[i], _stored(i)
    inputs = ref.case_inputs(i, case)
    for k, v in inputs.items():
        np.testing.assert_array_equal(stored[k], v)  # the inputs are regenerated exactly
    if "refused" in stored:
        with pytest.raises((ValueError, RuntimeError)):
            ref.torch_compute(case, inputs)
        return
    live = ref.torch_compute(case, inputs)
    assert set(live) == {k for k in stored if k not in inputs}
    for key, want in live.items():
        _assert_agree(stored[key], want, case, key, inputs)


def test_a_wrong_convention_is_caught():
    """Negative control: BN's running variance stored biased (``unbiased_running=False``)
    differs from PyTorch's by the factor m/(m-1), far outside the tolerance."""
    i = next(k for k, c in enumerate(CASES) if c["layer"] == "BatchNorm" and c["steps"] >= 2)
    case, stored = CASES[i], _stored(i)
    layer = BatchNorm(case["shape"][1], eps=ref.EPS, momentum=case["momentum"],
                      unbiased_running=False)  # fmt: skip
    for x in stored["x"].astype(case["dtype"]):
        layer.forward(x, training=True)
    with pytest.raises(AssertionError):
        _assert_agree(
            layer.state["running_var"], stored["running_var"], case, "running_var", stored
        )
    m = math.prod(case["shape"]) // case["shape"][1]
    assert m >= 2
