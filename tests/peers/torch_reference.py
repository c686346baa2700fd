"""Reference vectors from PyTorch for the parity tests of :mod:`regnorm.normalizers`.

Each case is a layer, an input shape, a dtype and a mode. PyTorch computes the forward
output, the input gradient and the parameter gradients by autograd for a random upstream
gradient ``dy``, and, for batch norm, the running statistics after the forward passes.
The cases, their inputs and PyTorch's results are stored in ``torch_vectors.npz`` beside this
file, which the tests read, so the default test run needs no PyTorch; with PyTorch installed
(``pip install ".[peers]"``) the tests also recompute every case live.

Regenerate the file (after changing :data:`CASES`)::

    python -m tests.peers.torch_reference

The mapping to PyTorch's functions (a convention table is in the docs):

* ``BatchNorm``: ``F.batch_norm`` (biased batch variance in training; running variance
  updated with the unbiased one, ``running = (1 - momentum) running + momentum batch``);
  evaluation uses the running statistics.
* ``LayerNorm``: ``F.layer_norm`` over ``(C, H, W)`` with its per-element weight set to the
  per-channel ``gamma`` (regnorm's affine parameters are per channel).
* ``InstanceNorm``: ``F.instance_norm`` (no running statistics).
* ``GroupNorm``: ``F.group_norm``.
* ``WeightNorm``: ``torch._weight_norm(w, nu, 0)`` in ``F.linear`` or a 1x1 ``F.conv2d``.
* ``SwitchableNorm`` with ``convention="official"``: the arithmetic of the official
  Switchable Normalization code (``SwitchNorm2d``), written out here in PyTorch from its
  formulas: unbiased ``var()`` over ``(H, W)`` for IN, LN and BN variances derived from it,
  running averages ``m running + (1 - m) batch`` starting at 0, and the pooled batch average
  of its ``sn_helper``; gradients by autograd.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

VECTORS = Path(__file__).with_name("torch_vectors.npz")

#: The cases: layer, input shape, dtype, and the layer's settings. ``steps`` is the number of
#: training forward passes (each on a fresh input) before the checked pass; ``training`` the
#: mode of the checked pass. Small batches and one value per statistic are among them; where
#: PyTorch refuses a case (one value per channel in training), its message is stored instead.
CASES: list[dict[str, Any]] = []
for _dt in ("float64", "float32"):
    CASES += [
        dict(layer="BatchNorm", shape=(8, 4), dtype=_dt, training=True, steps=0, momentum=0.1),
        dict(layer="BatchNorm", shape=(2, 3), dtype=_dt, training=True, steps=2, momentum=0.1),
        dict(layer="BatchNorm", shape=(2, 3, 2, 2), dtype=_dt, training=True, steps=1,
             momentum=0.3),
        dict(layer="BatchNorm", shape=(1, 3, 1, 2), dtype=_dt, training=True, steps=0,
             momentum=0.1),
        dict(layer="BatchNorm", shape=(4, 3, 2, 2), dtype=_dt, training=False, steps=3,
             momentum=0.2),
        dict(layer="BatchNorm", shape=(3, 2), dtype=_dt, training=False, steps=2, momentum=1.0),
        dict(layer="BatchNorm", shape=(1, 3), dtype=_dt, training=True, steps=0, momentum=0.1),
        dict(layer="LayerNorm", shape=(4, 5), dtype=_dt),
        dict(layer="LayerNorm", shape=(2, 3, 2, 2), dtype=_dt),
        dict(layer="LayerNorm", shape=(3, 1), dtype=_dt),
        dict(layer="InstanceNorm", shape=(2, 3, 4, 4), dtype=_dt),
        dict(layer="InstanceNorm", shape=(1, 2, 3, 1), dtype=_dt),
        dict(layer="GroupNorm", shape=(2, 6, 3, 3), dtype=_dt, groups=3),
        dict(layer="GroupNorm", shape=(4, 4), dtype=_dt, groups=2),
        dict(layer="GroupNorm", shape=(2, 4, 2, 2), dtype=_dt, groups=1),
        dict(layer="GroupNorm", shape=(2, 4, 2, 2), dtype=_dt, groups=4),
        dict(layer="GroupNorm", shape=(1, 3, 1, 1), dtype=_dt, groups=3),
        dict(layer="WeightNorm", shape=(5, 3), dtype=_dt, out=4),
        dict(layer="WeightNorm", shape=(2, 3, 2, 2), dtype=_dt, out=2),
        dict(layer="WeightNorm", shape=(1, 1), dtype=_dt, out=1),
        dict(layer="SwitchableNorm", shape=(4, 3, 2, 2), dtype=_dt, training=True, steps=0,
             momentum=0.1),
        dict(layer="SwitchableNorm", shape=(2, 3, 3, 1), dtype=_dt, training=True, steps=2,
             momentum=0.1),
        dict(layer="SwitchableNorm", shape=(3, 2, 1, 2), dtype=_dt, training=False, steps=2,
             momentum=0.3),
        dict(layer="SwitchableNorm", shape=(4, 3, 2, 2), dtype=_dt, training=False, steps=3,
             momentum=0.1, eval_mode="batch_average"),
    ]  # fmt: skip
EPS = 1e-5


def case_inputs(i: int, case: dict[str, Any]) -> dict[str, np.ndarray]:
    """The case's inputs (float64; each layer's dtype is applied by the caller): ``x`` for
    every forward pass (``steps`` + 1), ``dy``, and the parameters."""
    rng = np.random.default_rng([2026, i])
    shape = tuple(case["shape"])
    C = shape[1]
    out: dict[str, np.ndarray] = {
        "x": 1.5 * rng.standard_normal((case.get("steps", 0) + 1, *shape)) + 0.7,
    }
    if case["layer"] == "SwitchableNorm":
        out["mean_logits"] = rng.normal(1.0, 0.5, 3)
        out["var_logits"] = rng.normal(1.0, 0.5, 3)
    if case["layer"] == "WeightNorm":
        o = case["out"]
        out["w"] = rng.standard_normal((o, C))
        out["nu"] = 0.5 + rng.random(o)
        out["b"] = rng.standard_normal(o)
        out["dy"] = rng.standard_normal((shape[0], o, *shape[2:]))
    else:
        out["gamma"] = 0.5 + rng.random(C)
        out["beta"] = rng.standard_normal(C)
        out["dy"] = rng.standard_normal(shape)
    return out


def torch_compute(case: dict[str, Any], inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch's output ``y``, gradients ``dx`` and ``d<param>``, and the running statistics
    (``running_mean``, ``running_var``) for batch norm."""
    import torch
    import torch.nn.functional as F

    dt = getattr(torch, case["dtype"])

    def t(a, grad=False):
        return torch.tensor(np.asarray(a), dtype=dt, requires_grad=grad)

    xs = inputs["x"]
    layer = case["layer"]
    res: dict[str, np.ndarray] = {}
    if layer == "WeightNorm":
        w, nu, b = t(inputs["w"], True), t(inputs["nu"], True), t(inputs["b"], True)
        x = t(xs[-1], True)
        weight = torch._weight_norm(w, nu[:, None], 0)
        if x.ndim == 2:
            y = F.linear(x, weight, b)
        else:
            y = F.conv2d(x, weight[:, :, None, None], b)
        params = {"w": w, "nu": nu, "b": b}
    else:
        gamma, beta = t(inputs["gamma"], True), t(inputs["beta"], True)
        params = {"gamma": gamma, "beta": beta}
        C = xs.shape[2]
        if layer == "BatchNorm":
            rm = torch.zeros(C, dtype=dt)
            rv = torch.ones(C, dtype=dt)
            mom = case["momentum"]
            with torch.no_grad():
                for k in range(case["steps"]):
                    F.batch_norm(t(xs[k]), rm, rv, gamma, beta, True, mom, EPS)
            x = t(xs[-1], True)
            y = F.batch_norm(x, rm, rv, gamma, beta, case["training"], mom, EPS)
            res["running_mean"] = rm.numpy().copy()
            res["running_var"] = rv.numpy().copy()
        elif layer == "LayerNorm":
            x = t(xs[-1], True)
            shape = tuple(x.shape[1:])
            bshape = (C,) + (1,) * (len(shape) - 1)
            weight = gamma.reshape(bshape).expand(shape)
            bias = beta.reshape(bshape).expand(shape)
            y = F.layer_norm(x, shape, weight, bias, EPS)
        elif layer == "InstanceNorm":
            x = t(xs[-1], True)
            y = F.instance_norm(x, weight=gamma, bias=beta, eps=EPS)
        elif layer == "GroupNorm":
            x = t(xs[-1], True)
            y = F.group_norm(x, case["groups"], gamma, beta, EPS)
        elif layer == "SwitchableNorm":
            lm, lv = t(inputs["mean_logits"], True), t(inputs["var_logits"], True)
            params.update(mean_logits=lm, var_logits=lv)
            rm = torch.zeros(C, dtype=dt)
            rv = torch.zeros(C, dtype=dt)
            keep = 1.0 - case["momentum"]  # the official momentum
            batch_average = case.get("eval_mode") == "batch_average"
            with torch.no_grad():
                sums = [torch.zeros(C, dtype=dt), torch.zeros(C, dtype=dt)]
                for k in range(case["steps"]):
                    _, (mb, vb) = _sn_official(t(xs[k]), gamma, beta, lm, lv, None)
                    if batch_average:  # sn_helper: sums of mu_BN and mu_BN^2 + var_BN
                        sums[0] += mb
                        sums[1] += mb**2 + vb
                    else:
                        rm.mul_(keep).add_((1 - keep) * mb)
                        rv.mul_(keep).add_((1 - keep) * vb)
                if batch_average:
                    rm = sums[0] / case["steps"]
                    rv = sums[1] / case["steps"] - rm**2
            x = t(xs[-1], True)
            y, (mb, vb) = _sn_official(
                x, gamma, beta, lm, lv, None if case["training"] else (rm, rv)
            )
            if case["training"]:  # every training forward updates the moving averages
                rm.mul_(keep).add_((1 - keep) * mb)
                rv.mul_(keep).add_((1 - keep) * vb)
            prefix = "average" if batch_average else "running"
            res[f"{prefix}_mean"] = rm.numpy().copy()
            res[f"{prefix}_var"] = rv.numpy().copy()
        else:  # pragma: no cover - the cases name known layers
            raise ValueError(f"unknown layer {layer!r}")
    y.backward(t(inputs["dy"]))
    res["y"] = y.detach().numpy()
    res["dx"] = x.grad.numpy()
    for k, p in params.items():
        res[f"d{k}"] = p.grad.numpy()
    return res


