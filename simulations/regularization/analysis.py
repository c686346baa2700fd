"""Analysis of the regularization experiments: the paired comparisons that C9-C12 judge.

Each function reads one experiment's table (from :mod:`.protocol`) and returns the
:class:`Comparison` s a claim is judged on: a paired difference over replicates (or the mean
of per-replicate slopes) as an :class:`regnorm.estimates.Estimate`, the claimed sign and the
parameters that identify it. The sizes, seed and noise level come from the table's
``attrs["settings"]``; which methods, batch sizes and layers there are, from its columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regnorm.estimates import Estimate, mean_estimate, paired_difference, slopes, t_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AS_GOOD_MARGIN",
    "Comparison",
    "c9_comparisons",
    "c10_comparisons",
    "c11_comparisons",
    "c12_comparisons",
    "log2_slopes",
    "replicate_values",
    "settings_params",
]

#: Margin of "at least as well as" (C9, one comparison of C12), relative to the comparator's
#: mean test loss: an interval that merely contains 0 is no evidence of "as good as", so the
#: claim is read as "worse by less than 5%". The article compares curves by eye on its
#: figures, where 5% of the loss is about the spread of its repeated runs; this is a stated
#: convention, not a derived one.
AS_GOOD_MARGIN = 0.05


class Comparison(NamedTuple):
    """One ordering to judge: ``estimate`` of a difference ``a - b`` and its claimed sign.

    ``claimed`` is ``"negative"``, ``"positive"`` or ``"nonpositive"`` (at least as good,
    within ``margin``), as :func:`regnorm.claims.ordering_record` reads it.
    """

    params: dict[str, Any]
    estimate: Estimate
    claimed: str
    what: str
    note: str = ""
    margin: float = 0.0


def replicate_values(df: pd.DataFrame, col: str, **sel: Any) -> np.ndarray:
    """``col`` of the rows matching ``sel`` (column == value), in replicate order."""
    m = np.ones(len(df), dtype=bool)
    for k, v in sel.items():
        m &= (df[k] == v).to_numpy()
    return df.loc[m].sort_values("rep")[col].to_numpy()


def log2_slopes(df: pd.DataFrame, col: str) -> np.ndarray:
    """Per-replicate least-squares slope of ``col`` against ``log2 M`` (one per ``rep``)."""
    piv = df.pivot_table(index="rep", columns="M", values=col)
    return slopes(np.log2(piv.columns.to_numpy(dtype=float)), piv.to_numpy())


def settings_params(df: pd.DataFrame) -> dict:
    """The sizes, seed and noise level every record of the experiment ``df`` carries."""
    st = df.attrs["settings"]
    keep = ("repetitions", "input_dim", "width", "n_train", "steps", "lr", "seed", "delta2")
    return {k: st[k] for k in keep}


def _methods(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["method"]))


def c9_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """C9: test loss of PN + gamma decay minus BN's, per batch size and curvature of zeta.

    "At least as well as BN" holds when the interval lies below :data:`AS_GOOD_MARGIN` of
    BN's test loss; PN without gamma decay is the control named in the note.
    """
    base = settings_params(df)
    out = []
    for M in sorted(df["M"].unique()):
        bn = replicate_values(df, "test_loss", method="batch_norm", M=M)
        plain = replicate_values(df, "test_loss", method="population_norm", M=M)
        for method, curvature in (
            ("population_norm_gamma_decay", "gauss_newton"),
            ("population_norm_gamma_decay_relu", "relu"),
        ):
            pn = replicate_values(df, "test_loss", method=method, M=M)
            zeta = np.nanmean(replicate_values(df, "zeta_2", method=method, M=M))
            ctrl = paired_difference(pn, plain)
            low, high = t_interval(ctrl)
            note = (
                f"test loss BN {bn.mean():.4f}, PN+gamma decay {pn.mean():.4f}, PN alone "
                f"{plain.mean():.4f}; gamma decay vs none: {ctrl.value:+.4f} "
                f"[{low:+.4f}, {high:+.4f}]; mean zeta (layer 2) {zeta:.4g}"
            )
            out.append(
                Comparison(
                    dict(base, M=int(M), curvature=curvature),
                    paired_difference(pn, bn),
                    claimed="nonpositive",
                    margin=AS_GOOD_MARGIN * float(bn.mean()),
                    what="test loss PN+gamma decay - BN",
                    note=note,
                )
            )
    return out


def c10_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """C10: each partial BN's generalization gap against BN's (larger) and WN's (smaller)."""
    base = dict(settings_params(df), M=int(df["M"].iloc[0]))
    methods = _methods(df)
    gaps = {m: replicate_values(df, "gap", method=m) for m in methods}
    summary = ", ".join(f"{m} {gaps[m].mean():.4f}" for m in methods)
    out = []
    for mid in ("batch_norm_mean", "batch_norm_variance"):
        out.append(
            Comparison(
                dict(base, method=mid, compared_with="batch_norm"),
                paired_difference(gaps["batch_norm"], gaps[mid]),
                claimed="negative",
                what=f"gap BN - {mid}",
                note=f"mean gaps: {summary}",
            )
        )
        out.append(
            Comparison(
                dict(base, method=mid, compared_with="weight_norm"),
                paired_difference(gaps[mid], gaps["weight_norm"]),
                claimed="negative",
                what=f"gap {mid} - WN",
                note=f"mean gaps: {summary}",
            )
        )
    return out


