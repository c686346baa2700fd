"""Benchmark: KNConv fused vs naive vs plain convolution, and every normalizer's forward pass
against a plain NumPy expression of the same statistics.

Run:  PYTHONPATH=. python benchmarks/normalizers.py [--quick] [--repeats R]

Part 1 (C21). KNConv on N=8, C=64 -> 64, 32x32, k=3 (stride 1, padding 1, no dropout):
  * fused     -- ``KNConv.forward``: one convolution + window statistics from box sums;
  * naive     -- ``KNConv.forward_naive``: KernelNorm (output 9x the input) then a
    stride-3 convolution;
  * plain     -- ``conv2d`` of the same shape (the limit: fused = plain + statistics);
  * im2col    -- NumPy ``sliding_window_view`` + one ``tensordot`` (what NumPy can do for the
    same convolution when memory is no object), for scale.
  Peak extra memory of each is measured with ``tracemalloc`` (NumPy reports its buffers).
Part 2. Forward pass of each normalizer vs a hand-written NumPy expression of the same
statistics on (32, 64, 32, 32) float64 input (target: within 1.5x).

Timings are the minimum over repeats (wall clock); on a shared machine they are inflated and
noisy -- compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from timing import best_time, machine_line

from regnorm.normalizers import relu_gaussian_moments
from regnorm.normalizers.convolution import conv2d
from regnorm.normalizers.registry import label, make_normalizer

EPS = 1e-5


def peak_memory(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def im2col_conv(x, w, padding):
    xp_ = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp_, w.shape[2:], axis=(2, 3))  # (N, C, OH, OW, k, k)
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def knconv_benchmark(repeats, quick):
    n, c, hw, k = (2, 32, 16, 3) if quick else (8, 64, 32, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw))
    layer = make_normalizer("kn_conv", c, kernel_size=k, stride=1, padding=1, rng=1)
    w = layer.params["weight"]
    cases = {
        "fused KNConv": lambda: layer.forward(x, training=False),
        "naive KernelNorm+conv": lambda: layer.forward_naive(x, training=False),
        "plain conv2d (limit)": lambda: conv2d(x, w, padding=1),
        "NumPy im2col conv": lambda: im2col_conv(x, w, 1),
    }
    print(f"\nKNConv: N={n}, C={c}->{c}, {hw}x{hw}, k={k}, stride 1, padding 1 (float64)")
    print(f"{'':24s} {'time [ms]':>10s} {'x plain':>8s} {'peak mem [MB]':>14s}")
    times = {name: best_time(fn, repeats) for name, fn in cases.items()}
    mems = {name: peak_memory(fn) / 2**20 for name, fn in cases.items()}
    plain = times["plain conv2d (limit)"]
    for name in cases:
        print(f"{name:24s} {1e3 * times[name]:10.1f} {times[name] / plain:8.2f} {mems[name]:14.1f}")
    speedup = times["naive KernelNorm+conv"] / times["fused KNConv"]
    print(
        f"fused / plain = {times['fused KNConv'] / plain:.2f} (target <= 1.3); "
        f"speed-up over naive = {speedup:.1f}x; memory naive / fused = "
        f"{mems['naive KernelNorm+conv'] / mems['fused KNConv']:.1f}x"
    )
    return times, mems


def _affine(z, gamma, beta):
    return z * gamma[None, :, None, None] + beta[None, :, None, None]


def _std(x, axes):
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + EPS)


def _gn(x, g):
    n, c, h, w = x.shape
    return _std(x.reshape(n, g, c // g, h, w), (2, 3, 4)).reshape(x.shape)


def _sn(x):
    mu_in, var_in = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    mu_ln, var_ln = x.mean(axis=(1, 2, 3), keepdims=True), x.var(axis=(1, 2, 3), keepdims=True)
    mu_bn, var_bn = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    mu = (mu_in + mu_ln + mu_bn) / 3
    return (x - mu) / np.sqrt((var_in + var_ln + var_bn) / 3 + EPS)


def _proxy(x, gamma, beta):
    m, v = relu_gaussian_moments(gamma, beta)
    a = np.maximum(_affine(x, gamma, beta), 0)
    return (a - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + EPS)


def _kernel_norm(x, k):
    win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::k, ::k]  # (N, C, OH, OW, k, k)
    mu = win.mean(axis=(1, 4, 5), keepdims=True)
    z = (win - mu) / np.sqrt(win.var(axis=(1, 4, 5), keepdims=True) + EPS)
    n, c, oh, ow = z.shape[:4]
    return z.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * k, ow * k)


def normalizer_benchmark(repeats, quick):
    """Each layer against NumPy computing the same output (same gamma, beta, statistics)."""
    shape = (8, 32, 16, 16) if quick else (32, 64, 32, 32)
    c = shape[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    g, b = rng.uniform(0.5, 1.5, c), rng.normal(0, 0.5, c)
    mu_p, var_p = rng.normal(0, 0.1, c), rng.uniform(0.9, 1.1, c)
    wn = make_normalizer("weight_norm", c, bias=False, rng=0)
    w = wn.params["w"]
    # registry name -> (layer arguments, NumPy expression of the same output)
    references = {
        "batch_norm": ({}, lambda: _affine(_std(x, (0, 2, 3)), g, b)),
        "population_norm": (
            {"mean": mu_p, "var": var_p},
            lambda: _affine(
                (x - mu_p[None, :, None, None]) / np.sqrt(var_p[None, :, None, None] + EPS), g, b
            ),
        ),
        "layer_norm": ({}, lambda: _affine(_std(x, (1, 2, 3)), g, b)),
        "instance_norm": ({}, lambda: _affine(_std(x, (2, 3)), g, b)),
        "group_norm": ({"num_groups": 8}, lambda: _affine(_gn(x, 8), g, b)),
        "switchable_norm": ({}, lambda: _affine(_sn(x), g, b)),
        "weight_norm": (
            {"bias": False, "rng": 0},
            lambda: np.einsum(
                "nchw,oc->nohw", x, w / np.linalg.norm(w, axis=1, keepdims=True), optimize=True
            ),
        ),
        "proxy_norm": ({}, lambda: _proxy(x, g, b)),
        "kernel_norm": ({"kernel_size": 2}, lambda: _kernel_norm(x, 2)),
    }
    extra = {"group_norm": "(G=8)", "proxy_norm": "(relu)", "kernel_norm": "(k=2)"}
    cases = {
        label(name) + extra.get(name, ""): (make_normalizer(name, c, **kw), ref)
        for name, (kw, ref) in references.items()
    }
    print(
        f"\nForward pass vs a plain NumPy expression of the same output, input {shape} "
        "float64 (per-channel gamma, beta)"
    )
    print(f"{'':18s} {'regnorm [ms]':>13s} {'NumPy [ms]':>11s} {'ratio':>6s}")
    out = {}
    for name, (layer, ref) in cases.items():
        if "gamma" in layer.params:
            layer.params["gamma"], layer.params["beta"] = g.copy(), b.copy()
        # the two must compute the same thing, or the timing comparison means nothing
        np.testing.assert_allclose(layer.forward(x), ref(), rtol=1e-9, atol=1e-9)
        t_layer = best_time(lambda layer=layer: layer.forward(x), repeats)
        t_ref = best_time(ref, repeats)
        out[name] = t_layer / t_ref
        flag = "" if t_layer / t_ref <= 1.5 else "  (> 1.5x target)"
        print(f"{name:18s} {1e3 * t_layer:13.1f} {1e3 * t_ref:11.1f} {t_layer / t_ref:6.2f}{flag}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small shapes")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print(machine_line())
    knconv_benchmark(args.repeats, args.quick)
    normalizer_benchmark(args.repeats, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
