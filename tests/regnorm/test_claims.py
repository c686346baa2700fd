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


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(C, "_REGISTRY", {})
    return C


def test_register_run_and_resolve(registry):
    @registry.claim("C7", source="001 §2")
    def check(ctx):
        rng = ctx.rng("C7")
        x = rng.standard_normal(1000)
        yield C.statistical_record(
            "C7", {"quick": ctx.quick}, analytic=0.0, numeric=x.mean(), stderr=x.std() / 31.6
        )

    assert list(registry.registered()) == ["C7"]
    recs = registry.run_claims("C7", quick=True, seed=3)
    assert len(recs) == 1 and recs[0].params["quick"] is True
    again = registry.run_claims(["c7"], quick=True, seed=3)
    assert again[0].numeric == recs[0].numeric  # same seed, same numbers
    assert registry.run_claims(["C7"], seed=4)[0].numeric != recs[0].numeric
    with pytest.raises(ValueError, match="unknown claim id 'C23'"):
        registry.resolve_ids("C7,C23")
    with pytest.raises(ValueError, match="no check is registered for it yet"):
        registry.resolve_ids("C8")
    df = registry.records_to_frame(recs)
    assert list(df.columns)[:3] == ["id", "statement", "source"]


def test_check_must_return_records(registry):
    @registry.claim("C2")
    def bad(ctx):
        return [1]

    with pytest.raises(TypeError, match="returned int, not ClaimRecord"):
        registry.run_claims("C2")
