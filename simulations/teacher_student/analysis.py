"""Analyses of the BN-student sweeps: C8's effective ridge parameter and what it supports
(:func:`c8_summary`), and the trend in ``N`` of the finite-size study
(:func:`finite_size_analysis`).

Every parameter an analysis needs (``M``, ``delta2``, ``N``) is read from the table it
analyses (:func:`~.protocol.bn_sweep` and :func:`~.finite_size.finite_size_study` write one
column per parameter), so a sweep at another batch size or noise level is judged against its
own predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from regnorm import learning_curves as lc
from regnorm.estimates import Estimate, mean_estimate, t_half_width, t_interval

from .protocol import DEFAULT_VARIANTS

__all__ = [
    "FINITE_SIZE_QUANTITIES",
    "FiniteSizeAnalysis",
    "c8_summary",
    "finite_size_analysis",
    "sweep_setting",
]

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


#: The quantities of the finite-size study and the column of their ``N -> inf`` limit
#: (``None``: no closed form, the open C8 quantity).
FINITE_SIZE_QUANTITIES: dict[str, str | None] = {
    "eps_ridge_half_M": "eps_wn_half_M",
    "eps_ridge_opt": "eps_wn_opt",
    "zeta_eff": None,
}


class FiniteSizeAnalysis(NamedTuple):
    """:func:`finite_size_analysis`'s two tables.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per quantity, ``M``, ``delta2``, ``alpha`` and ``N``.
    trend : pandas.DataFrame
        One row per quantity, ``M``, ``delta2`` and ``alpha``: the fit ``a + c/N``.
    """

    points: Any
    trend: Any


def finite_size_analysis(df: Any, level: float = 0.95) -> FiniteSizeAnalysis:
    """The trend in ``N`` of a :func:`~.finite_size.finite_size_study` table.

    Per quantity (:data:`FINITE_SIZE_QUANTITIES`), ``M``, ``delta2``, ``alpha`` and ``N``
    (**points**): the mean over the data sets with its standard error and ``level``
    Student-t interval, and for the ridge errors the difference to the closed-form limit
    (per data set at its own ``P/N``) with its t-interval (``diff_resolved``: the interval
    excludes 0). ``zeta_eff`` is NaN where the student beats every ridge solution on its
    data set; as in :func:`c8_summary` it is counted at ``delta2`` there (``n_nan``).

    Per quantity, ``M``, ``delta2`` and ``alpha`` (**trend**): the weighted least-squares fit
    ``y = a + c/N`` over all data sets, with ``y`` the difference to the limit (ridge) or
    ``zeta_eff`` itself, and weights ``N`` (a self-averaging quantity's variance over data
    sets falls like ``1/N``); standard errors from the residuals (``dof = n - 2``) and
    ``level`` t-intervals of ``a`` (``at_infinity``: the difference left at ``N -> inf``,
    or the extrapolated ``zeta_eff``) and of ``c``. ``lack_of_fit_p`` is the F test of the
    fit against one mean per ``N`` (NaN with two ``N``). ``verdict``:

    * ``"not a + c/N"``: the lack-of-fit test rejects at ``1 - level``;
    * ``"differs from the limit"``: (ridge) the interval of ``a`` excludes 0;
    * ``"1/N"``: the interval of ``c`` excludes 0 (the finite-size effect is resolved and
      shrinks like ``1/N``; for the ridge errors towards the closed form);
    * ``"not resolved"``: neither (the finite-size effect is below the statistical error
      at these sizes).

    For ``zeta_eff``, ``supports`` lists the candidates of
    :func:`regnorm.learning_curves.candidate_zetas` inside the interval of ``a``. In the
    points table ``fit_shift`` = ``c/N`` (with ``fit_shift_se``) is the fitted finite-size
    shift at that ``N``: how far the finding at that size lies from its limit.

    Raises
    ------
    ValueError
        A table without the study's columns, fewer than two distinct ``N`` in a group, or
        fewer than 2 data sets at a point.
    """
    import pandas as pd

    missing = [c for c in ("N", "alpha", "M", "delta2", *FINITE_SIZE_QUANTITIES) if c not in df]
    if missing:
        raise ValueError(
            f"the table has no columns {missing}: is it a finite_size_study table? "
            f"(columns: {list(df.columns)})"
        )
    points, trend = [], []
    for (M, delta2, alpha), g in df.groupby(["M", "delta2", "alpha"], sort=True):
        M, delta2, alpha = int(M), float(delta2), float(alpha)
        Ns = np.sort(g["N"].unique())
        if len(Ns) < 2:
            raise ValueError(
                f"a trend in N needs at least two N, got N={Ns.tolist()} at M={M}, "
                f"delta2={delta2}, alpha={alpha}"
            )
        for q, limit_col in FINITE_SIZE_QUANTITIES.items():
            value = g[q].to_numpy(dtype=float)
            n_nan = np.isnan(value)
            if limit_col is None:
                value = np.where(n_nan, delta2, value)
                y = value
            else:
                y = value - g[limit_col].to_numpy(dtype=float)
            N = g["N"].to_numpy(dtype=float)
            fit = _one_over_n_fit(N, y, level)
            supports = ()
            if limit_col is None:
                supports = tuple(
                    k
                    for k, z in lc.candidate_zetas(alpha, M).items()
                    if fit["at_infinity_lo"] <= z <= fit["at_infinity_hi"]
                )
            trend.append(
                dict(
                    quantity=q,
                    M=M,
                    delta2=delta2,
                    alpha=alpha,
                    Ns=tuple(int(n) for n in Ns),
                    data_sets=len(g),
                    **fit,
                    verdict=_verdict(fit, level, has_limit=limit_col is not None),
                    supports=supports,
                )
            )
            for n in Ns:
                at = N == n
                if at.sum() < 2:
                    raise ValueError(
                        f"finite_size_analysis needs at least 2 data sets per point, got "
                        f"{int(at.sum())} at N={int(n)}, alpha={alpha}"
                    )
                e = mean_estimate(value[at])
                lo, hi = t_interval(e, level)
                row = dict(
                    quantity=q, M=M, delta2=delta2, alpha=alpha, N=int(n),
                    repetitions=int(at.sum()), mean=e.value, stderr=e.stderr, lo=lo, hi=hi,
                    limit=math.nan, diff=math.nan, diff_se=math.nan, diff_lo=math.nan,
                    diff_hi=math.nan, diff_resolved=False,
                    fit_shift=fit["c"] / n, fit_shift_se=fit["c_se"] / n,
                    n_nan=int(n_nan[at].sum()),
                )  # fmt: skip
                if limit_col is not None:
                    d = mean_estimate(y[at])
                    d_lo, d_hi = t_interval(d, level)
                    row.update(
                        limit=float(g[limit_col].to_numpy(dtype=float)[at].mean()),
                        diff=d.value, diff_se=d.stderr, diff_lo=d_lo, diff_hi=d_hi,
                        diff_resolved=bool(d_lo > 0 or d_hi < 0),
                    )  # fmt: skip
                points.append(row)
    return FiniteSizeAnalysis(pd.DataFrame(points), pd.DataFrame(trend))


def _one_over_n_fit(N: np.ndarray, y: np.ndarray, level: float) -> dict[str, float]:
    """Weighted least squares ``y = a + c/N`` with weights ``N``; the lack-of-fit F test
    against one mean per ``N`` (pure error: the scatter within each ``N``)."""
    from scipy import stats

    n = y.size
    if not np.all(np.isfinite(y)):
        raise ValueError(f"the finite-size fit needs finite values, got {y.tolist()!r}")
    sw = np.sqrt(N)
    A = np.stack([sw, sw / N], axis=1)
    beta, *_ = np.linalg.lstsq(A, sw * y, rcond=None)
    resid = sw * y - A @ beta
    dof = n - 2
    rss = float(resid @ resid)
    cov = rss / dof * np.linalg.inv(A.T @ A)
    a, c = (Estimate(float(beta[i]), float(math.sqrt(cov[i, i])), dof) for i in (0, 1))
    a_lo, a_hi = t_interval(a, level)
    c_half = t_half_width(c.stderr, dof, level)
    groups = np.unique(N)
    pure = sum(float(np.sum(N[N == m] * (y[N == m] - y[N == m].mean()) ** 2)) for m in groups)
    p = math.nan
    lack_dof, pure_dof = groups.size - 2, n - groups.size
    if lack_dof >= 1 and pure_dof >= 1 and pure > 0:
        F = ((rss - pure) / lack_dof) / (pure / pure_dof)
        p = float(stats.f.sf(F, lack_dof, pure_dof))
    return dict(
        at_infinity=a.value, at_infinity_se=a.stderr, at_infinity_lo=a_lo, at_infinity_hi=a_hi,
        c=c.value, c_se=c.stderr, c_lo=c.value - c_half, c_hi=c.value + c_half,
        dof=dof, lack_of_fit_p=p,
    )  # fmt: skip


def _verdict(fit: dict[str, float], level: float, *, has_limit: bool) -> str:
    if fit["lack_of_fit_p"] < 1 - level:
        return "not a + c/N"
    if has_limit and (fit["at_infinity_lo"] > 0 or fit["at_infinity_hi"] < 0):
        return "differs from the limit"
    if fit["c_lo"] > 0 or fit["c_hi"] < 0:
        return "1/N"
    return "not resolved"
