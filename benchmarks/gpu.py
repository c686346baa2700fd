"""Benchmark: regnorm on one NVIDIA GPU (CuPy) against NumPy, in one run of under 8 minutes.

Run on the device (one NVIDIA H200, NVIDIA's image: CuPy, NumPy, SciPy, pandas, pyarrow,
matplotlib and numba are there, array-api-compat is not). Once, here, in the repository root::

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux2014_x86_64 -d .whl array-api-compat==1.16.0

then the device tool's ``run`` with ``carry=[".whl"]`` and ``timeout_s=590``::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \\
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --out $OUT 2>&1 | tee $OUT/gpu-log.txt

and commit the JSON that comes back as ``benchmarks/results/gpu-<date>.json``.

``python benchmarks/gpu.py [--out DIR] [--small] [--backend SPEC]`` prints each section's
results and writes them, with the machine, to ``DIR/gpu-<date>.json`` (default
``benchmarks/results``; ``--small``: ``gpu-small-<date>.json``). Sections, each in a child
process with a wall-clock budget (a failure or an overrun is recorded with its error and
the others still run):

``agreement``
    CuPy against NumPy on each hot path: teacher data (the same draws moved over) and the
    ridge path to rounding; one SGD variant's trained error (CuPy's own draws) within
    standard errors; the C1 estimate within standard errors; the normalizers' forward and
    backward to rounding.
``sgd``
    The BN student's SGD step time and flop rate, data sets and students batched into one
    product per step, against the GPU's fp64 matrix-multiply rate in the same run (target:
    at least 30%).
``c1``
    The C1 Monte-Carlo throughput (batches per second) against CuPy's raw normal + gamma
    draw rate in the same run (target: at least 50%), and the next term ``7/16`` of the C1
    error (:func:`simulations.batch_noise.c1_next_order`) at the trials that fit the budget.
``figure``
    The paper-scale teacher-student figure (``--full``, N = 4096), timed (target: under
    1 minute).
``finite_size``
    The finite-size study of C6 and C8 at N = 1024, 4096, 16384
    (:func:`simulations.teacher_student.finite_size_study`), timed (target: under 4 minutes).

``--small`` runs every section at tiny sizes on ``array_api_strict:device1`` (a CPU
stand-in for a device: it refuses to mix arrays of two devices), against NumPy, so that the
script is tested without a GPU (``tests/test_gpu_benchmark.py``); its timings mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # the checkout's packages, installed or not

FORMAT = "regnorm-gpu-benchmark/1"

#: Section name -> (wall-clock budget in seconds, target). The budgets add up to the whole
#: run's (a section that finishes early leaves its rest unused: each keeps its own, so a
#: slow early section never eats the finite-size study's); CuPy compiles each kernel on
#: its first use on a fresh machine, inside the budgets.
SECTIONS: dict[str, tuple[float, str]] = {
    "agreement": (45.0, "CuPy = NumPy to rounding (same data), within errors (own draws)"),
    "sgd": (40.0, "SGD flop rate >= 30% of the fp64 matmul rate"),
    "c1": (50.0, "C1 throughput >= 50% of the raw normal + gamma draw rate"),
    "figure": (90.0, "teacher_student --full (N = 4096) in < 60 s"),
    "finite_size": (240.0, "finite-size study (N = 1024, 4096, 16384) in < 240 s"),
}
#: The whole run's budget (8 minutes less a margin for start-up and writing).
TOTAL_BUDGET_S = 470.0
#: ``--small``: each section's budget, and the whole run's.
SMALL_SECTION_S = 40.0
SMALL_BUDGET_S = 120.0


def _missing_compat() -> str | None:
    try:
        import array_api_compat  # noqa: F401
    except ImportError:
        return (
            "benchmarks/gpu.py: array-api-compat is not installed here (regnorm needs it): "
            "carry its wheel and install it first, as the command at the top of this file says"
        )
    return None


# --- helpers of the sections ------------------------------------------------------------


def _sync(backend) -> None:
    """Wait for the device's queued work (CuPy); nothing elsewhere."""
    if backend.name == "cupy":
        backend.xp_module().cuda.Device().synchronize()


def _timed(fn, backend, repeats: int = 1) -> tuple[float, Any]:
    """Minimum wall seconds of ``fn()`` over ``repeats`` calls, synchronized, and its result."""
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        _sync(backend)
        best = min(best, time.perf_counter() - t)
    return best, out


