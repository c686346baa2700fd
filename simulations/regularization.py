"""Regularization experiments of article 001 §2.4 on a teacher-student ReLU network (C9-C12).

The article runs these on a CIFAR-10 CNN; here the same comparisons run on the synthetic
teacher-student problem of :mod:`simulations.relu_network` (ground truth known, CPU-sized):

* C9  -- BN against PN + gamma decay (zeta of C4 estimated from 10k unlabeled samples) and
  PN without gamma decay, against the batch size: train loss, test loss, generalization gap.
* C10 -- generalization gap of plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN.
* C11 -- BN opened one hidden layer at a time (the other layer plain): the layer's learned
  ``gamma^2`` and the test loss against the batch size.
* C12 -- dropout after BN (0.125) at large batch, dropout before BN, WN + dropout (0.25).

Every method of one experiment is trained on the same seeds: seed ``s`` fixes the teacher,
the data, the initial weights and the minibatch order, so methods are compared by *paired*
differences over seeds, with a 95% Student-t confidence interval. A difference is called a
difference only when its interval excludes zero; otherwise the claim's record is ``not
resolved``. "At least as well as" (C9, one comparison of C12) holds only when the interval
lies below a stated margin (:data:`AS_GOOD_MARGIN` of the comparator's loss).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from regnorm.claims import ClaimRecord, claim, ordering_record
from regnorm.validation import check_choice, check_integer

if TYPE_CHECKING:  # pandas and scipy.stats load lazily: the CLI imports this module
    import pandas as pd

from .relu_network import StudentConfig, TrainingProtocol, train_students

__all__ = [
    "AS_GOOD_MARGIN",
    "METHODS",
    "SIZES",
    "batch_size_gamma",
    "C9_METHODS",
    "bn_vs_pn",
    "dropout_experiment",
    "mean_variance_noise",
    "paired_difference",
    "run_methods",
    "seed_summary",
]

SOURCE = "001 §2.4"

#: Problem and protocol sizes. "full" is what the README's numbers come from.
SIZES = {
    "quick": dict(
        n_seeds=8,
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
        n_seeds=12,
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

#: The students compared, by name: (normalizers, weight parametrization, PN gamma decay,
#: curvature A'' used in zeta: Gauss-Newton of the loss, or the article's activation
#: probability "relu").
METHODS = {
    "sgd": ("none", "plain", False, "gauss_newton"),
    "wn": ("none", "weight_norm", False, "gauss_newton"),
    "wn_mean_bn": ("batch_norm_mean", "weight_norm", False, "gauss_newton"),
    "wn_variance_bn": ("batch_norm_variance", "weight_norm", False, "gauss_newton"),
    "bn": ("batch_norm", "plain", False, "gauss_newton"),
    "pn": ("population_norm", "plain", False, "gauss_newton"),
    "pn_gamma_decay": ("population_norm", "plain", True, "gauss_newton"),
    "pn_gamma_decay_relu": ("population_norm", "plain", True, "relu"),
}

_DELTA = 0.5
_TEACHER_HIDDEN = 4


def _sizes(quick: bool) -> dict:
    return dict(SIZES["quick" if quick else "full"])


def _train_run(point: dict, rng, *, sz: dict, seed: int) -> dict:
    """One sweep task: train the run ``point`` on all seeds; outputs per seed as columns.

    ``rng`` (the sweep's per-point generator) is not used: every run uses the same per-seed
    SeedSequences (derived from ``seed``) so that runs are paired comparisons.
    """
    S = sz["n_seeds"]
    seeds = np.random.SeedSequence(seed).spawn(S)
    norms, weights, gd, curvature = METHODS[point["method"]]
    cfg = StudentConfig(
        input_dim=sz["input_dim"],
        width=sz["width"],
        depth=2,
        normalizers=tuple(point["normalizers"].split("+")) if point["normalizers"] else norms,
        weights=weights,
        dropout=point["dropout"],
        dropout_position=point["dropout_position"],
    )
    prot = TrainingProtocol(
        batch_size=point["M"],
        steps=sz["steps"],
        lr=sz["lr"],
        n_stat=sz["n_stat"],
        stat_every=sz["stat_every"],
        gamma_decay=gd,
        curvature=curvature,
    )
    res = train_students(
        cfg,
        prot,
        n_seeds=S,
        n_train=sz["n_train"],
        n_test=sz["n_test"],
        teacher_hidden=_TEACHER_HIDDEN,
        delta=_DELTA,
        rng=seeds,
    )
    out = {"normalizers_used": "+".join(cfg.normalizers)}
    for s in range(S):
        out[f"train_loss_{s}"] = float(res.train_loss[s])
        out[f"test_loss_{s}"] = float(res.test_loss[s])
        for i in range(cfg.depth):
            g2, z = res.gamma2[i], res.zeta[i]
            out[f"gamma2_{i + 1}_{s}"] = np.nan if g2 is None else float(g2[s])
            out[f"zeta_{i + 1}_{s}"] = np.nan if z is None else float(z[s])
    return out


_RUN_DEFAULTS = {
    "normalizers": "",
    "dropout": 0.0,
    "dropout_position": "after",
    "label": "",
    "open_layer": 0,
}


def run_methods(
    runs: list[dict],
    *,
    quick: bool = False,
    seed: int = 0,
    sizes: dict | None = None,
    executor=None,
) -> pd.DataFrame:
    """Train every run of ``runs`` on the same seeds; one row per (run, seed).

    Each run is a dict with ``method`` (a key of :data:`METHODS`), ``M`` (batch size) and
    optionally ``normalizers`` (per-layer override, a tuple), ``dropout``,
    ``dropout_position``, ``label`` and ``open_layer``. Runs are the points of a
    :func:`regnorm.sweeps.sweep` (``executor``: ``"processes:2"``, Dask, ...), with the same
    numbers whatever the executor. Columns: the run's keys, ``seed_index``, ``train_loss``,
    ``test_loss``, ``gap``, ``gamma2_1..L`` (mean gamma^2 per layer, NaN without a
    normalizer) and ``zeta_1..L``.
    """
    import functools

    from regnorm.sweeps import sweep

    sz = dict(_sizes(quick), **(sizes or {}))
    S = check_integer("n_seeds", sz["n_seeds"], minimum=2)
    seed = check_integer("seed", seed, minimum=0)
    points = []
    for k, run in enumerate(runs):
        check_choice("method", run["method"], METHODS)
        point = dict(_RUN_DEFAULTS, run_index=k, **run)
        if isinstance(point["normalizers"], tuple | list):
            point["normalizers"] = "+".join(point["normalizers"])
        points.append(point)
    task = functools.partial(_train_run, sz=sz, seed=seed)
    res = sweep(task, points, seed=seed, executor=executor, progress=None)
    rows = []
    for _, r in res.iterrows():
        for s in range(S):
            row = {k: r[k] for k in ("method", "M", *_RUN_DEFAULTS)}
            row["normalizers"] = r["normalizers_used"]
            row.update(seed_index=s, train_loss=r[f"train_loss_{s}"], test_loss=r[f"test_loss_{s}"])
            row["gap"] = row["test_loss"] - row["train_loss"]
            for i in (1, 2):
                row[f"gamma2_{i}"] = r[f"gamma2_{i}_{s}"]
                row[f"zeta_{i}"] = r[f"zeta_{i}_{s}"]
            rows.append(row)
    import pandas as pd

    df = pd.DataFrame(rows)
    df.attrs["settings"] = dict(sz, seed=seed, delta=_DELTA, teacher_hidden=_TEACHER_HIDDEN)
    return df


def paired_difference(a, b, *, level: float = 0.95) -> dict:
    """Mean of ``a - b`` over seeds with its standard error and Student-t interval.

    Returns a dict with ``mean``, ``stderr``, ``half_width``, ``low``, ``high``, ``n`` and
    ``resolved`` (the interval excludes 0).
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = d.size
    if n < 2:
        raise ValueError(f"a paired difference needs at least 2 seeds, got {n}")
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n))
    from scipy import stats

    hw = float(stats.t.ppf(0.5 + level / 2, n - 1) * se)
    return dict(
        mean=mean,
        stderr=se,
        half_width=hw,
        low=mean - hw,
        high=mean + hw,
        n=n,
        resolved=bool(mean - hw > 0 or mean + hw < 0),
    )


