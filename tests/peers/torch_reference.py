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
        else:  # pragma: no cover - the cases name known layers
            raise ValueError(f"unknown layer {layer!r}")
    y.backward(t(inputs["dy"]))
    res["y"] = y.detach().numpy()
    res["dx"] = x.grad.numpy()
    for k, p in params.items():
        res[f"d{k}"] = p.grad.numpy()
    return res


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
