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

from simulations.batch_noise import GAUSSIAN_BLOCK, gaussian_standardization_error

M = 32
TARGET = 1e-5


def _best_of(fn, repeats=3):
    best = math.inf
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def naive_snippet(N: int, legacy: bool = True, rng=None):
    """The article's snippet, returning the per-batch errors so their spread is known."""
    a = np.random.randn(M, N) if legacy else rng.standard_normal((M, N))  # noqa: NPY002
    b = (a - np.mean(a, axis=0)) / np.std(a, axis=0)
    return np.mean((b - a) ** 2, axis=0)  # np.mean of this is the snippet's printed number


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--billion", action="store_true", help="really simulate 10^9 batches")
    args = p.parse_args(argv)

    # 1. regnorm: pilot for the spread, then the run that reaches the target stderr
    pilot = gaussian_standardization_error(M, 2_000_000, rng=1)
    sd = pilot.stderr * math.sqrt(pilot.trials)
    need = math.ceil((sd / TARGET) ** 2)
    t_reg, est = _best_of(lambda: gaussian_standardization_error(M, need, rng=2), repeats=2)
    print(f"per-batch sd of the C1 error at M={M}: {sd:.5f} -> {need:.3e} batches for 1e-5")
    print(
        f"regnorm two-draw estimator: {t_reg:.2f} s measured for {need:.3e} batches "
        f"(estimate {est.estimate:.6f} +- {est.stderr:.2e})"
    )

    # 5. memory: flat in the number of batches
    for blocks in (4, 16, 64):
        tracemalloc.start()
        gaussian_standardization_error(M, blocks * GAUSSIAN_BLOCK, rng=5)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"tracemalloc peak for {blocks * GAUSSIAN_BLOCK:.2e} batches: {peak / 2**20:.1f} MiB")
    rate = need / t_reg
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

    # 2. naive snippet, measured at N = 1e5 and extrapolated
    N = 100_000
    rows = {}
    for legacy in (True, False):
        rng = np.random.default_rng(3)
        t_n, e = _best_of(lambda legacy=legacy, rng=rng: naive_snippet(N, legacy, rng))
        sd_n = e.std(ddof=1)
        need_n = (sd_n / TARGET) ** 2
        rows[legacy] = t_n / N * need_n
        label = "article snippet (np.random.randn)" if legacy else "naive + Generator"
        print(
            f"{label}: {t_n * 1e3:.1f} ms per {N} batches (sd {sd_n:.5f}); "
            f"extrapolated {rows[legacy]:.1f} s for stderr 1e-5 ({need_n:.3e} batches)"
        )

    # 3. ratios
    print(f"speed-up vs the article's snippet: {rows[True] / t_reg:.1f}x (target >= 10x)")
    print(f"speed-up vs naive + Generator:     {rows[False] / t_reg:.1f}x")

    # 4. draws per second vs the raw generator
    g = np.random.default_rng(4)
    n_raw = 2**24
    t_raw, _ = _best_of(lambda: g.standard_normal(n_raw))
    t_gam, _ = _best_of(lambda: g.standard_gamma((M - 1) / 2, n_raw))
    raw_rate = n_raw / t_raw
    reg_rate = 2 * need / t_reg
    print(
        f"NumPy raw standard_normal: {raw_rate:.3e} draws/s; standard_gamma: "
        f"{n_raw / t_gam:.3e} draws/s"
    )
    print(
        f"regnorm: {reg_rate:.3e} draws/s = {reg_rate / raw_rate:.2f} of raw standard_normal; "
        f"{need / t_reg:.3e} batches/s = {M * need / t_reg:.3e} simulated batch values/s"
    )

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
