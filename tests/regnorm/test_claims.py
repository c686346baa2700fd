import math

import pytest

from regnorm import claims as C


def test_statistical_record_verdicts():
    ok = C.statistical_record("C1", {"M": 32}, analytic=1.0, numeric=1.0 + 4e-3, stderr=1e-3)
    assert ok.verdict == "holds" and math.isclose(ok.z, 4.0)
    bad = C.statistical_record("C1", {"M": 32}, analytic=1.0, numeric=1.01, stderr=1e-3)
    assert bad.verdict == "deviates"
    assert "measured deviation +0.01 (+1.00% of analytic)" in bad.note
    assert bad.params["z_bound"] == C.DEFAULT_Z_BOUND
    with pytest.raises(ValueError, match="stderr must be a positive"):
        C.statistical_record("C1", {}, analytic=1.0, numeric=1.0, stderr=0.0)


def test_deterministic_and_open_records():
    r = C.deterministic_record("C17", {}, analytic=2.0, numeric=2.0 * (1 + 1e-13))
    assert r.verdict == "holds" and r.stderr == 0.0
    r = C.deterministic_record("C17", {}, analytic=2.0, numeric=2.1)
    assert r.verdict == "deviates" and "+5.00%" in r.note
    o = C.open_record("C8", {"alpha": 0.5}, numeric=0.03, stderr=0.01, note="fits alpha/(2M)")
    assert o.verdict == "open" and o.analytic is None and o.z is None


def test_record_rejects_unknown_ids_and_verdicts():
    with pytest.raises(ValueError, match="not in THEORY.md"):
        C.open_record("C99", {}, numeric=1.0, note="")
    with pytest.raises(ValueError, match="verdict='maybe' is not allowed"):
        C.ClaimRecord("C1", "", "", {}, None, None, None, None, "maybe")


def test_claim_registers_nothing_and_runs_from_a_list():
    @C.claim("C7", source="001 §2")
    def check(ctx):
        rng = ctx.rng("C7")
        x = rng.standard_normal(1000)
        yield C.statistical_record(
            "C7", {"quick": ctx.quick}, analytic=0.0, numeric=x.mean(), stderr=x.std() / 31.6
        )

    assert isinstance(check, C.Claim) and check.id == "C7" and check.source == "001 §2"
    assert check.name.endswith("test_claim_registers_nothing_and_runs_from_a_list.<locals>.check")
    assert check.name not in {c.name for c in C.load_checks()}
    assert list(C.registered([check])) == ["C7"]
    recs = C.run_claims("C7", checks=[check], quick=True, seed=3)
    assert len(recs) == 1 and recs[0].params["quick"] is True
    again = C.run_claims(["c7"], checks=[check], quick=True, seed=3)
    assert again[0].numeric == recs[0].numeric  # same seed, same numbers
    assert C.run_claims(["C7"], checks=[check], seed=4)[0].numeric != recs[0].numeric
    assert [r.numeric for r in check(C.CheckContext(quick=True, seed=3))] == [recs[0].numeric]
    with pytest.raises(ValueError, match="unknown claim id 'C23'"):
        C.resolve_ids("C7,C23", [check])
    with pytest.raises(ValueError, match="no check is registered for it yet"):
        C.resolve_ids("C8", [check])
    with pytest.raises(ValueError, match="the checks given are none"):
        C.run_claims("C8", checks=[])
    df = C.records_to_frame(recs)
    assert list(df.columns)[:3] == ["id", "statement", "source"]


def test_check_must_return_records():
    @C.claim("C2")
    def bad(ctx):
        return [1]

    with pytest.raises(TypeError, match="returned int, not ClaimRecord"):
        C.run_claims("C2", checks=[bad])


