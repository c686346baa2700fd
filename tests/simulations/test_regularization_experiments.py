"""C9-C12 experiment harness: paired runs, verdict logic, typed runs, settings in the records."""

import numpy as np
import pytest

from regnorm.estimates import paired_difference, t_interval
from simulations.checks.regularization import c10_records, ordering_records
from simulations.regularization import Comparison, mean_variance_noise, run_methods

TINY = dict(
    repetitions=3, input_dim=4, width=6, n_train=32, n_test=64, steps=20, n_stat=50, stat_every=10
)


@pytest.mark.parametrize(
    ("diff", "claimed", "margin", "verdict"),
    [
        ([-2.0, -1.0, -1.5], "negative", 0.0, "holds"),
        ([2.0, 1.0, 1.5], "negative", 0.0, "deviates"),
        ([-1.0, 1.0, 0.1], "negative", 0.0, "not resolved"),
        ([2.0, 1.0, 1.5], "positive", 0.0, "holds"),
        # mean 0.033, t_{0.975,2} half width 4.3 * 0.58 = 2.5: straddles a margin of 1
        ([-1.0, 1.0, 0.1], "nonpositive", 1.0, "not resolved"),
        ([-1.0, 1.0, 0.1], "nonpositive", 3.0, "holds"),
        ([2.0, 1.0, 1.5], "nonpositive", 0.1, "deviates"),
    ],
)
def test_ordering_record_verdicts(diff, claimed, margin, verdict):
    d = paired_difference(diff, np.zeros(3))
    comparison = Comparison({"M": 8}, d, claimed=claimed, what="x", margin=margin)
    (rec,) = ordering_records("C10", [comparison])
    assert rec.verdict == verdict
    assert rec.numeric == pytest.approx(np.mean(diff))
    low, high = t_interval(d)
    assert rec.low == pytest.approx(low) and rec.high == pytest.approx(high)


def test_experiment_reproducible_and_records_carry_settings():
    a = run_methods([{"method": "batch_norm", "M": 8}], seed=3, sizes=TINY)
    b = run_methods([{"method": "batch_norm", "M": 8}], seed=3, sizes=TINY)
    c = run_methods([{"method": "batch_norm", "M": 8}], seed=4, sizes=TINY)
    np.testing.assert_array_equal(a["test_loss"], b["test_loss"])
    assert not np.array_equal(a["test_loss"], c["test_loss"])
    df = mean_variance_noise(seed=1, M=8, sizes=TINY)
    recs = c10_records(df)
    assert len(recs) == 4
    for r in recs:
        assert r.low <= r.numeric <= r.high and r.kind == "ordering"
        assert r.params["seed"] == 1 and r.params["repetitions"] == 3 and r.params["M"] == 8
        assert "CI" in r.note


def test_unknown_method():
    with pytest.raises(ValueError, match="method='bm'"):
        run_methods([{"method": "bm", "M": 8}], sizes=TINY)


def test_unknown_size_is_refused():
    """A misspelt or retired size name (``n_seeds`` is now ``repetitions``) is an error,
    never a silently ignored override."""
    with pytest.raises(ValueError, match="sizes key='n_seeds' is not allowed"):
        run_methods([{"method": "none", "M": 8}], sizes=dict(TINY, n_seeds=3))


def test_runs_are_typed():
    """Per-layer normalizers travel as a tuple of registry names, never a joined string."""
    with pytest.raises(TypeError, match="normalizers must be a tuple"):
        run_methods([{"method": "none", "M": 8, "normalizers": "batch_norm+none"}], sizes=TINY)
    with pytest.raises(ValueError, match="unknown keys \\['droput'\\]"):
        run_methods([{"method": "none", "M": 8, "droput": 0.1}], sizes=TINY)
    with pytest.raises(ValueError, match="normalizer='bm'"):
        run_methods([{"method": "none", "M": 8, "normalizers": ("bm", "none")}], sizes=TINY)
    runs = [{"method": "none", "M": 8, "normalizers": ("BN", "none"), "open_layer": 1}]
    df = run_methods(runs, seed=2, sizes=TINY)
    assert df["normalizers"].iloc[0] == ("batch_norm", "none")
    # the layer without a normalizer has no gamma
    assert df["gamma2_1"].notna().all() and df["gamma2_2"].isna().all()


