"""C15/C16 harness: SN student gradients, M=1 identity, reproducibility, bad input."""

import numpy as np
import pytest

from simulations.checks.switchable_weights import c15_identity_record, c15_records, c16_records
from simulations.switchable_weights import (
    INPUT_NOISE,
    SNConvStudent,
    SNProtocol,
    sample_images,
    switchable_weights,
    train_sn_student,
)

TINY = dict(repetitions=2, batch_sizes=(2, 4), steps=10, n_train=16, noises=("gaussian",))


def test_sn_student_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    net = SNConvStudent(3, rng)
    for norm in net.norms:
        for k in norm.params:
            norm.params[k] = norm.params[k] + 0.3 * rng.standard_normal(norm.params[k].shape)
    x = sample_images(4, 3, "gaussian", rng)
    r = rng.standard_normal(4)
    net.forward(x)
    net.backward(r)
    stores = [(net.params, k, net.grads) for k in net.params]
    stores += [(n.params, k, n.grads) for n in net.norms for k in n.params]
    eps = 1e-6
    for store, key, grads in stores:
        base = np.array(store[key], copy=True)
        for j in range(min(3, base.size)):
            plus, minus = base.copy().ravel(), base.copy().ravel()
            plus[j] += eps
            minus[j] -= eps
            store[key] = plus.reshape(base.shape)
            fp = float(r @ net.forward(x))
            store[key] = minus.reshape(base.shape)
            fm = float(r @ net.forward(x))
            store[key] = base
            num = (fp - fm) / (2 * eps)
            assert abs(num - np.ravel(grads[key])[j]) <= 1e-6 * (1 + abs(num)), (key, j)


def test_bn_equals_in_at_batch_one():
    rec = c15_identity_record(0)
    assert rec.verdict == "holds"


def test_reproducible_and_paired_over_batch_sizes():
    a = switchable_weights(seed=2, sizes=TINY)
    b = switchable_weights(seed=2, sizes=TINY)
    np.testing.assert_array_equal(a["mean_bn_1"], b["mean_bn_1"])
    recs = c16_records(a)
    assert recs and all(r.params["seed"] == 2 for r in recs)


def test_heavy_tailed_images_have_larger_kurtosis():
    rng = np.random.default_rng(1)
    g = sample_images(4000, 4, "gaussian", rng)[:, 0].ravel()
    t = sample_images(4000, 4, "student_t5", rng)[:, 0].ravel()

    def kurt(v):
        z = (v - v.mean()) / v.std()
        return (z**4).mean() - 3

    assert kurt(t) > kurt(g) + 1


def test_bad_input():
    rng = np.random.default_rng(0)
    small = SNProtocol(steps=1, lr=0.1, logit_lr=0.1, n_train=16, channels=2, size=3)
    with pytest.raises(ValueError, match="M=32 is larger"):
        train_sn_student(32, "gaussian", small, rng=rng)
    with pytest.raises(ValueError, match="lr must be"):
        SNProtocol(steps=1, lr=0.0, logit_lr=0.1, n_train=16, channels=2, size=3)
    with pytest.raises(ValueError, match="channels must be"):
        SNProtocol(steps=1, lr=0.1, logit_lr=0.1, n_train=16, channels=0, size=3)
    with pytest.raises(TypeError, match="protocol must be an SNProtocol"):
        train_sn_student(2, "gaussian", {"steps": 1}, rng=rng)
    with pytest.raises(ValueError, match="noise='cauchy'"):
        sample_images(2, 3, "cauchy", rng)
    with pytest.raises(ValueError, match="sizes key='n_seeds' is not allowed"):
        switchable_weights(sizes=dict(TINY, n_seeds=3))


def test_same_numbers_on_local_processes():
    sizes = dict(TINY, noises=("gaussian", "student_t5"))
    a = switchable_weights(seed=3, sizes=sizes)
    b = switchable_weights(seed=3, sizes=sizes, executor="processes:2")
    assert len(a) == 2 * 2 * 2
    for col in ("mean_bn_1", "var_bn_2", "mean_in_1", "rho_1", "test_loss"):
        np.testing.assert_array_equal(a[col], b[col])
    # a law's numbers do not depend on which other laws are run
    c = switchable_weights(seed=3, sizes=dict(TINY, noises=("student_t5",)))
    np.testing.assert_array_equal(
        a[a["noise"] == "student_t5"]["var_bn_1"].to_numpy(), c["var_bn_1"].to_numpy()
    )


SEED_NOISE = np.array([1.0, -1.0, 0.5, -0.5, 0.25, -0.25])
SN_SETTINGS = dict(
    repetitions=6, steps=10, lr=0.1, logit_lr=0.1, n_train=16, channels=2, size=3, seed=0
)


