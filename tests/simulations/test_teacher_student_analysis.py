"""The C8 analysis reads the batch size and the noise level from the sweep it analyses."""

import math

import numpy as np
import pandas as pd
import pytest

from regnorm import learning_curves as lc
from simulations import teacher_student as ts
from tests.tolerances import assert_allclose_rounding


def _table(M, delta2, alpha, zmatch, eps, zmatch_trainstats):
    """A bn_sweep-shaped table of one point (one row per data set) for the batch_norm student."""
    n = len(zmatch)
    return pd.DataFrame(
        {
            "N": 64,
            "alpha": alpha,
            "delta2": delta2,
            "M": M,
            "rep": np.arange(n),
            "eps_batch_norm": eps,
            "eps_batch_norm_trainstats": eps,
            "zmatch_batch_norm": zmatch,
            "zmatch_batch_norm_trainstats": zmatch_trainstats,
            "converged": 1.0,
            "eps_pinv": 1.0,
        }
    )


def _summary(df):
    s = ts.c8_summary(df, variants=("batch_norm",))
    return s.set_index(["M", "inference"])


def test_a_sweep_at_another_M_is_judged_against_its_own_candidates():
    """Matched zetas around 1/(2M) at M = 8 and at M = 16 (t-intervals of half width ~0.003
    and ~0.0015): each supports the article's 1/(2M) of ITS M, and no candidate of the other
    (1/(2 * 32) = 0.0156 and its multiples lie outside both intervals, so a summary that
    judged against M = 32 would find no support)."""
    spread = np.array([-0.0025, -0.0005, 0.0005, 0.0025])
    eps = [0.3, 0.31, 0.29, 0.3]
    tables = [
        _table(M, 0.25, 2.0, 1 / (2 * M) + spread / (M / 8), eps, [np.nan] * 4) for M in (8, 16)
    ]
    s = _summary(pd.concat(tables, ignore_index=True))
    for M in (8, 16):
        row = s.loc[(M, "population")]
        assert_allclose_rounding(row["zeta_pair"], 1 / (2 * M), ops=8)  # a mean of four
        assert row["zeta_pair_lo"] < 1 / (2 * M) < row["zeta_pair_hi"]
        assert row["supports"] == ("half_M",)
        assert row["delta2"] == 0.25 and row["repetitions"] == 4


def test_the_noise_level_of_the_sweep_is_used():
    """At delta2 = 0.5: a data set that beats every ridge solution (matched zeta NaN) counts at
    the optimum zeta = delta2 = 0.5, and the closed-form inversion of
    eps_wn(alpha, 0.1, 0.5) gives back 0.1 (at delta2 = 0.25 it would give another zeta)."""
    eps = lc.eps_wn(2.0, 0.1, 0.5)
    assert not math.isclose(lc.effective_zeta(eps, 2.0, 0.25), 0.1, rel_tol=1e-3)
    df = _table(8, 0.5, 2.0, [0.05, 0.06, 0.07, 0.08], [eps] * 4, [np.nan] * 4)
    s = _summary(df)
    assert s.loc[(8, "training"), "zeta_pair"] == 0.5
    assert s.loc[(8, "training"), "n_nan"] == 4
    # the inversion bisects to an absolute 1e-13 in zeta
    assert abs(s.loc[(8, "population"), "zeta_cf"] - 0.1) < 1e-12


def test_a_table_without_its_setting_is_refused():
    df = _table(8, 0.25, 2.0, [0.05, 0.06], [0.3, 0.3], [0.05, 0.06]).drop(columns="M")
    with pytest.raises(ValueError, match="no column 'M'"):
        ts.c8_summary(df, variants=("batch_norm",))
    one = _table(8, 0.25, 2.0, [0.05], [0.3], [0.05])
    with pytest.raises(ValueError, match="at least 2 data sets .* got 1 at M=8"):
        ts.c8_summary(one, variants=("batch_norm",))
    with pytest.raises(ValueError, match="holds 2 values of 'M'"):
        ts.sweep_setting(pd.DataFrame({"M": [8, 16]}), "M")


def test_bn_sweep_records_its_setting_in_the_table():
    df = ts.bn_sweep(32, [2.0], 2, M=8, delta2=0.5, seed=0, train=False)
    assert ts.sweep_setting(df, "M") == 8 and ts.sweep_setting(df, "delta2") == 0.5
    assert len(df) == 2 and df["eps_pinv"].notna().all()


def test_an_error_interval_below_the_ridge_optimum_reads_as_such():
    """An error whose lower 1.96-s.e. end lies below eps_wn at the optimum zeta = delta2 has no
    closed-form zeta there: the record's note says so, never 'nan'."""
    from simulations.checks.teacher_student import c8_zeta_records

    best = lc.eps_wn(2.0, 0.25, 0.25)
    eps = [best * 0.6, best * 1.4, best * 0.7, best * 1.3]
    s = ts.c8_summary(
        _table(8, 0.25, 2.0, [0.05, 0.06, 0.07, 0.08], eps, [0.05] * 4), variants=("batch_norm",)
    )
    assert s["zeta_cf_hi"].isna().any()
    notes = [r.note for r in c8_zeta_records(s, N=64, seed=0)]
    assert all("nan" not in n.lower() for n in notes)
    assert any("none (error below the ridge optimum)" in n for n in notes)
