"""Benchmark: teacher-student numerics. A script, not a test.

Prints, in one run on the same machine:

1. the machine's matrix-multiply rate (float64 GEMM, best of several),
2. the BN-student SGD's achieved floating-point rate, for K students sharing every minibatch
   (variants x step sizes x starts: one matrix-matrix product per step) and for one student
   (a matrix-vector product per step), as a fraction of (1),
3. the wall time of ``figures/teacher_student.py --full`` (N = 4096), run for real,
4. the ridge curve for 50 zeta from one decomposition vs 50 separate solves.

Run: ``python benchmarks/teacher_student.py [--N 4096] [--skip-full-figure]`` (about 20 min).
Timings on a shared machine are inflated by other processes: the script says how busy it was.
The SGD rates are measured with one BLAS thread per training (what ``--full`` uses: one worker
process per core); the matmul rate with all cores.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from timing import best_time, machine_line, matmul_rate

from simulations import teacher_student as ts


def sgd_rate(N, K, M=32, alpha=1.0, steps=512, solver="precond", fused=None, rng=None):
    """(flop rate, seconds per step) of :func:`train_students` on K columns.

    Counted flops: the two products per step, ``4 M r K`` (``r = min(P, N)``, the dimension
    the preconditioned solver trains in); the elementwise work is not counted. ``steps``
    as in the figure's runs (hundreds to thousands per call), so per-call setup is amortized.
    ``rng`` draws the data set, the start and the minibatches (default: seed 0).
    """
    rng = np.random.default_rng(0 if rng is None else rng)
    P = round(alpha * N)
    data = ts.teacher(N, P, 0.25, rng=rng)
    kw = {}
    if solver == "precond":
        view = ts.spectral_view(data)
        data = view.data
        kw["precond"] = 1.0 / (np.asarray(view.lam) + 1.0 / (4 * M))
        kw["fused"] = fused
    r = data.X.shape[-1]
    v0 = rng.standard_normal((r, K)) / math.sqrt(r)
    variants = list(ts.VARIANTS)
    names = [variants[k % len(variants)] for k in range(K)]
    epochs = max(1, steps // (P // M))
    n_steps = epochs * (P // M)

    def run():
        ts.train_students(data, names, M=M, v0=v0, lr=1e-4, epochs=epochs, rng=rng, **kw)

    t = best_time(run, 2)
    flops = 4 * M * r * K * n_steps
    return flops / t, t / n_steps


def _rate_task(params, rng):
    rate, per_step = sgd_rate(params["N"], params["K"], steps=params["steps"], rng=rng)
    return {"rate": rate, "per_step": per_step}


def sgd_rate_all_cores(N, K, steps=512):
    """Aggregate rate of one training per core, run at the same time (as ``--full`` does)."""
    from regnorm.sweeps import sweep

    workers = os.cpu_count() or 1
    df = sweep(
        _rate_task,
        [dict(N=N, K=K, steps=steps)],
        repetitions=workers,
        seed=0,
        executor=f"processes:{workers}",
    )
    return float(df["rate"].sum()), workers


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
    p.add_argument(
        "--skip-full-figure", action="store_true", help="skip the --full figure (5-7 min)"
    )
    p.add_argument("--ridge-N", type=int, default=1024)
    args = p.parse_args(argv)
    print(machine_line())
    peak = matmul_rate()
    print(f"[1] float64 matmul (2048^3, all cores): {peak / 1e9:.1f} GFLOP/s")

    N = args.N
    K_fig = 5 * 2 * 2  # variants x step sizes x starts: what one figure task trains together
    from threadpoolctl import threadpool_limits

    for K, label in (
        (1, "one student (matrix-vector)"),
        (K_fig, f"K={K_fig} shared batches (the figure's tasks)"),
        (2 * K_fig, f"K={2 * K_fig} shared batches"),
        (4 * K_fig, f"K={4 * K_fig} shared batches"),
    ):
        for solver, fused, name in (
            ("precond", None, "precond, fused kernels"),
            ("precond", False, "precond, array-API steps"),
            ("sphere", None, "sphere"),
        ):
            with threadpool_limits(limits=1):
                rate, per_step = sgd_rate(N, K, solver=solver, fused=fused)
            print(
                f"[2] BN-student SGD ({name}, 1 core), N={N}, alpha=1, M=32, {label}: "
                f"{rate / 1e9:.2f} GFLOP/s = {100 * rate / peak:.1f}% of matmul "
                f"({1e3 * per_step:.2f} ms/step)"
            )
    for K in (K_fig, 2 * K_fig, 4 * K_fig):
        rate, workers = sgd_rate_all_cores(N, K)
        print(
            f"[2] ... {workers} trainings at once (one per core, 1 BLAS thread each, as --full "
            f"runs), K={K}: {rate / 1e9:.2f} GFLOP/s = {100 * rate / peak:.1f}% of matmul"
        )

    # [3] the --full figure, run for real in a fresh output directory (no store to resume)
    if args.skip_full_figure:
        print("[3] --full figure: skipped (--skip-full-figure)")
    else:
        import subprocess
        import sys
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "figures.teacher_student", "--full", "--out", tmp],
                check=True,
                capture_output=True,
            )
            wall = time.perf_counter() - t
        print(
            f"[3] --full figure (N=4096, 10 alpha x 5 data sets, one worker per core): "
            f"{wall / 60:.1f} min wall (target 15 min)"
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
