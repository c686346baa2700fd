"""Benchmark: teacher-student numerics (issue 4). A script, not a test.

Prints, in one run on the same machine:

1. the machine's matrix-multiply rate (float64 GEMM, best of several),
2. the BN-student SGD's achieved floating-point rate, for K students sharing every minibatch
   (variants x step sizes x starts: one matrix-matrix product per step) and for one student
   (a matrix-vector product per step), as a fraction of (1),
3. an estimate of the wall time of ``figures/teacher_student.py --full`` (N = 4096), from the
   measured time per SGD step and per decomposition at N = 4096 and the number of epochs the
   convergence criterion needed per alpha in a smaller run (``--epochs-from PARQUET``, e.g. the
   default figure's data; without it, the criterion's minimum),
4. the ridge curve for 50 zeta from one decomposition vs 50 separate solves.

Run: ``python benchmarks/teacher_student.py [--N 4096] [--epochs-from PARQUET]``.
Timings on a shared machine are inflated by other processes: the script says how busy it was.
On a busy machine multithreaded BLAS is pathologically slow for the small per-step products:
run with ``OPENBLAS_NUM_THREADS=1`` (the script reports the setting).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from simulations import teacher_student as ts

FLAT_VARIANTS = ["bn", "bn_uncentred", "wn_mean_only", "wn_variance_only", "wn"]


def best_time(fn, repeat=3):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_rate(n=2048):
    a = np.random.default_rng(0).standard_normal((n, n))
    b = np.random.default_rng(1).standard_normal((n, n))
    a @ b
    return 2 * n**3 / best_time(lambda: a @ b, 5)


def sgd_rate(N, K, M=32, alpha=1.0, steps=128, reps=None):
    P = round(alpha * N)
    data = ts.teacher(N, P, 0.25, rng=0, reps=reps)
    lead = () if reps is None else (reps,)
    rng = np.random.default_rng(1)
    v0 = rng.standard_normal((*lead, N, K)) / math.sqrt(N)
    names = [FLAT_VARIANTS[k % len(FLAT_VARIANTS)] for k in range(K)]
    epochs = max(1, steps // (P // M))
    n_steps = epochs * (P // M)

    def run():
        ts.train_students(data, names, M=M, v0=v0, lr=1e-3, epochs=epochs, rng=2)

    t = best_time(run, 2)
    flops = 4 * M * N * K * n_steps * (1 if reps is None else reps)
    return flops / t, t / n_steps


def decomposition_time(N, alpha):
    data = ts.teacher(N, round(alpha * N), 0.25, rng=0)
    return best_time(lambda: ts.ridge_path(ts.TeacherData(data.X, data.y, data.w_star), [0.0]), 1)


def ridge_bench(N=1024, alpha=2.0, nz=50):
    data = ts.teacher(N, round(alpha * N), 0.25, rng=0)
    X, y = data.X, data.y
    zetas = np.geomspace(1e-3, 1.0, nz)

    def one_decomposition():
        ts.ridge_path(ts.TeacherData(X, y, data.w_star), zetas)

    def separate_from_scratch():
        for z in zetas:
            np.linalg.solve(X.T @ X / N + z * np.eye(N), X.T @ y / N)

    G, r = X.T @ X / N, X.T @ y / N

    def separate_shared_gram():
        for z in zetas:
            np.linalg.solve(G + z * np.eye(N), r)

    t1 = best_time(one_decomposition, 2)
    t2 = best_time(separate_from_scratch, 1)
    t3 = best_time(separate_shared_gram, 1)
    return t1, t2, t3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=4096)
    p.add_argument("--epochs-from", default=None, help="parquet of a figure run (epochs per alpha)")
    p.add_argument("--ridge-N", type=int, default=1024)
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} (timings inflated if > cores)")
    peak = matmul_rate()
    print(f"[1] float64 matmul (2048^3): {peak / 1e9:.1f} GFLOP/s")

    N = args.N
    K_fig = 5 * 2 * 2  # variants x step sizes x starts: what one figure task trains together
    print(
        f"    BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    for K, label in (
        (1, "one student (matrix-vector)"),
        (K_fig, f"K={K_fig} shared batches (the figure's tasks)"),
        (4 * K_fig, f"K={4 * K_fig} shared batches"),
    ):
        rate, per_step = sgd_rate(N, K)
        print(
            f"[2] BN-student SGD, N={N}, M=32, {label}: {rate / 1e9:.2f} GFLOP/s = "
            f"{100 * rate / peak:.1f}% of matmul ({1e3 * per_step:.2f} ms/step)"
        )
    rate4, _ = sgd_rate(N, K_fig, reps=2, steps=64)
    print(
        f"[2] ... K={K_fig} x 2 data sets batched: {rate4 / 1e9:.2f} GFLOP/s = "
        f"{100 * rate4 / peak:.1f}% of matmul"
    )

    # [3] estimate of the --full figure: SGD steps x time per step + decompositions
    from figures.teacher_student import SIZES

    full = SIZES["full"]
    _, per_step = sgd_rate(4096, K_fig, steps=64)
    epochs = {}
    if args.epochs_from:
        import pandas as pd

        df = pd.read_parquet(args.epochs_from)
        ep = df.groupby("alpha")["epochs"].mean()
        epochs = {
            a: float(np.interp(a, ep.index.to_numpy(), ep.to_numpy())) for a in full["alphas"]
        }
    total_steps = 0.0
    for a in full["alphas"]:
        e = epochs.get(a) or 3 * ts._epochs_for(
            a, 4096, 32, 0.25 / (1 + math.sqrt(128)) ** 2 * 0.5, 1.0, min(a, 1.0) / 64
        )
        total_steps += full["reps"] * e * (round(a * 4096) // 32)
    t_dec = decomposition_time(4096, 1.0)
    n_tasks = full["reps"] * len(full["alphas"])
    est = total_steps * per_step + n_tasks * t_dec  # one cached decomposition per task
    src = (
        f"epochs per alpha from {args.epochs_from}" if epochs else "minimum epochs of the criterion"
    )
    print(
        f"[3] --full estimate: {total_steps:.3g} SGD steps x {1e3 * per_step:.1f} ms + "
        f"{n_tasks} tasks x 1 decomposition x {t_dec:.1f} s = {est / 60:.0f} min ({src})"
    )

    t1, t2, t3 = ridge_bench(args.ridge_N)
    print(
        f"[4] ridge curve, 50 zeta, N={args.ridge_N}, P=2N: one decomposition {t1:.2f} s; "
        f"50 solves from scratch {t2:.2f} s ({t2 / t1:.1f}x); 50 solves sharing X^T X "
        f"{t3:.2f} s ({t3 / t1:.1f}x)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