#: Margin of "at least as well as" (C9, one comparison of C12), relative to the comparator's
#: mean test loss: an interval that merely contains 0 is no evidence of "as good as", so the
#: claim is read as "worse by less than 5%". The article compares curves by eye on its
#: figures, where 5% of the loss is about the spread of its repeated runs; this is a stated
#: convention, not a derived one.
AS_GOOD_MARGIN = 0.05


def _order_record(cid, params, diff: dict, *, claimed: str, what: str, note: str = "", margin=0.0):
    """:func:`regnorm.claims.ordering_record` of a :func:`paired_difference` ``diff``."""
    return ordering_record(
        cid,
        params,
        diff=diff["mean"],
        stderr=diff["stderr"],
        dof=diff["n"] - 1,
        claimed=claimed,
        margin=margin,
        what=what,
        note=note,
        source=SOURCE,
    )


def _col(df, col, **sel):
    m = np.ones(len(df), dtype=bool)
    for k, v in sel.items():
        m &= (df[k] == v).to_numpy()
    return df.loc[m].sort_values("seed_index")[col].to_numpy()


def _common_params(df) -> dict:
    st = df.attrs["settings"]
    keep = ("n_seeds", "input_dim", "width", "n_train", "steps", "lr", "seed", "delta")
    return {k: st[k] for k in keep}