def test_same_numbers_on_local_processes():
    runs = [{"method": "batch_norm", "M": 8}, {"method": "weight_norm", "M": 4, "dropout": 0.25}]
    a = run_methods(runs, seed=5, sizes=TINY)
    b = run_methods(runs, seed=5, sizes=TINY, executor="processes:2")
    np.testing.assert_array_equal(a["test_loss"], b["test_loss"])
    np.testing.assert_array_equal(a["gamma2_1"], b["gamma2_1"])


# --- results of C9-C12 from known paired differences ---------------------------------------
# Each table below is built with a known difference between methods, so the expected mean,
# interval and verdict come from the construction (and scipy's t quantile), not from the code.

SEED_NOISE = np.array([1.0, -1.0, 0.5, -0.5, 0.25, -0.25])  # mean 0, sd 0.7583
SETTINGS = dict(
    repetitions=6, input_dim=4, width=6, n_train=32, steps=20, lr=0.05, seed=0, delta2=0.25
)


GD = "population_norm_gamma_decay"


def _table(rows):
    import pandas as pd

    df = pd.DataFrame(rows)
    df.attrs["settings"] = dict(SETTINGS)
    return df


def _interval(d):
    from scipy import stats

    d = np.asarray(d, dtype=float)
    hw = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return d.mean() - hw, d.mean() + hw


def _assert_interval(rec, d):
    lo, hi = _interval(d)
    assert rec.numeric == pytest.approx(np.mean(d), rel=1e-12, abs=1e-15)
    assert rec.low == pytest.approx(lo, rel=1e-10) and rec.high == pytest.approx(hi, rel=1e-10)


def test_c9_verdicts_follow_from_the_interval_and_margin():
    from simulations.checks.regularization import c9_records
    from simulations.regularization import AS_GOOD_MARGIN

    bn = 1.0 + 0.01 * SEED_NOISE  # mean 1: the margin is AS_GOOD_MARGIN
    cases = {
        # PN + gamma decay slightly better, tightly: holds
        8: (bn - 0.01 + 0.001 * SEED_NOISE, "holds"),
        # worse by 2 margins, tightly: deviates (the negative control)
        16: (bn + 2 * AS_GOOD_MARGIN + 0.001 * SEED_NOISE, "deviates"),
        # on the margin with a wide interval: not resolved (the old rule said "holds")
        32: (bn + AS_GOOD_MARGIN + 0.05 * SEED_NOISE, "not resolved"),
    }
    rows = []
    for M, (pn, _) in cases.items():
        for s in range(6):
            rows += [
                dict(method="batch_norm", M=M, rep=s, test_loss=bn[s], zeta_2=0.1),
                dict(method="population_norm", M=M, rep=s, test_loss=bn[s], zeta_2=np.nan),
                dict(method=GD, M=M, rep=s, test_loss=pn[s], zeta_2=0.1),
                dict(method=f"{GD}_relu", M=M, rep=s, test_loss=pn[s], zeta_2=0.1),
            ]
    recs = c9_records(_table(rows))
    assert len(recs) == 6
    for rec in recs:
        pn, verdict = cases[rec.params["M"]]
        _assert_interval(rec, pn - bn)
        assert rec.params["margin"] == pytest.approx(AS_GOOD_MARGIN * bn.mean())
        assert rec.verdict == verdict and rec.kind == "ordering"