def _max_rel(a, b) -> float:
    """``max |a - b| / max |a|`` of two arrays (NumPy after the exit to the host)."""
    import numpy as np

    from regnorm.backend import to_numpy

    a, b = np.asarray(to_numpy(a), dtype=float), np.asarray(to_numpy(b), dtype=float)
    scale = float(np.max(np.abs(a))) or 1.0
    return float(np.max(np.abs(a - b))) / scale


def _two_sample_z(m1: float, s1: float, m2: float, s2: float) -> float:
    return (m1 - m2) / math.sqrt(s1 * s1 + s2 * s2)


def _guarded(results: dict, key: str, fn) -> None:
    """``results[key] = fn()``, or the error that stopped it (the other parts still run)."""
    try:
        results[key] = fn()
    except Exception as exc:  # a broken part is a finding, not the end of the section
        results[key] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        traceback.print_exc()


#: The tolerance of "to rounding" here: float64 results of up to ~1e6 operations on two
#: libraries (BLAS, cuBLAS, cuSOLVER) whose summation orders differ.
ROUNDING = 1e-9
#: |z| within which two estimates of the same quantity agree.
Z_AGREE = 5.0


# --- the sections -----------------------------------------------------------------------


def section_agreement(backend, small: bool) -> dict:
    import numpy as np

    from regnorm.backend import resolve_backend
    from regnorm.estimates import mean_estimate
    from regnorm.normalizers.registry import make_normalizer
    from simulations.batch_noise import gaussian_standardization_error
    from simulations.teacher_student import (
        DELTA2_PAPER,
        M_PAPER,
        TeacherData,
        ridge_path,
        teacher,
        train_students,
    )

    host = resolve_backend("numpy")
    out: dict[str, Any] = {}

    def ridge() -> dict:
        N, P = (32, 48) if small else (2048, 3072)
        data = teacher(N, P, DELTA2_PAPER, rng=1, backend=host)
        moved = TeacherData(*(backend.asarray(a) for a in (data.X, data.y, data.w_star)))
        zetas = np.geomspace(1e-3, 1.0, 20)
        rel = _max_rel(ridge_path(data, zetas), ridge_path(moved, zetas))
        own = teacher(N, P, DELTA2_PAPER, rng=1, backend=backend)
        norm = float(backend.to_numpy(backend.xp.sum(own.w_star * own.w_star)))
        return {"N": N, "P": P, "max_rel_diff": rel, "ok": rel <= ROUNDING,
                "own_draws_w_star_norm2": norm}  # fmt: skip

    def sgd() -> dict:
        N, P, reps = (24, 48, 6) if small else (512, 1024, 16)
        M, epochs = (8, 20) if small else (M_PAPER, 30)
        errs = {}
        for b in (host, backend):
            data = teacher(N, P, DELTA2_PAPER, repetitions=reps, rng=2, backend=b)
            v0 = b.asarray(np.full((reps, N, 1), 1.0 / math.sqrt(N)))
            res = train_students(data, ["batch_norm"], M=M, v0=v0, lr=0.05, epochs=epochs, rng=3)
            v = res["v_avg"][..., 0]
            e = b.xp.sum((v - data.w_star) ** 2, axis=-1)
            errs[b.spec] = mean_estimate(np.asarray(b.to_numpy(e), dtype=float))
        a, c = errs[host.spec], errs[backend.spec]
        z = _two_sample_z(c.value, c.stderr, a.value, a.stderr)
        return {"variant": "batch_norm", "N": N, "P": P, "M": M, "repetitions": reps,
                "numpy": list(a[:2]), "backend": list(c[:2]), "z": z,
                "ok": abs(z) <= Z_AGREE}  # fmt: skip

    def c1() -> dict:
        M, trials = (16, 200_000) if small else (32, 50_000_000)
        a = gaussian_standardization_error(M, trials, rng=4).as_estimate()
        c = gaussian_standardization_error(M, trials, rng=4, backend=backend).as_estimate()
        z = _two_sample_z(c.value, c.stderr, a.value, a.stderr)
        return {"M": M, "trials": trials, "numpy": [a.value, a.stderr],
                "backend": [c.value, c.stderr], "z": z, "ok": abs(z) <= Z_AGREE}  # fmt: skip

    def normalizers() -> dict:
        rng = np.random.default_rng(5)
        shape = (16, 8, 4, 4) if small else (256, 64, 16, 16)
        x = rng.standard_normal(shape)
        dy = rng.standard_normal(shape)
        cases = {
            "batch_norm": {},
            "batch_norm_mean": {},
            "batch_norm_variance": {},
            "layer_norm": {},
            "instance_norm": {},
            "group_norm": {"num_groups": 4},
            "rms_norm": {},
            "batch_renorm": {},
            "switchable_norm": {},
        }
        found = {}
        for name, kw in cases.items():
            try:
                pair = [make_normalizer(name, shape[1], xp=b, **kw) for b in (host, backend)]
                ys = [
                    layer.forward(b.asarray(x))
                    for layer, b in zip(pair, (host, backend), strict=True)
                ]
                dxs = [
                    layer.backward(b.asarray(dy))
                    for layer, b in zip(pair, (host, backend), strict=True)
                ]
                rel = max(
                    _max_rel(ys[0], ys[1]),
                    _max_rel(dxs[0], dxs[1]),
                    *(_max_rel(pair[0].grads[k], pair[1].grads[k]) for k in pair[0].grads),
                )
                found[name] = {"max_rel_diff": rel, "ok": rel <= ROUNDING}
            except Exception as exc:
                found[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        return {"shape": list(shape), "cases": found,
                "ok": all(c.get("ok", False) for c in found.values())}  # fmt: skip

    for key, fn in [("ridge", ridge), ("sgd", sgd), ("c1", c1), ("normalizers", normalizers)]:
        _guarded(out, key, fn)
        print(f"[agreement] {key}: {json.dumps(out[key], default=str)[:300]}", flush=True)
    out["ok"] = all(isinstance(v, dict) and v.get("ok") for v in out.values())
    return out


def section_sgd(backend, small: bool) -> dict:
    import numpy as np

    # timing.py lives beside this script
    from timing import matmul_rate

    from simulations.teacher_student import DELTA2_PAPER, M_PAPER, teacher, train_students

    n = 256 if small else 8192
    peak = matmul_rate(n, 3, xp=backend.xp, sync=lambda: _sync(backend))
    print(f"[sgd] fp64 matmul {n}^3: {peak / 1e12:.3f} TFLOP/s", flush=True)
    N, M = (32, 8) if small else (4096, M_PAPER)
    P = N
    configs = [(1, 2), (2, 4)] if small else [(1, 20), (8, 64), (32, 64), (32, 128)]
    runs = []
    for reps, K in configs:

        def one(reps=reps, K=K) -> dict:
            data = teacher(N, P, DELTA2_PAPER, repetitions=reps, rng=6, backend=backend)
            v0 = backend.asarray(np.full((reps, N, K), 1.0 / math.sqrt(N)))

            def train():
                return train_students(
                    data, ["batch_norm"] * K, M=M, v0=v0, lr=1e-3, epochs=2, rng=7
                )

            _timed(train, backend)  # compile and warm the kernels and the allocator
            t, res = _timed(train, backend, repeats=2)
            steps = int(res["steps"])
            flops = 4.0 * M * N * K * reps * steps  # the two products X_B W and X_B^T dH
            rate = flops / t
            return {"data_sets": reps, "students": K, "N": N, "M": M, "steps": steps,
                    "step_s": t / steps, "flop_rate": rate,
                    "fraction_of_matmul": rate / peak}  # fmt: skip

        row: dict[str, Any] = {}
        _guarded(row, "run", one)
        runs.append(row["run"])
        print(f"[sgd] {json.dumps(row['run'], default=str)}", flush=True)
    best = max((r.get("fraction_of_matmul", 0.0) for r in runs), default=0.0)
    return {"matmul_n": n, "matmul_rate": peak, "runs": runs, "best_fraction": best,
            "meets_target": best >= 0.30}  # fmt: skip


def section_c1(backend, small: bool, budget_s: float) -> dict:
    import numpy as np

    from regnorm.backend import random_generator
    from simulations.batch_noise import (
        GAUSSIAN_BLOCK,
        c1_next_order,
        gaussian_standardization_error,
        next_order_fit,
    )

    t_start = time.perf_counter()
    M = 64
    n = 2**16 if small else 2**24
    gen = random_generator(backend, 8)

    def raw():
        gen.standard_normal(n)
        gen.standard_gamma((M - 1) / 2.0, n)

    raw()
    t_raw, _ = _timed(raw, backend, repeats=3)
    raw_rate = n / t_raw
    est_rate = {}
    # each block starts a generator of the seed rule: the default block (the C1 check's)
    # pays that start-up 2^18 batches at a time, a large block (c1_next_order's) rarely
    cases = [("default block", None, 2**25), ("block 2^22", 2**22, 2**28)]
    for label, block, trials in cases:
        if small:
            block, trials = (None if block is None else 2**14), 2**18
        kw = {} if block is None else {"block": block}

        def mc(trials=trials, kw=kw):
            if not kw:
                return gaussian_standardization_error(M, trials, rng=9, backend=backend)
            return c1_next_order((M,), trials, backend=backend, seed=9, **kw)

        mc(min(trials, block or GAUSSIAN_BLOCK))  # compile and warm, one block
        t, _ = _timed(mc, backend)
        est_rate[label] = {"block": block or GAUSSIAN_BLOCK, "trials": trials,
                           "seconds": t, "batches_per_s": trials / t,
                           "fraction_of_raw": trials / t / raw_rate}  # fmt: skip
        print(f"[c1] {label}: {est_rate[label]}", flush=True)
    best = max(r["fraction_of_raw"] for r in est_rate.values())
    out: dict[str, Any] = {"M": M, "raw_draws": n, "raw_pairs_per_s": raw_rate,
                           "estimator": est_rate, "best_fraction": best,
                           "meets_target": best >= 0.50}  # fmt: skip

    def next_order() -> dict:
        Ms = (8, 16) if small else (64, 256, 1024)
        rate = max(r["batches_per_s"] for r in est_rate.values())
        left = budget_s - (time.perf_counter() - t_start) - 10.0
        per_M = int(max(20_000, 0.7 * left * rate / len(Ms))) if not small else 20_000
        per_M = min(per_M, 10**12)
        block = 2**14 if small else 2**22
        t0 = time.perf_counter()
        df = c1_next_order(Ms, per_M, backend=backend, seed=10, block=block)
        fit = next_order_fit(df)
        return {"Ms": list(Ms), "trials_per_M": per_M, "seconds": time.perf_counter() - t0,
                "rows": json.loads(df.to_json(orient="records")),
                "fit": {k: (v.item() if isinstance(v, np.generic) else v)
                        for k, v in fit.items()}}  # fmt: skip

    _guarded(out, "next_order", next_order)
    print(f"[c1] next order: {json.dumps(out['next_order'], default=str)[:400]}", flush=True)
    return out


def section_figure(backend, small: bool) -> dict:
    from figures.teacher_student import run

    size = {"quick": True} if small else {"full": True}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = run(Path(tmp), seed=0, backend=backend.spec, **size)
        wall = time.perf_counter() - t0
        import pandas as pd

        c8 = pd.read_parquet(Path(tmp) / "teacher_student_c8.parquet")
        names = sorted(p.name for p in paths)
    return {"size": next(iter(size)), "wall_s": wall, "files": names,
            "c8_summary": json.loads(c8.to_json(orient="records")),
            "meets_target": wall < 60.0}  # fmt: skip


def section_finite_size(backend, small: bool) -> dict:
    from simulations.teacher_student import (
        DELTA2_PAPER,
        M_PAPER,
        finite_size_analysis,
        finite_size_study,
    )

    kw = dict(Ns=(16, 32), alphas=(0.5, 0.9, 2.0), repetitions=2, M=4) if small else dict(M=M_PAPER)
    t0 = time.perf_counter()
    df = finite_size_study(delta2=DELTA2_PAPER, backend=backend, seed=0, **kw)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {"wall_s": wall, "Ns": sorted(set(df["N"].tolist())),
                           "alphas": sorted(set(df["alpha"].tolist())),
                           "rows": json.loads(df.to_json(orient="records")),
                           "meets_target": wall < 240.0}  # fmt: skip

    def analysis() -> dict:
        a = finite_size_analysis(df)
        return {"trend": json.loads(a.trend.to_json(orient="records"))}

    _guarded(out, "analysis", analysis)
    return out


# --- the run ------------------------------------------------------------------------------


def _machine(backend) -> dict:
    import numpy as np

    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__,
                            "cpus": os.cpu_count(), "backend": backend.spec}  # fmt: skip
    if backend.name == "cupy":
        cp = backend.xp_module()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        info.update(cupy=cp.__version__, gpu=name.decode() if isinstance(name, bytes) else name,
                    gpu_memory_bytes=int(props["totalGlobalMem"]))  # fmt: skip
    return info