# --- C9 ----------------------------------------------------------------------------------
C9_METHODS = ("bn", "pn_gamma_decay", "pn_gamma_decay_relu", "pn")


def bn_vs_pn(*, quick=False, seed=0, batch_sizes=None, sizes=None, executor=None) -> pd.DataFrame:
    """C9: BN, PN + gamma decay (zeta with Gauss-Newton curvature, and with the article's
    activation probability) and PN without it, against the batch size."""
    bs = batch_sizes or _sizes(quick)["batch_sizes"]
    runs = [{"method": m, "M": M} for M in bs for m in C9_METHODS]
    return run_methods(runs, quick=quick, seed=seed, sizes=sizes, executor=executor)


def c9_records(df) -> list[ClaimRecord]:
    base = _common_params(df)
    out = []
    for M in sorted(df["M"].unique()):
        bn = _col(df, "test_loss", method="bn", M=M)
        plain = _col(df, "test_loss", method="pn", M=M)
        for method, curvature in (
            ("pn_gamma_decay", "gauss_newton"),
            ("pn_gamma_decay_relu", "relu"),
        ):
            pn = _col(df, "test_loss", method=method, M=M)
            zeta = np.nanmean(_col(df, "zeta_2", method=method, M=M))
            ctrl = paired_difference(pn, plain)
            note = (
                f"test loss BN {bn.mean():.4f}, PN+gamma decay {pn.mean():.4f}, PN alone "
                f"{plain.mean():.4f}; gamma decay vs none: {ctrl['mean']:+.4f} "
                f"[{ctrl['low']:+.4f}, {ctrl['high']:+.4f}]; mean zeta (layer 2) {zeta:.4g}"
            )
            out.append(
                _order_record(
                    "C9",
                    dict(base, M=int(M), curvature=curvature),
                    paired_difference(pn, bn),
                    claimed="nonpositive",
                    margin=AS_GOOD_MARGIN * float(bn.mean()),
                    what="test loss PN+gamma decay - BN",
                    note=note,
                )
            )
    return out