def test_c10_verdicts():
    gaps = {
        "none": 0.5,
        "weight_norm": 0.4,
        "batch_norm_mean": 0.3,
        "batch_norm_variance": 0.4,
        "batch_norm": 0.2,
    }
    noisy = {"batch_norm": 0.001, "batch_norm_variance": 0.05}
    rows = [
        dict(method=m, M=8, rep=s, gap=g + noisy.get(m, 0.0) * SEED_NOISE[s])
        for m, g in gaps.items()
        for s in range(6)
    ]
    recs = c10_records(_table(rows))
    verdicts = {(r.params["method"], r.params["compared_with"]): r.verdict for r in recs}
    # BN (0.2) < mean-only (0.3) < WN (0.4): both hold; variance-only equals WN within a wide
    # interval: not resolved.
    assert verdicts == {
        ("batch_norm_mean", "batch_norm"): "holds",
        ("batch_norm_mean", "weight_norm"): "holds",
        ("batch_norm_variance", "batch_norm"): "holds",
        ("batch_norm_variance", "weight_norm"): "not resolved",
    }
    gaps_bn = 0.2 + 0.001 * SEED_NOISE
    _assert_interval(recs[0], gaps_bn - 0.3)


def test_c11_slopes_and_verdicts():
    from simulations.checks.regularization import c11_records

    Ms = (8, 16, 32, 64)
    rows = []
    for layer in (1, 2):
        for i, M in enumerate(Ms):
            for s in range(6):
                rows.append(
                    dict(
                        open_layer=layer,
                        M=M,
                        rep=s,
                        # layer 1: gamma^2 grows 0.1 per doubling; layer 2: flat with noise
                        gamma2_1=1.0 + 0.1 * i + 0.001 * SEED_NOISE[s] * i,
                        gamma2_2=1.0 + 0.05 * SEED_NOISE[s] * (i % 2),
                        test_loss=1.0 - 0.02 * i,
                    )
                )
    recs = c11_records(_table(rows))
    got = {(r.params["open_layer"], r.params["quantity"]): r for r in recs}
    g1 = got[(1, "gamma^2")]
    slopes = [
        np.polyfit(np.log2(Ms), [1.0 + 0.1 * i + 0.001 * e * i for i in range(4)], 1)[0]
        for e in SEED_NOISE
    ]
    _assert_interval(g1, slopes)
    assert g1.verdict == "holds"
    assert got[(2, "gamma^2")].verdict == "not resolved"
    assert got[(1, "test loss")].verdict == "deviates"  # falls with M


def _c12_table(after_shift):
    labels = {
        "BN M=16": 1.0,
        "BN M=128": 1.2,
        "BN + dropout 0.125 after, M=128": 1.0 + after_shift,
        "dropout 0.125 before BN, M=128": 1.3,
        "WN M=128": 1.0,
        "WN + dropout 0.25, M=128": 1.0,
    }
    rows = [
        dict(label=lab, rep=s, test_loss=v + 0.01 * SEED_NOISE[s] * (k % 2))
        for k, (lab, v) in enumerate(labels.items())
        for s in range(6)
    ]
    return _table(rows)


def test_c12_verdicts_with_a_margin():
    from simulations.checks.regularization import c12_records

    recs = c12_records(_c12_table(0.0))
    assert [r.verdict for r in recs] == ["holds", "holds", "holds", "not resolved"]
    assert recs[1].params["claimed"] == "nonpositive" and recs[1].params["margin"] > 0
    _assert_interval(recs[0], (1.0 + 0.0) - (1.2 + 0.01 * SEED_NOISE))
    # Negative control: dropout after BN at large batch 30% worse than BN at small batch.
    worse = c12_records(_c12_table(0.3))
    assert worse[1].verdict == "deviates" and worse[0].verdict == "deviates"


def test_c12_needs_the_six_runs_of_the_experiment():
    from simulations.checks.regularization import c12_records

    table = _c12_table(0.0)
    table = table[table["label"] != "WN M=128"]
    with pytest.raises(ValueError, match="six runs of dropout_experiment"):
        c12_records(table)
