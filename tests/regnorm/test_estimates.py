"""regnorm.estimates against SciPy's independent implementations."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from regnorm.estimates import (
    Estimate,
    group_summary,
    mean_estimate,
    paired_difference,
    slope,
    slopes,
    t_half_width,
    t_interval,
)
from regnorm.sweeps import clear_shared_runs, shared_run

X = np.array([0.3, 1.7, -0.2, 2.4, 0.9])


def test_mean_and_interval_match_scipy():
    est = mean_estimate(X)
    assert est.value == pytest.approx(X.mean(), rel=1e-15)
    assert est.stderr == pytest.approx(stats.sem(X), rel=1e-14)
    assert est.dof == 4
    lo, hi = t_interval(est, 0.9)
    want = stats.t.interval(0.9, 4, loc=X.mean(), scale=stats.sem(X))
    assert (lo, hi) == pytest.approx(want, rel=1e-12)
    # dof=None is the normal limit
    assert t_half_width(1.0, None, 0.95) == pytest.approx(stats.norm.ppf(0.975), rel=1e-14)


def test_paired_difference_is_the_paired_t_test():
    b = X[::-1] + 0.1
    d = paired_difference(X, b)
    t = stats.ttest_rel(X, b)
    assert d.value / d.stderr == pytest.approx(t.statistic, rel=1e-12)
    assert d.dof == 4
    with pytest.raises(ValueError, match="pair up"):
        paired_difference(X, X[:3])


def test_slopes_match_linregress():
    x = np.log2([2.0, 4.0, 8.0, 16.0])
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((3, 4)) + 0.5 * x
    per_row = slopes(x, Y)
    for r in range(3):
        assert per_row[r] == pytest.approx(stats.linregress(x, Y[r]).slope, rel=1e-12)
    est = slope(x, Y)
    assert est == pytest.approx(tuple(mean_estimate(per_row)))
    single = slope(x, Y[0])
    lr = stats.linregress(x, Y[0])
    assert (single.value, single.stderr, single.dof) == (
        pytest.approx(lr.slope, rel=1e-12),
        pytest.approx(lr.stderr, rel=1e-12),
        2,
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: mean_estimate([1.0]),
        lambda: mean_estimate([1.0, math.nan]),
        lambda: mean_estimate(np.ones((2, 2))),
        lambda: t_half_width(1.0, 0),
        lambda: t_half_width(1.0, 3, level=1.5),
        lambda: slopes([1.0, 1.0], [1.0, 2.0]),
        lambda: slope([1.0, 2.0], [1.0, 2.0]),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()


def test_group_summary():
    df = pd.DataFrame({"g": ["a", "a", "a", "b"], "y": [1.0, 2.0, 4.0, 3.0]})
    out = group_summary(df, "g", "y", level=0.95).set_index("g")
    want = stats.t.ppf(0.975, 2) * stats.sem([1.0, 2.0, 4.0])
    assert out.loc["a", "half_width"] == pytest.approx(want, rel=1e-12)
    assert out.loc["a", "n"] == 3 and math.isnan(out.loc["b", "half_width"])


_calls = []


def _experiment(*, quick, seed, executor=None):
    _calls.append((quick, seed))
    return pd.DataFrame({"x": [seed]})


def test_shared_run_computes_once_and_copies():
    clear_shared_runs()
    _calls.clear()
    a = shared_run(_experiment, quick=True, seed=1, executor="processes:2")
    a.loc[0, "x"] = 99
    b = shared_run(_experiment, quick=True, seed=1)
    assert b.loc[0, "x"] == 1 and _calls == [(True, 1)]
    shared_run(_experiment, quick=True, seed=2)
    assert _calls == [(True, 1), (True, 2)]
    with pytest.raises(TypeError, match="module-level"):
        shared_run(lambda **k: 1, quick=True)
    assert isinstance(Estimate(1.0, 0.1), tuple)
