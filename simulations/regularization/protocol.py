"""The training protocol of the regularization experiments: methods, sizes, paired runs.

A *run* is one student configuration (a method of :data:`METHODS` at a batch size ``M``,
with optional per-layer normalizers and dropout); :func:`run_methods` trains every run on the
same ``repetitions`` seeds, so that two runs differ only in what the run changes. The four
experiments of C9-C12 are lists of runs.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from regnorm.backend import backend_param, resolve_backend
from regnorm.normalizers.registry import canonical_name
from regnorm.seeding import seed_sequence
from regnorm.validation import check_choice, check_integer

from ..relu_network import StudentConfig, TrainingProtocol, train_relu_students

if TYPE_CHECKING:  # pandas loads lazily: the command line imports this module
    import pandas as pd

__all__ = [
    "C9_METHODS",
    "C10_METHODS",
    "C11_OPEN",
    "DELTA2",
    "METHODS",
    "SIZES",
    "TEACHER_HIDDEN",
    "batch_size_gamma",
    "bn_vs_pn",
    "dropout_experiment",
    "mean_variance_noise",
    "run_methods",
]

#: Problem and protocol sizes. "full" is what the README's numbers come from.
SIZES = {
    "quick": dict(
        repetitions=8,
        input_dim=16,
        width=32,
        n_train=256,
        n_test=2048,
        steps=600,
        lr=0.05,
        n_stat=2000,
        stat_every=100,
        batch_sizes=(8, 64),
        M_small=16,
        M_large=128,
    ),
    "full": dict(
        repetitions=12,
        input_dim=16,
        width=32,
        n_train=256,
        n_test=4096,
        steps=1500,
        lr=0.05,
        n_stat=10_000,
        stat_every=300,
        batch_sizes=(4, 8, 16, 32, 64, 128),
        M_small=16,
        M_large=128,
    ),
}

#: The students compared, by name: (normalizer of every hidden layer, weight parametrization,
#: PN gamma decay, curvature A'' used in zeta: Gauss-Newton of the loss, or the article's
#: activation probability "relu"). A student with one normalizer is named after it; the two
#: partial BNs act on weight-normalized layers (the "WN + mean-only BN" and "WN +
#: variance-only BN" students of C10).
METHODS = {
    "none": ("none", "plain", False, "gauss_newton"),
    "weight_norm": ("none", "weight_norm", False, "gauss_newton"),
    "batch_norm_mean": ("batch_norm_mean", "weight_norm", False, "gauss_newton"),
    "batch_norm_variance": ("batch_norm_variance", "weight_norm", False, "gauss_newton"),
    "batch_norm": ("batch_norm", "plain", False, "gauss_newton"),
    "population_norm": ("population_norm", "plain", False, "gauss_newton"),
    "population_norm_gamma_decay": ("population_norm", "plain", True, "gauss_newton"),
    "population_norm_gamma_decay_relu": ("population_norm", "plain", True, "relu"),
}

#: Label-noise variance of the teachers (``y = f(x) + sqrt(delta2) eps``).
DELTA2 = 0.25
TEACHER_HIDDEN = 4

C9_METHODS = (
    "batch_norm",
    "population_norm_gamma_decay",
    "population_norm_gamma_decay_relu",
    "population_norm",
)
C10_METHODS = ("none", "weight_norm", "batch_norm_mean", "batch_norm_variance", "batch_norm")
#: C11's students: BN in one hidden layer (the key), the other plain.
C11_OPEN = {1: ("batch_norm", "none"), 2: ("none", "batch_norm")}

_RUN_DEFAULTS = {
    "normalizers": None,
    "dropout": 0.0,
    "dropout_position": "after",
    "label": "",
    "open_layer": 0,
}


def _sizes(quick: bool) -> dict:
    return dict(SIZES["quick" if quick else "full"])


def _train_run(point: dict, rng, *, sz: dict, seed: int, backend: str | None = None) -> dict:
    """One sweep task: train the run ``point`` on all replicates; outputs per replicate.

    ``rng`` is not used. A run trains its ``repetitions`` replicates in one vectorized call,
    and replicate ``r`` of every run must see the same teacher, data, initial weights and
    minibatch order (the pairing over runs): its stream is ``seed_sequence(seed, r)``, which
    no per-task stream of the sweep (keyed by ``(*key, rep)``) can name. ``backend`` is a
    spec (a string travels to worker processes; a Backend holds a module).
    """
    S = sz["repetitions"]
    norms, weights, gamma_decay, curvature = METHODS[point["method"]]
    depth = 2
    cfg = StudentConfig(
        input_dim=sz["input_dim"],
        width=sz["width"],
        depth=depth,
        normalizers=point["normalizers"] or (norms,) * depth,
        weights=weights,
        dropout=point["dropout"],
        dropout_position=point["dropout_position"],
    )
    prot = TrainingProtocol(
        M=point["M"],
        steps=sz["steps"],
        lr=sz["lr"],
        n_stat=sz["n_stat"],
        stat_every=sz["stat_every"],
        gamma_decay=gamma_decay,
        curvature=curvature,
    )
    res = train_relu_students(
        cfg,
        prot,
        repetitions=S,
        n_train=sz["n_train"],
        n_test=sz["n_test"],
        teacher_hidden=TEACHER_HIDDEN,
        delta2=DELTA2,
        rng=[seed_sequence(seed, r) for r in range(S)],
        backend=backend,
    )
    out = {}
    for r in range(S):
        out[f"train_loss_{r}"] = float(res.train_loss[r])
        out[f"test_loss_{r}"] = float(res.test_loss[r])
        for i in range(depth):
            g2, z = res.gamma2[i], res.zeta[i]
            out[f"gamma2_{i + 1}_{r}"] = np.nan if g2 is None else float(g2[r])
            out[f"zeta_{i + 1}_{r}"] = np.nan if z is None else float(z[r])
    return out


def _point(k: int, run: dict) -> dict:
    check_choice("method", run["method"], METHODS)
    unknown = set(run) - {"method", "M", *_RUN_DEFAULTS}
    if unknown:
        raise ValueError(
            f"run {k} has unknown keys {sorted(unknown)}; allowed: "
            f"{['method', 'M', *_RUN_DEFAULTS]}"
        )
    point = dict(_RUN_DEFAULTS, run_index=k, **run)
    norms = point["normalizers"]
    if norms is not None:
        if isinstance(norms, str) or not isinstance(norms, tuple | list):
            raise TypeError(
                f"run {k}: normalizers must be a tuple of normalizer names (one per hidden "
                f"layer) or None, got {norms!r}"
            )
        point["normalizers"] = tuple(canonical_name(n) for n in norms)
    return point


def run_methods(
    runs: list[dict],
    *,
    quick: bool = False,
    seed: int = 0,
    sizes: dict | None = None,
    executor=None,
    backend=None,
) -> pd.DataFrame:
    """Train every run of ``runs`` on the same replicates; one row per (run, replicate).

    Parameters
    ----------
    runs : list of dict
        Each with ``method`` (a key of :data:`METHODS`), ``M`` (batch size) and optionally
        ``normalizers`` (a tuple of normalizer names, one per hidden layer, overriding the
        method's), ``dropout``, ``dropout_position``, ``label`` and ``open_layer``.
    quick : bool
        The sizes of :data:`SIZES` ``"quick"`` instead of ``"full"``.
    seed : int
        Root seed: replicate ``r`` (its teacher, data, initial weights and minibatch order)
        is ``seed_sequence(seed, r)`` in every run, so runs are paired comparisons.
    sizes : dict, optional
        Entries of :data:`SIZES` to override.
    executor : optional
        Runs are the points of a :func:`regnorm.sweeps.sweep` (``"processes:2"``, Dask, ...),
        with the same numbers whatever the executor.
    backend : spec or Backend, optional
        Where each run trains (:func:`simulations.relu_network.train_relu_students`);
        None or NumPy: the host. Array-api-strict gives NumPy's numbers to rounding (the
        same draws, made on its device).

    Returns
    -------
    pandas.DataFrame
        The run's keys (``normalizers``: the tuple used), ``rep``, ``train_loss``,
        ``test_loss``, ``gap``, ``gamma2_1..L`` (mean gamma^2 per layer, NaN without a
        normalizer) and ``zeta_1..L``; ``attrs["settings"]``: the sizes, ``seed``,
        ``delta2``, ``teacher_hidden`` and, off NumPy, ``backend`` (its spec).
    """
    from regnorm.sweeps import sweep

    for key in sizes or {}:
        check_choice("sizes key", key, SIZES["full"])
    sz = dict(_sizes(quick), **(sizes or {}))
    S = check_integer("repetitions", sz["repetitions"], minimum=2)
    seed = check_integer("seed", seed, minimum=0)
    points = [_point(k, run) for k, run in enumerate(runs)]
    backend = resolve_backend(backend)
    on = backend_param(backend)
    task = functools.partial(_train_run, sz=sz, seed=seed, **on)
    res = sweep(task, points, seed=seed, executor=executor, progress=None)
    rows = []
    for _, p in res.iterrows():
        norms = p["normalizers"] or (METHODS[p["method"]][0],) * 2
        for r in range(S):
            row = {k: p[k] for k in ("method", "M", *_RUN_DEFAULTS)}
            row["normalizers"] = tuple(norms)
            row.update(rep=r, train_loss=p[f"train_loss_{r}"], test_loss=p[f"test_loss_{r}"])
            row["gap"] = row["test_loss"] - row["train_loss"]
            for i in (1, 2):
                row[f"gamma2_{i}"] = p[f"gamma2_{i}_{r}"]
                row[f"zeta_{i}"] = p[f"zeta_{i}_{r}"]
            rows.append(row)
    import pandas as pd

    df = pd.DataFrame(rows)
    df.attrs["settings"] = dict(sz, seed=seed, delta2=DELTA2, teacher_hidden=TEACHER_HIDDEN, **on)
    return df


def bn_vs_pn(
    *, quick=False, seed=0, batch_sizes=None, sizes=None, executor=None, backend=None
) -> pd.DataFrame:
    """C9: BN, PN + gamma decay (zeta with Gauss-Newton curvature, and with the article's
    activation probability) and PN without it, against the batch size."""
    bs = batch_sizes or _sizes(quick)["batch_sizes"]
    runs = [{"method": m, "M": M} for M in bs for m in C9_METHODS]
    return run_methods(
        runs, quick=quick, seed=seed, sizes=sizes, executor=executor, backend=backend
    )


def mean_variance_noise(
    *, quick=False, seed=0, M=None, sizes=None, executor=None, backend=None
) -> pd.DataFrame:
    """C10: plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN at one batch size."""
    M = M or _sizes(quick)["M_small"]
    return run_methods(
        [{"method": m, "M": M} for m in C10_METHODS],
        quick=quick,
        seed=seed,
        sizes=sizes,
        executor=executor,
        backend=backend,
    )


def batch_size_gamma(
    *, quick=False, seed=0, batch_sizes=None, sizes=None, executor=None, backend=None
) -> pd.DataFrame:
    """C11: BN opened in one hidden layer at a time (the other plain), against batch size."""
    bs = batch_sizes or _sizes(quick)["batch_sizes"]
    runs = [
        {"method": "none", "M": M, "normalizers": C11_OPEN[layer], "open_layer": layer}
        for layer in C11_OPEN
        for M in bs
    ]
    return run_methods(
        runs, quick=quick, seed=seed, sizes=sizes, executor=executor, backend=backend
    )


def dropout_experiment(
    *, quick=False, seed=0, sizes=None, executor=None, backend=None
) -> pd.DataFrame:
    """C12: BN at small and large batch, BN + dropout 0.125 after / before at large batch,
    WN and WN + dropout 0.25 at large batch."""
    sz = _sizes(quick)
    Ms, Ml = sz["M_small"], sz["M_large"]
    after, before = {"dropout_position": "after"}, {"dropout_position": "before"}
    runs = [
        {"method": "batch_norm", "M": Ms, "label": f"BN M={Ms}"},
        {"method": "batch_norm", "M": Ml, "label": f"BN M={Ml}"},
        {"method": "batch_norm", "M": Ml, "dropout": 0.125, **after,
         "label": f"BN + dropout 0.125 after, M={Ml}"},
        {"method": "batch_norm", "M": Ml, "dropout": 0.125, **before,
         "label": f"dropout 0.125 before BN, M={Ml}"},
        {"method": "weight_norm", "M": Ml, "label": f"WN M={Ml}"},
        {"method": "weight_norm", "M": Ml, "dropout": 0.25, **after,
         "label": f"WN + dropout 0.25, M={Ml}"},
    ]  # fmt: skip
    return run_methods(
        runs, quick=quick, seed=seed, sizes=sizes, executor=executor, backend=backend
    )