def c11_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """C11: slope per doubling of M of the opened BN layer's gamma^2 and of the test loss."""
    Ms = sorted(int(m) for m in df["M"].unique())
    # a display string: the records have always shown the grid this way
    base = dict(settings_params(df), batch_sizes=str(Ms))
    out = []
    for layer in sorted(int(k) for k in df["open_layer"].unique()):
        sub = df[df["open_layer"] == layer]
        for col, what in ((f"gamma2_{layer}", "gamma^2"), ("test_loss", "test loss")):
            means = sub.groupby("M")[col].mean()
            trend = ", ".join(f"M={int(m)}: {v:.4g}" for m, v in means.items())
            out.append(
                Comparison(
                    dict(base, open_layer=layer, quantity=what),
                    mean_estimate(log2_slopes(sub, col)),
                    claimed="positive",
                    what=f"slope of {what} per doubling of M (BN in layer {layer})",
                    note=f"means {trend}",
                )
            )
    return out


def c12_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """C12: test losses of dropout after/before BN at large batch and of WN + dropout.

    The runs are read in the order :func:`.protocol.dropout_experiment` writes them: BN at
    small and large batch, dropout after BN, dropout before BN, WN, WN + dropout.
    """
    base = settings_params(df)
    labels = list(dict.fromkeys(df["label"]))
    if len(labels) != 6:
        raise ValueError(
            f"c12_comparisons needs the six runs of dropout_experiment, got labels {labels}"
        )
    t = {lab: replicate_values(df, "test_loss", label=lab) for lab in labels}
    bn_s, bn_l, after, before, wn, wn_do = labels
    summary = ", ".join(f"{lab}: {t[lab].mean():.4f}" for lab in labels)
    specs = [
        (after, bn_l, "negative", "dropout after BN improves BN at large batch"),
        (after, bn_s, "nonpositive", "dropout after BN at large batch is as good as BN at small"),
        (after, before, "negative", "dropout after BN beats dropout before BN"),
        (wn_do, wn, "negative", "WN + dropout 0.25 improves WN"),
    ]
    return [
        Comparison(
            dict(base, compared=f"{a} vs {b}"),
            paired_difference(t[a], t[b]),
            claimed=claimed,
            margin=AS_GOOD_MARGIN * float(t[b].mean()) if claimed == "nonpositive" else 0.0,
            what=f"test loss [{a}] - [{b}]",
            note=f"{statement}; mean test losses: {summary}",
        )
        for a, b, claimed, statement in specs
    ]