def run_section(name: str, spec: str, small: bool, budget_s: float) -> dict:
    """Run one section here (the child's side) and return its results."""
    from regnorm.backend import resolve_backend

    backend = resolve_backend(spec)
    t0 = time.perf_counter()
    with backend.activate():
        if name == "agreement":
            out = section_agreement(backend, small)
        elif name == "sgd":
            out = section_sgd(backend, small)
        elif name == "c1":
            out = section_c1(backend, small, budget_s)
        elif name == "figure":
            out = section_figure(backend, small)
        elif name == "finite_size":
            out = section_finite_size(backend, small)
        else:
            raise ValueError(f"section={name!r} is not a section; allowed: {', '.join(SECTIONS)}")
    out["machine"] = _machine(backend)
    return {"status": "ok", "wall_s": time.perf_counter() - t0, **out}


def _child(args) -> int:
    try:
        result = run_section(args.section, args.backend, args.small, args.budget)
    except Exception as exc:
        traceback.print_exc()
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    Path(args.result).write_text(json.dumps(result, default=str, allow_nan=True))
    return 0


def _spawn(name: str, spec: str, small: bool, budget: float, tmp: Path) -> dict:
    """Run section ``name`` in a child process within ``budget`` seconds; its record."""
    result = tmp / f"{name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--section", name,
               "--backend", spec, "--result", str(result), "--budget", str(budget)]  # fmt: skip
    if small:
        command.append("--small")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(command, timeout=budget)
    except subprocess.TimeoutExpired:
        return {"status": "timed out", "error": f"over its budget of {budget:.0f} s",
                "wall_s": time.perf_counter() - t0}  # fmt: skip
    if not result.exists():
        return {"status": "failed", "error": f"the child exited with code {proc.returncode} "
                "and wrote nothing", "wall_s": time.perf_counter() - t0}  # fmt: skip
    # the section's own wall time leaves out the child's start-up (imports, CUDA context)
    return {**json.loads(result.read_text()), "process_wall_s": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), metavar="DIR")
    p.add_argument("--small", action="store_true", help="tiny sizes on array_api_strict")
    p.add_argument("--backend", default=None, help="default: cupy (--small: strict:device1)")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    p.add_argument("--section", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, default=60.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    missing = _missing_compat()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if args.backend is None:
        args.backend = "array_api_strict:device1" if args.small else "cupy"
    from regnorm.backend import BackendUnavailableError, resolve_backend

    try:
        spec = resolve_backend(args.backend).spec
    except (ValueError, BackendUnavailableError) as exc:
        print(f"benchmarks/gpu.py: --backend: {exc}", file=sys.stderr)
        return 2
    if args.section is not None:
        return _child(args)
    names = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown or not names:
        print(f"benchmarks/gpu.py: --sections: unknown {unknown or names}; allowed: "
              f"{', '.join(SECTIONS)}", file=sys.stderr)  # fmt: skip
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    date = datetime.datetime.now(datetime.UTC)
    path = out_dir / f"gpu{'-small' if args.small else ''}-{date:%Y-%m-%d}.json"
    total = SMALL_BUDGET_S if args.small else TOTAL_BUDGET_S
    record: dict[str, Any] = {"format": FORMAT, "date": date.isoformat(timespec="seconds"),
                              "small": args.small, "backend": spec, "baseline": "numpy",
                              "budget_s": total, "sections": {}}  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            own, target = SECTIONS[name]
            left = total - (time.perf_counter() - t0)
            budget = min(SMALL_SECTION_S if args.small else own, left)
            if budget < 5.0:
                record["sections"][name] = {"target": target, "status": "skipped",
                                            "error": "the run's budget is spent"}  # fmt: skip
                continue
            print(f"== {name} (budget {budget:.0f} s; target: {target})", flush=True)
            res = _spawn(name, spec, args.small, budget, Path(tmp))
            res = {"target": target, "budget_s": budget, **res}
            record["sections"][name] = res
            print(f"== {name}: {res['status']} in {res.get('wall_s', float('nan')):.1f} s",
                  flush=True)  # fmt: skip
    record["wall_s"] = time.perf_counter() - t0
    path.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {path} ({record['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
