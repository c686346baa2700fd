"""C9-C12 experiment harness: paired differences, verdict logic, seeds in the records."""

import numpy as np
import pytest

from regnorm.claims import VERDICTS
from simulations.regularization import (
    _order_record,
    c10_records,
    mean_variance_noise,
    paired_difference,
    run_methods,
)

TINY = dict(
    n_seeds=3, input_dim=4, width=6, n_train=32, n_test=64, steps=20, n_stat=50, stat_every=10
)


def test_paired_difference_interval():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    d = paired_difference(a, a - 1.0)  # constant difference: zero-width interval
    assert d["mean"] == 1.0 and d["half_width"] == 0.0 and d["resolved"]
    d = paired_difference([1.0, -1.0, 1.0, -1.0], [0.0] * 4)
    # t_{0.975, 3} = 3.182446; sd = 1.1547, se = 0.57735
    assert d["half_width"] == pytest.approx(3.182446305 * 1.154700538 / 2, rel=1e-8)
    assert not d["resolved"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_difference([1.0], [0.0])


@pytest.mark.parametrize(
    ("diff", "claimed", "verdict"),
    [
        ([-2.0, -1.0, -1.5], "negative", "holds"),
        ([2.0, 1.0, 1.5], "negative", "deviates"),
        ([-1.0, 1.0, 0.1], "negative", "open"),
        ([2.0, 1.0, 1.5], "positive", "holds"),
        ([-1.0, 1.0, 0.1], "nonpositive", "holds"),
        ([2.0, 1.0, 1.5], "nonpositive", "deviates"),
    ],
)
def test_order_record_verdicts(diff, claimed, verdict):
    d = paired_difference(diff, np.zeros(3))
    rec = _order_record("C10", {"M": 8}, d, claimed=claimed, what="x")
    assert rec.verdict == verdict
    assert rec.numeric == pytest.approx(np.mean(diff))


def test_experiment_reproducible_and_records_carry_settings():
    a = run_methods([{"method": "bn", "M": 8}], seed=3, sizes=TINY)
    b = run_methods([{"method": "bn", "M": 8}], seed=3, sizes=TINY)
    c = run_methods([{"method": "bn", "M": 8}], seed=4, sizes=TINY)
    np.testing.assert_array_equal(a["test_loss"], b["test_loss"])
    assert not np.array_equal(a["test_loss"], c["test_loss"])
    df = mean_variance_noise(seed=1, M=8, sizes=TINY)
    recs = c10_records(df)
    assert len(recs) == 4
    for r in recs:
        assert r.verdict in VERDICTS
        assert r.params["seed"] == 1 and r.params["n_seeds"] == 3 and r.params["M"] == 8
        assert "CI" in r.note


def test_unknown_method():
    with pytest.raises(ValueError, match="method='bm'"):
        run_methods([{"method": "bm", "M": 8}], sizes=TINY)


def test_same_numbers_on_local_processes():
    runs = [{"method": "bn", "M": 8}, {"method": "wn", "M": 4, "dropout": 0.25}]
    a = run_methods(runs, seed=5, sizes=TINY)
    b = run_methods(runs, seed=5, sizes=TINY, executor="processes:2")
    np.testing.assert_array_equal(a["test_loss"], b["test_loss"])
    np.testing.assert_array_equal(a["gamma2_1"], b["gamma2_1"])
