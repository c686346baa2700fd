"""Analysis of the BN-student sweep (C8): the effective ridge parameter and what it supports.

Every parameter the analysis needs (``M``, ``delta2``) is read from the sweep's own table
(:func:`~.protocol.bn_sweep` writes one column per parameter), so a sweep at another batch
size or noise level is judged against its own predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from regnorm import learning_curves as lc
from regnorm.estimates import mean_estimate, t_interval

from .protocol import DEFAULT_VARIANTS

__all__ = ["c8_summary", "sweep_setting"]

#: Normal quantile of the closed-form inversion's interval: the mean error over the data sets
#: is mapped through ``effective_zeta`` at mean +- this many standard errors.
CLOSED_FORM_Z = 1.96


def sweep_setting(df: Any, name: str) -> Any:
    """The one value of parameter column ``name`` in a sweep table.

    Raises
    ------
    ValueError
        If the table has no such column or holds several values of it (analyse each value
        on its own: group by it first).
    """
    if name not in df:
        raise ValueError(f"the sweep table has no column {name!r} (columns: {list(df.columns)})")
    values = df[name].unique()
    if len(values) != 1:
        raise ValueError(
            f"the sweep table holds {len(values)} values of {name!r} ({sorted(values)}); "
            "analyse one value at a time"
        )
    return values[0].item() if hasattr(values[0], "item") else values[0]


def c8_summary(df: Any, variants: Sequence[str] = DEFAULT_VARIANTS):
    """Per ``M``, ``delta2``, ``alpha``, variant and inference: zeta_eff and its interval.

    Each group is judged against ITS OWN ``M`` and ``delta2`` (columns of ``df``): the
    candidate predictions are :func:`regnorm.learning_curves.candidate_zetas` at the group's
    ``alpha`` and ``M``, the closed-form inversion uses its ``delta2``.

    Returns a DataFrame with the columns ``M``, ``delta2``, ``alpha``, ``variant``,
    ``inference``; ``zeta_pair`` (mean of the per-data-set matched ridge zeta) and its stderr
    and 95% Student-t interval ``zeta_pair_lo``/``zeta_pair_hi`` (over the data sets; with 3-5
    data sets the normal 1.96 would be far too narrow), ``zeta_cf`` (closed-form inversion of
    the mean error) with the interval from mean +- 1.96 stderr of the error, and
    ``supports``: the candidates inside the paired 95% interval (a tuple of names, empty if
    none). For training-set statistics also ``shrunk_diff`` and ``shrunk_diff_se``: the
    paired difference of the error from the shrunk pseudo-inverse ``u_pinv/(1 + 1/(2M))`` on
    the same data (NaN for population statistics, or if ``df`` has no ``eps_shrunk_M``).
    ``repetitions`` counts the data sets of the group.
    """
    import pandas as pd

    for name in ("M", "delta2", "alpha"):
        if name not in df:
            raise ValueError(f"the sweep table has no column {name!r}: is it a bn_sweep table?")
    rows = []
    for (M, delta2, alpha), g in df.groupby(["M", "delta2", "alpha"], sort=True):
        M, delta2, alpha = int(M), float(delta2), float(alpha)
        if len(g) < 2:
            raise ValueError(
                f"c8_summary needs at least 2 data sets (repetitions) per point for a standard "
                f"error, got {len(g)} at M={M}, delta2={delta2}, alpha={alpha}"
            )
        preds = lc.candidate_zetas(alpha, M)
        for v in variants:
            for conv, suffix in (("population", ""), ("training", "_trainstats")):
                e = mean_estimate(g[f"eps_{v}{suffix}"])
                zp = np.asarray(g[f"zmatch_{v}{suffix}"], dtype=float)
                # a matched zeta is NaN where the student beats every ridge solution on its
                # data set: it is counted at the optimum delta2 (and in n_nan)
                z = mean_estimate(np.nan_to_num(zp, nan=delta2))
                lo, hi = t_interval(z)
                cf = lc.effective_zeta(max(e.value, 0.0), alpha, delta2)
                cf_lo = lc.effective_zeta(
                    max(e.value + CLOSED_FORM_Z * e.stderr, 0.0), alpha, delta2
                )
                cf_hi = lc.effective_zeta(
                    max(e.value - CLOSED_FORM_Z * e.stderr, 0.0), alpha, delta2
                )
                inside = tuple(k for k, zk in preds.items() if lo <= zk <= hi)
                sd_m = sd_s = math.nan
                if conv == "training" and "eps_shrunk_M" in g:
                    sd = mean_estimate(g[f"eps_{v}{suffix}"] - g["eps_shrunk_M"])
                    sd_m, sd_s = sd.value, sd.stderr
                rows.append(
                    dict(
                        M=M,
                        delta2=delta2,
                        alpha=alpha,
                        variant=v,
                        inference=conv,
                        eps=e.value,
                        eps_se=e.stderr,
                        zeta_pair=z.value,
                        zeta_pair_se=z.stderr,
                        zeta_pair_lo=lo,
                        zeta_pair_hi=hi,
                        zeta_cf=cf,
                        zeta_cf_lo=cf_lo,
                        zeta_cf_hi=cf_hi,
                        n_nan=int(np.isnan(zp).sum()),
                        repetitions=len(g),
                        supports=inside,
                        converged=float(g["converged"].mean()),
                        lrdep=float(g[f"lrdep_{v}"].mean()) if f"lrdep_{v}" in g else 0.0,
                        eps_pinv=float(g["eps_pinv"].mean()),
                        shrunk_diff=sd_m,
                        shrunk_diff_se=sd_s,
                    )
                )
    return pd.DataFrame(rows)
