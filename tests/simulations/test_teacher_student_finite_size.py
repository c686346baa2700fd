"""The finite-size study of C6 and C8 (tiny sizes here) and its analysis of the trend in N."""

import math

import numpy as np
import pandas as pd
import pytest

from regnorm import learning_curves as lc
from regnorm.seeding import seed_sequence
from simulations import teacher_student as ts
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import assert_allclose_rounding

DELTA2 = 0.25
M = 8


@pytest.fixture(scope="module")
def study():
    return ts.finite_size_study((32, 64), (0.5, 2.0), 2, M=M, delta2=DELTA2, seed=1)


def test_the_table_pairs_each_ridge_error_with_its_limit_on_the_students_data_set(study):
    assert list(study.columns) == list(ts.FINITE_SIZE_COLUMNS)
    assert len(study) == 2 * 2 * 2 and (study["backend"] == "numpy").all()
    assert study.attrs["settings"] == {"M": M, "delta2": DELTA2, "backend": "numpy", "seed": 1}
    for _, r in study.iterrows():
        N, alpha, P = int(r["N"]), float(r["alpha"]), round(r["alpha"] * r["N"])
        assert r["P"] == P
        # the closed forms at the data set's own P/N
        assert r["eps_wn_half_M"] == pytest.approx(lc.eps_wn(P / N, 1 / (2 * M), DELTA2), rel=1e-14)
        assert r["eps_wn_opt"] == pytest.approx(lc.eps_wn(P / N, DELTA2, DELTA2), rel=1e-14)
        # the data set the BN student trained on: the sweep point's own stream
        params = dict(N=N, alpha=alpha, delta2=DELTA2, M=M, variants=("batch_norm",))
        rng = np.random.default_rng(seed_sequence(1, params, int(r["rep"])))
        data = ts.teacher(N, P, DELTA2, rng=rng)
        want = ts.ridge_path(data, [1 / (2 * M), DELTA2])
        assert_allclose_rounding([r["eps_ridge_half_M"], r["eps_ridge_opt"]], want)
    assert np.isfinite(study["eps_batch_norm"]).all()


@pytest.mark.skipif("array_api_strict" not in AVAILABLE_BACKENDS, reason="needs array-api-strict")
def test_the_study_on_the_device_equals_numpys(monkeypatch):
    from simulations.teacher_student import fused

    monkeypatch.setattr(fused, "available", lambda: False)  # NumPy's array-API steps
    kw = dict(M=16, delta2=DELTA2, seed=2)  # 4 steps per epoch: strict is slow
    got = ts.finite_size_study((32, 48), (2.0,), 2, backend="array_api_strict:device1", **kw)
    want = ts.finite_size_study((32, 48), (2.0,), 2, **kw)
    assert (got["backend"] == "array_api_strict:device1").all()
    numbers = [c for c in ts.FINITE_SIZE_COLUMNS if c != "backend"]
    # thousands of SGD steps: the O(1) errors agree to accumulated rounding
    assert_allclose_rounding(got[numbers].to_numpy(float), want[numbers].to_numpy(float), ops=1e4)