@claim("C9", source=SOURCE)
def check_c9(ctx):
    """C9 on the teacher-student ReLU network (seeds and sizes in each record's params)."""
    yield from c9_records(
        default_run("bn_vs_pn", quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )


# --- C10 ---------------------------------------------------------------------------------
C10_METHODS = ("sgd", "wn", "wn_mean_bn", "wn_variance_bn", "bn")


def mean_variance_noise(*, quick=False, seed=0, M=None, sizes=None, executor=None) -> pd.DataFrame:
    """C10: plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN at one batch size."""
    M = M or _sizes(quick)["M_small"]
    return run_methods(
        [{"method": m, "M": M} for m in C10_METHODS],
        quick=quick,
        seed=seed,
        sizes=sizes,
        executor=executor,
    )


def c10_records(df) -> list[ClaimRecord]:
    base = dict(_common_params(df), M=int(df["M"].iloc[0]))
    gaps = {m: _col(df, "gap", method=m) for m in C10_METHODS}
    summary = ", ".join(f"{m} {gaps[m].mean():.4f}" for m in C10_METHODS)
    out = []
    for mid in ("wn_mean_bn", "wn_variance_bn"):
        out.append(
            _order_record(
                "C10",
                dict(base, method=mid, compared_with="bn"),
                paired_difference(gaps["bn"], gaps[mid]),
                claimed="negative",
                what=f"gap BN - {mid}",
                note=f"mean gaps: {summary}",
            )
        )
        out.append(
            _order_record(
                "C10",
                dict(base, method=mid, compared_with="wn"),
                paired_difference(gaps[mid], gaps["wn"]),
                claimed="negative",
                what=f"gap {mid} - WN",
                note=f"mean gaps: {summary}",
            )
        )
    return out


@claim("C10", source=SOURCE)
def check_c10(ctx):
    """C10: are WN + mean-only BN and WN + variance-only BN between BN and WN in gap?"""
    yield from c10_records(
        default_run("mean_variance_noise", quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )


# --- C11 ---------------------------------------------------------------------------------
C11_OPEN = {1: ("batch_norm", "none"), 2: ("none", "batch_norm")}


def batch_size_gamma(
    *, quick=False, seed=0, batch_sizes=None, sizes=None, executor=None
) -> pd.DataFrame:
    """C11: BN opened in one hidden layer at a time (the other plain), against batch size."""
    bs = batch_sizes or _sizes(quick)["batch_sizes"]
    runs = [
        {"method": "sgd", "M": M, "normalizers": C11_OPEN[layer], "open_layer": layer}
        for layer in C11_OPEN
        for M in bs
    ]
    return run_methods(runs, quick=quick, seed=seed, sizes=sizes, executor=executor)


def _slopes(df, col, layer):
    """Per-seed least-squares slope of ``col`` against log2 M."""
    sub = df[df["open_layer"] == layer]
    piv = sub.pivot_table(index="seed_index", columns="M", values=col)
    x = np.log2(piv.columns.to_numpy(dtype=float))
    y = piv.to_numpy()
    xc = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)


def c11_records(df) -> list[ClaimRecord]:
    base = dict(_common_params(df), batch_sizes=str(sorted(int(m) for m in df["M"].unique())))
    out = []
    for layer in C11_OPEN:
        for col, what in ((f"gamma2_{layer}", "gamma^2"), ("test_loss", "test loss")):
            sl = _slopes(df, col, layer)
            diff = paired_difference(sl, np.zeros_like(sl))
            means = df[df["open_layer"] == layer].groupby("M")[col].mean()
            trend = ", ".join(f"M={int(m)}: {v:.4g}" for m, v in means.items())
            out.append(
                _order_record(
                    "C11",
                    dict(base, open_layer=layer, quantity=what),
                    diff,
                    claimed="positive",
                    what=f"slope of {what} per doubling of M (BN in layer {layer})",
                    note=f"means {trend}",
                )
            )
    return out


@claim("C11", source=SOURCE)
def check_c11(ctx):
    """C11: slope of the opened BN layer's gamma^2 and of the test loss against log2 M."""
    yield from c11_records(
        default_run("batch_size_gamma", quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )


# --- C12 ---------------------------------------------------------------------------------
def dropout_experiment(*, quick=False, seed=0, sizes=None, executor=None) -> pd.DataFrame:
    """C12: BN at small and large batch, BN + dropout 0.125 after / before at large batch,
    WN and WN + dropout 0.25 at large batch."""
    sz = _sizes(quick)
    Ms, Ml = sz["M_small"], sz["M_large"]
    runs = [
        {"method": "bn", "M": Ms, "label": f"BN M={Ms}"},
        {"method": "bn", "M": Ml, "label": f"BN M={Ml}"},
        {
            "method": "bn",
            "M": Ml,
            "dropout": 0.125,
            "dropout_position": "after",
            "label": f"BN + dropout 0.125 after, M={Ml}",
        },
        {
            "method": "bn",
            "M": Ml,
            "dropout": 0.125,
            "dropout_position": "before",
            "label": f"dropout 0.125 before BN, M={Ml}",
        },
        {"method": "wn", "M": Ml, "label": f"WN M={Ml}"},
        {
            "method": "wn",
            "M": Ml,
            "dropout": 0.25,
            "dropout_position": "after",
            "label": f"WN + dropout 0.25, M={Ml}",
        },
    ]
    for r in runs:
        r.setdefault("dropout", 0.0)
        r.setdefault("dropout_position", "after")
    return run_methods(runs, quick=quick, seed=seed, sizes=sizes, executor=executor)


def c12_records(df) -> list[ClaimRecord]:
    base = _common_params(df)
    labels = list(dict.fromkeys(df["label"]))
    t = {lab: _col(df, "test_loss", label=lab) for lab in labels}
    bn_s, bn_l, after, before, wn, wn_do = labels
    summary = ", ".join(f"{lab}: {t[lab].mean():.4f}" for lab in labels)
    specs = [
        (after, bn_l, "negative", "dropout after BN improves BN at large batch"),
        (after, bn_s, "nonpositive", "dropout after BN at large batch is as good as BN at small"),
        (after, before, "negative", "dropout after BN beats dropout before BN"),
        (wn_do, wn, "negative", "WN + dropout 0.25 improves WN"),
    ]
    out = []
    for a, b, claimed, statement in specs:
        out.append(
            _order_record(
                "C12",
                dict(base, compared=f"{a} vs {b}"),
                paired_difference(t[a], t[b]),
                claimed=claimed,
                margin=AS_GOOD_MARGIN * float(t[b].mean()) if claimed == "nonpositive" else 0.0,
                what=f"test loss [{a}] - [{b}]",
                note=f"{statement}; mean test losses: {summary}",
            )
        )
    return out


@claim("C12", source=SOURCE)
def check_c12(ctx):
    """C12: dropout after/before BN at large batch, WN + dropout, by paired test losses."""
    yield from c12_records(
        default_run("dropout_experiment", quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )


def seed_summary(df: pd.DataFrame, by, col: str, *, level: float = 0.95) -> pd.DataFrame:
    """Mean of ``col`` over seeds per group ``by``, with the Student-t interval half width
    (columns ``mean``, ``half_width``, ``n``)."""
    from scipy import stats

    g = df.groupby(by, sort=False)[col]
    out = g.agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    out["half_width"] = stats.t.ppf(0.5 + level / 2, out["n"] - 1) * out["std"] / np.sqrt(out["n"])
    return out.drop(columns="std").reset_index()


#: The experiments whose default-size runs the figure scripts and claims checks share.
DEFAULT_RUNS = {
    "bn_vs_pn": bn_vs_pn,
    "mean_variance_noise": mean_variance_noise,
    "batch_size_gamma": batch_size_gamma,
    "dropout_experiment": dropout_experiment,
}


@functools.lru_cache(maxsize=8)
def _default_run(name: str, quick: bool, seed: int, executor) -> pd.DataFrame:
    return DEFAULT_RUNS[name](quick=quick, seed=seed, executor=executor)


def default_run(name: str, *, quick: bool, seed: int, executor=None) -> pd.DataFrame:
    """Experiment ``name`` (a key of :data:`DEFAULT_RUNS`) at its default sizes, once per process.

    The figure scripts and the claims checks read the same runs, so ``regnorm reproduce``
    (which runs both in one process) trains each set of students once. Returns a copy.
    """
    check_choice("name", name, DEFAULT_RUNS)
    return _default_run(name, bool(quick), int(seed), executor).copy()