def _weights_table(columns):
    """Rows per (M, seed) with ``columns[name](i, s)`` at the i-th batch size."""
    import pandas as pd

    Ms = (1, 2, 4, 8)
    rows = [
        dict(noise="gaussian", M=M, rep=s, **{k: f(i, s) for k, f in columns.items()})
        for i, M in enumerate(Ms)
        for s in range(6)
    ]
    df = pd.DataFrame(rows)
    df.attrs["settings"] = dict(SN_SETTINGS)
    return df


def test_c15_slopes_intervals_and_verdicts():
    from scipy import stats

    df = _weights_table(
        {
            "mean_bn_1": lambda i, s: 0.3 + 0.02 * i + 0.001 * SEED_NOISE[s] * i,  # grows
            "var_bn_1": lambda i, s: 0.3 - 0.02 * i,  # falls: negative control
            "mean_bn_2": lambda i, s: 0.3 + 0.05 * SEED_NOISE[s] * (i % 2),  # flat, noisy
            "var_bn_2": lambda i, s: 0.3 + 0.01 * i,
        }
    )
    recs = {(r.params["layer"], r.params["weight"]): r for r in c15_records(df)}
    # slopes over M >= 2 (i = 1, 2, 3 at log2 M = 1, 2, 3), computed per seed by polyfit
    slopes = np.array(
        [
            np.polyfit([1, 2, 3], [0.3 + 0.02 * i + 0.001 * e * i for i in (1, 2, 3)], 1)[0]
            for e in SEED_NOISE
        ]
    )
    r = recs[(1, "BN mean")]
    hw = stats.t.ppf(0.975, 5) * slopes.std(ddof=1) / np.sqrt(6)
    assert r.numeric == pytest.approx(slopes.mean(), rel=1e-12)
    assert r.low == pytest.approx(slopes.mean() - hw) and r.high == pytest.approx(
        slopes.mean() + hw
    )
    assert r.verdict == "holds"
    assert recs[(1, "BN var")].verdict == "deviates"
    assert recs[(2, "BN mean")].verdict == "not resolved"
    assert recs[(2, "BN var")].verdict == "holds"


def test_c16_verdicts_follow_from_the_paired_difference():
    df = _weights_table(
        {
            "rho_1": lambda i, s: 0.0,
            "var_bn_1": lambda i, s: 0.2 + 0.001 * SEED_NOISE[s],  # below the mean weight
            "mean_bn_1": lambda i, s: 0.4,
            "var_bn_2": lambda i, s: 0.5 + 0.001 * SEED_NOISE[s],  # above: negative control
            "mean_bn_2": lambda i, s: 0.3,
        }
    )
    recs = c16_records(df)
    assert {r.params["M"] for r in recs} == {2, 4}
    for r in recs:
        expected = -0.2 if r.params["layer"] == 1 else 0.2
        assert r.numeric == pytest.approx(expected, abs=1e-12)
        assert r.low < r.numeric < r.high
        assert r.verdict == ("holds" if r.params["layer"] == 1 else "deviates")


def test_each_student_trains_on_its_replicate_stream():
    """Replicate ``rep`` of a law is the stream (law's position, rep) under the root seed,
    the same at every M (paired over M) and whatever other laws run."""
    sizes = dict(TINY, noises=("student_t5",))
    df = switchable_weights(seed=3, sizes=sizes)
    row = df[(df["M"] == 4) & (df["rep"] == 1)].iloc[0]
    stream = np.random.SeedSequence(3, spawn_key=(list(INPUT_NOISE).index("student_t5"), 1))
    protocol = SNProtocol(steps=10, lr=0.05, logit_lr=0.5, n_train=16, channels=8, size=6)
    direct = train_sn_student(4, "student_t5", protocol, rng=np.random.default_rng(stream))
    for col in ("mean_bn_1", "var_bn_2", "rho_1", "test_loss"):
        assert row[col] == direct[col], col


def test_records_name_the_article_of_the_claim():
    """C15 and C16 are claims of article 000, not of the regularization family's 001."""
    df = _weights_table(
        {f"{k}_bn_{j}": (lambda i, s: 0.3) for k in ("mean", "var") for j in (1, 2)}
    )
    df["rho_1"] = 0.0
    recs = c15_records(df) + c16_records(df) + [c15_identity_record(0)]
    assert {r.source for r in recs} == {"000 §3.1-3.2"}


def test_m1_identity_is_labelled_as_identity():
    rec = c15_identity_record(0)
    assert rec.kind == "identity" and not rec.evidence