def test_checks_must_be_claims_listed_once():
    @C.claim("C2")
    def mine(ctx):
        return []

    with pytest.raises(TypeError, match=r"checks: item 1 is function .*not a regnorm.claims.Claim"):
        C.run_claims("C2", checks=[mine, mine.check])
    with pytest.raises(TypeError, match="checks must be a list of regnorm.claims.Claim"):
        C.run_claims("C2", checks=mine)
    with pytest.raises(ValueError, match=r"check .*mine is listed twice \(items 0, 1\)"):
        C.run_claims("C2", checks=[mine, mine])
    with pytest.raises(ValueError, match="claim id 'C99' is not in THEORY.md"):
        C.claim("C99")


def test_a_listed_check_pickles_by_name():
    import pickle

    from simulations.checks import CHECKS

    for check in CHECKS:
        assert pickle.loads(pickle.dumps(check)) is check


# --- verdict rules --------------------------------------------------------------------------


def test_t_bound_matches_the_normal_false_alarm_rate():
    from scipy import stats

    # Independent: the two-sided tail of t with the bound equals that of |z| > 5.
    for dof in (2, 4, 30):
        b = C.t_bound(dof)
        assert math.isclose(2 * stats.t.sf(b, dof), 2 * stats.norm.sf(5.0), rel_tol=1e-9)
    assert C.t_bound(None) == 5.0
    assert C.t_bound(10**6) == pytest.approx(5.0, rel=1e-4)
    with pytest.raises(ValueError, match="dof"):
        C.t_bound(0)


def test_small_sample_mean_is_judged_by_t():
    # z = 20: far outside the normal bound, inside the t bound with 2 degrees of freedom
    # (1321): a mean over 3 data sets cannot reject it.
    wide = C.statistical_record("C8", {}, analytic=1.0, numeric=1.2, stderr=0.01, dof=2)
    assert wide.verdict == "holds"
    assert wide.params["bound"] > 1000
    assert wide.low < 1.0 < wide.high and math.isclose(wide.resolvable, wide.high - 1.2)
    normal = C.statistical_record("C8", {}, analytic=1.0, numeric=1.2, stderr=0.01)
    assert normal.verdict == "deviates"
    # With many replicates the t bound is the normal one, and z = 20 is rejected.
    many = C.statistical_record("C8", {}, analytic=1.0, numeric=1.2, stderr=0.01, dof=1000)
    assert many.verdict == "deviates"


def _candidates(values, numeric, stderr, dof=None):
    return [
        C.statistical_record(
            "C8", {"candidate": name}, analytic=a, numeric=numeric, stderr=stderr, dof=dof
        )
        for name, a in values.items()
    ]


def test_candidates_one_survivor_holds_several_not_resolved():
    values = {"a": 1.0, "b": 1.5, "c": 3.0}
    one = C.judge_candidates(_candidates(values, 1.0, 0.01))
    assert [r.verdict for r in one] == ["holds", "deviates", "deviates"]
    assert "rejected: b, c; supported: a" in one[0].note
    # A wide error over 3 data sets (t bound 1321 with 2 dof): nothing is rejected.
    few = C.judge_candidates(_candidates(values, 1.0, 0.01, dof=2))
    assert [r.verdict for r in few] == ["not resolved", "not resolved", "not resolved"]
    some = C.judge_candidates(_candidates(values, 1.2, 0.07))
    assert [r.verdict for r in some] == ["not resolved", "not resolved", "deviates"]
    assert "more than one survives" in some[0].note
    with pytest.raises(ValueError, match="candidate"):
        C.judge_candidates([C.statistical_record("C8", {}, analytic=1, numeric=1, stderr=1)])


def test_ordering_at_least_as_good_needs_a_margin():
    # dof 9: t_{0.975} = 2.262, so the half width is 0.2262.
    args = dict(stderr=0.1, dof=9, claimed="nonpositive", margin=0.5)
    assert C.ordering_record("C9", {}, diff=0.0, **args).verdict == "holds"
    straddles = C.ordering_record("C9", {}, diff=0.4, **args)
    assert straddles.verdict == "not resolved" and straddles.low < 0.5 < straddles.high
    assert C.ordering_record("C9", {}, diff=0.8, **args).verdict == "deviates"
    # Worse but resolved within the margin still holds: "as good as" up to the margin.
    assert C.ordering_record("C9", {}, diff=0.25, **args).verdict == "holds"
    with pytest.raises(ValueError, match="margin must be positive"):
        C.ordering_record("C9", {}, diff=0.0, stderr=0.1, dof=9, claimed="nonpositive")


