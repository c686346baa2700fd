"""Summaries of the normalizer-family tables: the mean over replicates and its standard error."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from regnorm.estimates import mean_estimate

__all__ = ["summarize"]


def summarize(df: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """:func:`regnorm.estimates.mean_estimate` of ``value`` per group ``by``.

    Returns one row per group (in order of appearance): the ``by`` columns, ``mean``,
    ``stderr`` (``std(ddof=1)/sqrt(n)``), ``dof`` (``n - 1``) and ``count`` (``n``, at least 2).
    """
    by = list(by)
    rows = []
    for key, group in df.groupby(by, sort=False)[value]:
        est = mean_estimate(group.to_numpy())
        keys = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "mean": est.value,
                "stderr": est.stderr,
                "dof": est.dof,
                "count": est.dof + 1,
            }
        )
    return pd.DataFrame(rows)