def _synthetic(shift, *, noise=1e-3, Ns=(1024, 4096, 16384), reps=3, seed=0, zeta=None):
    """A study table whose differences to the limit are ``shift(N)`` plus noise of standard
    deviation ``noise * sqrt(1024 / N)`` (a self-averaging quantity)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in Ns:
        for rep in range(reps):
            e = shift(N) + noise * math.sqrt(1024 / N) * rng.standard_normal(3)
            z = (zeta or (lambda n: 0.1))(N) + noise * math.sqrt(1024 / N) * rng.standard_normal()
            rows.append(
                dict(N=N, alpha=0.9, rep=rep, M=M, delta2=DELTA2,
                     eps_ridge_half_M=0.5 + e[0], eps_wn_half_M=0.5,
                     eps_ridge_opt=0.4 + e[1], eps_wn_opt=0.4, zeta_eff=z)
            )  # fmt: skip
    return pd.DataFrame(rows)


def _trend(df, quantity="eps_ridge_half_M"):
    t = ts.finite_size_analysis(df).trend
    return t[t["quantity"] == quantity].iloc[0]


def test_a_1_over_n_approach_to_the_limit_is_resolved_and_measured():
    c = 40.0  # 0.04 at N = 1024, 40 times the noise there
    r = _trend(_synthetic(lambda N: c / N))
    assert r["verdict"] == "1/N"
    assert r["c_lo"] <= c <= r["c_hi"] and r["at_infinity_lo"] <= 0.0 <= r["at_infinity_hi"]
    assert r["lack_of_fit_p"] > 0.05 and r["dof"] == 9 - 2
    pts = ts.finite_size_analysis(_synthetic(lambda N: c / N)).points
    p = pts[(pts["quantity"] == "eps_ridge_half_M") & (pts["N"] == 1024)].iloc[0]
    assert p["diff_resolved"] and p["diff_lo"] <= c / 1024 <= p["diff_hi"]
    assert p["fit_shift"] == pytest.approx(r["c"] / 1024)


def test_the_fit_is_weighted_least_squares_with_weights_n():
    df = _synthetic(lambda N: 40.0 / N, noise=1e-2)
    r = _trend(df)
    x, y = 1.0 / df["N"].to_numpy(float), (df["eps_ridge_half_M"] - df["eps_wn_half_M"]).to_numpy()
    # numpy's polyfit weighs residuals by w (1/sigma, sigma^2 ~ 1/N) and scales the
    # covariance by chi^2/dof
    (c, a), cov = np.polyfit(x, y, 1, w=np.sqrt(df["N"].to_numpy(float)), cov=True)
    assert_allclose_rounding([r["at_infinity"], r["c"]], [a, c], ops=1e4)
    assert_allclose_rounding([r["at_infinity_se"], r["c_se"]], np.sqrt(np.diag(cov))[::-1], ops=1e4)


def test_a_limit_that_is_not_reached_and_a_trend_that_is_not_1_over_n_are_told_apart():
    assert _trend(_synthetic(lambda N: 0.05))["verdict"] == "differs from the limit"
    r = _trend(_synthetic(lambda N: 3.0 / math.sqrt(N), noise=1e-4))
    assert r["verdict"] == "not a + c/N" and r["lack_of_fit_p"] < 1e-6


def test_no_finite_size_effect_below_the_noise_is_not_resolved():
    r = _trend(_synthetic(lambda N: 0.0, noise=1e-2))
    assert r["verdict"] == "not resolved"


def test_zeta_eff_is_extrapolated_and_judged_against_the_candidates():
    # M = 8: the candidates 1/(2M) = 0.0625 and alpha/(2M) = 0.05625 at alpha = 0.9
    df = _synthetic(lambda N: 0.0, zeta=lambda N: 1 / (2 * M) + 30.0 / N, noise=1e-4)
    r = _trend(df, "zeta_eff")
    assert r["verdict"] == "1/N" and r["supports"] == ("half_M",)
    assert r["at_infinity_lo"] <= 1 / (2 * M) <= r["at_infinity_hi"]
    assert r["c_lo"] <= 30.0 <= r["c_hi"]


def test_a_student_better_than_every_ridge_counts_at_delta2():
    df = _synthetic(lambda N: 0.0)
    df.loc[0, "zeta_eff"] = math.nan  # the student beat every ridge solution there
    pts = ts.finite_size_analysis(df).points
    z = pts[pts["quantity"] == "zeta_eff"]
    first = z[z["N"] == 1024].iloc[0]
    assert first["n_nan"] == 1 and z["n_nan"].sum() == 1 and z["limit"].isna().all()
    values = df.loc[df["N"] == 1024, "zeta_eff"].fillna(DELTA2)
    assert first["mean"] == pytest.approx(values.mean(), rel=1e-14)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(Ns=(32,)), r"Ns must hold at least two distinct"),
        (dict(Ns=(32, 32)), r"Ns must hold at least two distinct"),
        (dict(repetitions=1), r"repetitions"),
        (dict(alphas=(0.1,)), r"N=32 at alpha=0.1 gives 3 samples, fewer than the batch size"),
        (dict(alphas=(-1.0,)), r"alphas"),
        (dict(M=1), r"M"),
        (dict(backend="tpu"), r"backend='tpu'"),
    ],
)
def test_bad_input_is_refused_by_name(kw, match):
    args = dict(Ns=(32, 64), alphas=(2.0,), repetitions=2, M=M, delta2=DELTA2) | kw
    with pytest.raises(ValueError, match=match):
        ts.finite_size_study(**args)


def test_the_analysis_refuses_what_it_cannot_judge():
    with pytest.raises(ValueError, match="is it a finite_size_study table"):
        ts.finite_size_analysis(pd.DataFrame({"N": [1]}))
    with pytest.raises(ValueError, match="at least two N"):
        ts.finite_size_analysis(_synthetic(lambda N: 0.0, Ns=(1024,)))
    with pytest.raises(ValueError, match="at least 2 data sets per point"):
        ts.finite_size_analysis(_synthetic(lambda N: 0.0, reps=1))


def test_the_analysis_of_a_study(study):
    an = ts.finite_size_analysis(study)
    assert len(an.trend) == 3 * 2 and len(an.points) == 3 * 2 * 2
    assert set(an.trend["verdict"]) <= {"1/N", "not resolved", "differs from the limit"}
    assert an.trend["lack_of_fit_p"].isna().all()  # two N leave no pure-error test