def test_ordering_strict():
    rec = C.ordering_record("C12", {}, diff=-0.3, stderr=0.1, dof=9, claimed="negative")
    assert rec.verdict == "holds" and rec.kind == "ordering"
    assert math.isclose(rec.resolvable, 0.1 * 2.2621571627409915, rel_tol=1e-9)
    assert C.ordering_record(
        "C12", {}, diff=-0.1, stderr=0.1, dof=9, claimed="negative"
    ).verdict == ("not resolved")
    assert C.ordering_record(
        "C12", {}, diff=0.3, stderr=0.1, dof=9, claimed="negative"
    ).verdict == ("deviates")
    assert C.ordering_record(
        "C11", {}, diff=0.3, stderr=0.1, dof=9, claimed="positive"
    ).verdict == ("holds")


def test_asymptotic_law_judged_against_exact_value():
    # 3/(2M) against 1.5/M * (1 + 1/M): 1/M relative error, inside 5% from M = 20 on.
    assert C.asymptotic_record(
        "C1", {}, asymptote=1.5 / 32, exact=1.5 / 32 * (1 + 1 / 32)
    ).verdict == ("holds")
    rec = C.asymptotic_record("C1", {}, asymptote=1.5 / 8, exact=1.5 / 8 * (1 + 1 / 8))
    assert rec.verdict == "deviates" and rec.kind == "asymptotic" and rec.stderr == 0.0
    assert "rtol 0.05" in rec.note


def test_asymptotic_without_exact_value_says_its_budget():
    rec = C.statistical_record("C2", {}, analytic=1.0, numeric=1.0, stderr=0.1, kind="asymptotic")
    assert rec.verdict == "holds" and "Monte-Carlo budget" in rec.note


def test_identity_records_are_not_evidence():
    rec = C.identity_record("C13", {"d": 4}, analytic=0.0, numeric=1e-15, atol=1e-12)
    assert rec.verdict == "holds" and rec.kind == "identity" and not rec.evidence
    broken = C.identity_record("C13", {"d": 4}, analytic=0.0, numeric=1e-3, atol=1e-12)
    assert broken.verdict == "deviates"
    assert C.deterministic_record("C17", {}, analytic=1.0, numeric=1.0).evidence
    with pytest.raises(ValueError, match="kind='guess' is not allowed"):
        C.ClaimRecord("C1", "", "", {}, None, None, None, None, "holds", kind="guess")


def test_non_finite_inputs_are_refused():
    with pytest.raises(ValueError, match="finite"):
        C.statistical_record("C1", {}, analytic=math.nan, numeric=1.0, stderr=1.0)
    with pytest.raises(ValueError, match="finite"):
        C.deterministic_record("C1", {}, analytic=1.0, numeric=math.inf)


def test_frame_has_structured_params_and_kinds():
    import json

    recs = [
        C.statistical_record(
            "C1", {"M": 32, "distribution": "gaussian"}, analytic=1.0, numeric=1.0, stderr=0.1
        ),
        C.identity_record("C13", {"cov": "4 I"}, analytic=0.0, numeric=0.0),
    ]
    df = C.records_to_frame(recs)
    assert json.loads(df["params"][0])["M"] == 32
    assert json.loads(df["params"][0])["distribution"] == "gaussian"
    assert df["param_M"][0] == 32.0 and math.isnan(df["param_M"][1])
    assert list(df["kind"]) == ["exact", "identity"]
    assert {"statement", "low", "high", "resolvable"} <= set(df.columns)