def _sn_official(x, gamma, beta, mean_logits, var_logits, bn_stats):
    """Switchable Normalization as the official code computes it (see the module notes):
    ``(y, (mu_BN, var_BN))``; ``bn_stats`` = ``(mean, var)`` in evaluation, None in training."""
    import torch

    n, c, h, w = x.shape
    v = x.reshape(n, c, h * w)
    mu_in = v.mean(-1, keepdim=True)
    var_in = v.var(-1, keepdim=True)  # PyTorch's default: unbiased
    second = var_in + mu_in**2
    mu_ln = mu_in.mean(1, keepdim=True)
    var_ln = second.mean(1, keepdim=True) - mu_ln**2
    if bn_stats is None:
        mu_bn = mu_in.mean(0, keepdim=True)
        var_bn = second.mean(0, keepdim=True) - mu_bn**2
    else:
        mu_bn, var_bn = (s.reshape(1, c, 1) for s in bn_stats)
    wm = torch.softmax(mean_logits, 0)
    wv = torch.softmax(var_logits, 0)
    mean = wm[0] * mu_in + wm[1] * mu_ln + wm[2] * mu_bn
    var = wv[0] * var_in + wv[1] * var_ln + wv[2] * var_bn
    z = ((v - mean) / (var + EPS).sqrt()).reshape(n, c, h, w)
    y = z * gamma.reshape(1, c, 1, 1) + beta.reshape(1, c, 1, 1)
    return y, (mu_bn.reshape(c).detach(), var_bn.reshape(c).detach())


def main() -> None:
    arrays: dict[str, np.ndarray] = {"cases": np.array(json.dumps(CASES))}
    for i, case in enumerate(CASES):
        inputs = case_inputs(i, case)
        try:
            out = torch_compute(case, inputs)
        except (ValueError, RuntimeError) as exc:  # PyTorch refuses the case: keep its words
            out = {"refused": np.array(str(exc))}
        for k, v in {**inputs, **out}.items():
            arrays[f"{i}/{k}"] = np.asarray(v)
    import torch

    arrays["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(VECTORS, **arrays)
    print(f"wrote {VECTORS} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
