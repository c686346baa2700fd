"""Benchmark: Monte-Carlo of the C1 error (M = 32, x inside the batch, biased std).

Prints, in one run on this machine:

1. the time to reach a standard error of 1e-5 with regnorm's two-draw estimator
   (``simulations.batch_noise.gaussian_standardization_error``), measured;
2. the same for the article's naive snippet (001 §1.1: ``np.random.randn(M, N)``, batch
   mean/std, mean squared difference), scaled up: its time per batch and per-batch spread are
   measured on runs of N = 10^5 batches, and the time to reach 1e-5 is extrapolated with
   stderr ∝ 1/sqrt(batches) (running 2.4e7 batches of 32 at once would need 6 GB);
   also a "naive + Generator" variant (same algorithm, NumPy's faster Generator);
3. the ratio (target >= 10x);
4. regnorm's random draws per second against NumPy's raw ``standard_normal`` throughput
   (the machine's limit for this kind of code), and its batches per second;
5. peak memory (measured before the naive runs): tracemalloc peaks at growing numbers of
   batches (flat), and the time that 10^9 batches would take (extrapolated from the
   measured rate; ``--billion`` runs it).

Run: ``python benchmarks/batch_noise.py [--billion]``. The machine is shared: timings are
inflated by contention, the ratios less so.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc

import numpy as np
from timing import best_wall_cpu, machine_line

from simulations.batch_noise import GAUSSIAN_BLOCK, gaussian_standardization_error

M = 32
TARGET = 1e-5


def naive_snippet(N: int, legacy: bool = True, rng=None):
    """The article's snippet, returning the per-batch errors so their spread is known."""
    a = np.random.randn(M, N) if legacy else rng.standard_normal((M, N))  # noqa: NPY002
    b = (a - np.mean(a, axis=0)) / np.std(a, axis=0)
    return np.mean((b - a) ** 2, axis=0)  # np.mean of this is the snippet's printed number


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--billion", action="store_true", help="really simulate 10^9 batches")
    args = p.parse_args(argv)
    print(machine_line())

    # 1. regnorm: pilot for the spread, then one real run that reaches the target stderr
    pilot = gaussian_standardization_error(M, 2_000_000, rng=1)
    sd = pilot.stderr * math.sqrt(pilot.trials)
    need = math.ceil((sd / TARGET) ** 2)
    w_full, c_full, est = best_wall_cpu(lambda: gaussian_standardization_error(M, need, rng=2), 1)
    print(f"per-batch sd of the C1 error at M={M}: {sd:.5f} -> {need:.3e} batches for 1e-5")
    print(
        f"regnorm two-draw estimator, one real run: {w_full:.2f} s wall, {c_full:.2f} s CPU "
        f"for {need:.3e} batches (estimate {est.estimate:.6f} +- {est.stderr:.2e})"
    )

    # 5. memory: flat in the number of batches
    for blocks in (4, 16, 64):
        tracemalloc.start()
        gaussian_standardization_error(M, blocks * GAUSSIAN_BLOCK, rng=5)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"tracemalloc peak for {blocks * GAUSSIAN_BLOCK:.2e} batches: {peak / 2**20:.1f} MiB")
    rate = need / w_full
    if args.billion:
        t = time.perf_counter()
        big = gaussian_standardization_error(M, 10**9, rng=6)
        print(f"10^9 batches: {time.perf_counter() - t:.0f} s, stderr {big.stderr:.2e}")
    else:
        print(
            f"10^9 batches: extrapolated {1e9 / rate:.0f} s at the measured rate "
            "(not run; --billion runs it)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS so far (imports + regnorm runs, before the naive runs): {rss:.0f} MiB")

    # 2. per-batch costs, measured interleaved (min of 5) so that contention hits all alike
    N, n_reg = 100_000, 8 * GAUSSIAN_BLOCK
    rng = np.random.default_rng(3)
    cost = {
        "regnorm": [math.inf, math.inf],
        "article": [math.inf, math.inf],
        "generator": [math.inf, math.inf],
    }
    sds = {}
    for _ in range(5):
        for key, fn, n in (
            ("regnorm", lambda: gaussian_standardization_error(M, n_reg, rng=4), n_reg),
            ("article", lambda: naive_snippet(N, True), N),
            ("generator", lambda: naive_snippet(N, False, rng), N),
        ):
            w, c, out = best_wall_cpu(fn, 1)
            cost[key] = [min(cost[key][0], w / n), min(cost[key][1], c / n)]
            if key != "regnorm":
                sds[key] = out.std(ddof=1)
    for key, label in (
        ("article", "article snippet (np.random.randn)"),
        ("generator", "naive + Generator"),
    ):
        need_n = (sds[key] / TARGET) ** 2
        print(
            f"{label}: {cost[key][0] * N * 1e3:.1f} ms wall per {N} batches (sd "
            f"{sds[key]:.5f}); extrapolated to stderr 1e-5 ({need_n:.3e} batches): "
            f"{cost[key][0] * need_n:.1f} s wall, {cost[key][1] * need_n:.1f} s CPU"
        )
    print(
        f"regnorm at the same min-of-5 rate: {cost['regnorm'][0] * need:.2f} s wall, "
        f"{cost['regnorm'][1] * need:.2f} s CPU for {need:.3e} batches"
    )

    # 3. ratios (time to stderr 1e-5 = per-batch cost x batches needed; both need ~2.4e7)
    for key, label in (("article", "the article's snippet"), ("generator", "naive + Generator")):
        need_n = (sds[key] / TARGET) ** 2
        r_wall = cost[key][0] * need_n / (cost["regnorm"][0] * need)
        r_cpu = cost[key][1] * need_n / (cost["regnorm"][1] * need)
        print(f"speed-up vs {label}: {r_wall:.1f}x wall, {r_cpu:.1f}x CPU (target >= 10x)")

    # 4. draws per second vs the raw generator
    g = np.random.default_rng(4)
    n_raw = 2**22
    w_raw, c_raw, _ = best_wall_cpu(lambda: g.standard_normal(n_raw), 5)
    w_gam, c_gam, _ = best_wall_cpu(lambda: g.standard_gamma((M - 1) / 2, n_raw), 5)
    raw_rate = n_raw / c_raw
    reg_rate = 2 / cost["regnorm"][1]
    limit = (c_raw + c_gam) / n_raw  # CPU per batch of the two raw draws alone
    print(
        f"NumPy raw standard_normal: {raw_rate:.3e} draws/s; standard_gamma((M-1)/2): "
        f"{n_raw / c_gam:.3e} draws/s (CPU time)"
    )
    print(
        f"regnorm: {reg_rate:.3e} draws/s = {reg_rate / raw_rate:.2f} of raw standard_normal; "
        f"{1 / cost['regnorm'][1]:.3e} batches/s = {M / cost['regnorm'][1]:.3e} simulated "
        f"batch values/s; the two raw draws alone take {limit / cost['regnorm'][1]:.2f} of "
        "regnorm's time per batch (the rest: arithmetic and sums)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
