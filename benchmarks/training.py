"""Training throughput of the replicate-batched teacher-student network.

Compares one SGD step (forward + backward + update) of
:class:`simulations.relu_network.ReLUNetwork` with BN layers from :mod:`regnorm.normalizers`
(replicates folded into channels) against the same network written directly in NumPy (BN
over the batch axis of a ``(S, M, H)`` array, hand-written backward), and both against the
machine's limit (the floating-point rate of one large matrix product).

Run: ``python benchmarks/training.py [--repetitions 16] [--M 32 128] [--width 32]``.
Prints samples per second per replicate, the ratio regnorm / plain NumPy (target: within
1.5x) and the fraction of the matmul peak reached. Timings on a shared machine are inflated
by contention; the best of several repeats is reported, the repeats of the two
implementations alternating so that both see the same load (:mod:`timing`).
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import interleaved_best, machine_line, matmul_rate

from simulations.relu_network import ReLUNetwork, StudentConfig, sgd_step


def plain_numpy_step(p, x, y, lr, eps=1e-5):
    """One SGD step of the two-hidden-layer BN network, NumPy only, seeds batched.

    ``p``: W1 (S,H,d), W2 (S,H,H), g1, b1, g2, b2 (S,H), v (S,H), c (S,).
    """
    M = x.shape[1]
    cache = []
    a = x
    for i in (1, 2):
        u = np.matmul(a, p[f"W{i}"].transpose(0, 2, 1))
        mu = u.mean(1, keepdims=True)
        uc = u - mu
        inv = 1.0 / np.sqrt((uc * uc).mean(1, keepdims=True) + eps)
        z = uc * inv
        h = p[f"g{i}"][:, None, :] * z + p[f"b{i}"][:, None, :]
        cache.append((a, z, inv, h))
        a = np.maximum(h, 0.0)
    f = np.einsum("snh,sh->sn", a, p["v"]) + p["c"][:, None]
    df = 2.0 * (f - y) / M
    g = {"v": np.einsum("sn,snh->sh", df, a), "c": df.sum(1)}
    da = df[:, :, None] * p["v"][:, None, :]
    for i in (2, 1):
        a_in, z, inv, h = cache[i - 1]
        dh = np.where(h > 0, da, 0.0)
        g[f"b{i}"] = dh.sum(1)
        g[f"g{i}"] = (dh * z).sum(1)
        dz = dh * p[f"g{i}"][:, None, :]
        du = inv * (dz - dz.mean(1, keepdims=True) - z * (dz * z).mean(1, keepdims=True))
        g[f"W{i}"] = np.matmul(du.transpose(0, 2, 1), a_in)
        if i > 1:
            da = np.matmul(du, p[f"W{i}"])
    for k in p:
        p[k] -= lr * g[k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=16, help="students trained at once")
    ap.add_argument("--M", type=int, nargs="+", default=[8, 32, 128], help="batch sizes")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--input-dim", type=int, default=16)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    S, H, d = args.repetitions, args.width, args.input_dim
    rng = np.random.default_rng(0)
    peak = matmul_rate(1024, 3) / 1e9
    print(machine_line())
    print(f"replicates S={S}, width H={H}, input d={d}; matmul peak {peak:.1f} GFLOP/s (float64)")
    print("   M   regnorm samples/s/replicate plain NumPy   ratio (regnorm/plain time)   % of peak")
    for M in args.M:
        x = rng.standard_normal((S, M, d))
        y = rng.standard_normal((S, M))
        net = ReLUNetwork(StudentConfig(input_dim=d, width=H, normalizers="batch_norm"), S, rng=1)

        def regnorm_step(net=net, x=x, y=y, M=M):
            f = net.forward(x, training=True)
            net.backward(2.0 * (f - y) / M)
            sgd_step(net, 1e-3)

        p = {k: np.array(v) for k, v in net.params.items()}
        for i in (1, 2):
            p[f"g{i}"], p[f"b{i}"] = np.ones((S, H)), np.zeros((S, H))
        t_reg, t_np = interleaved_best(
            regnorm_step,
            lambda p=p, x=x, y=y: plain_numpy_step(p, x, y, 1e-3),
            args.repeats,
            calls=args.steps,
        )
        flops = 6.0 * S * M * (d * H + H * H + H)
        print(
            f"{M:4d}   {M / t_reg:18.0f}   {M / t_np:11.0f}   {t_reg / t_np:14.2f}"
            f"   {100 * flops / t_reg / 1e9 / peak:18.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
