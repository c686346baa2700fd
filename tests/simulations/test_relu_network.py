"""The teacher-student ReLU network family: gradients, training, reproducibility, bad input."""

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.normalizers import registry
from simulations.relu_network import (
    NORMALIZER_NAMES,
    REFUSED_NORMALIZERS,
    ReLUNetwork,
    ReLUTeacher,
    StudentConfig,
    TrainingProtocol,
    set_population_statistics,
    sgd_step,
    train_relu_students,
)
from tests.tolerances import assert_allclose_rounding

S, N, D, H = 2, 6, 3, 4

GRAD_CONFIGS = [
    dict(normalizers="none", weights="plain"),
    dict(normalizers="none", weights="weight_norm"),
    dict(normalizers="batch_norm", weights="plain"),
    dict(normalizers="batch_norm_mean", weights="weight_norm"),
    dict(normalizers="batch_norm_variance", weights="weight_norm"),
    dict(normalizers="population_norm", weights="plain"),
    dict(normalizers="layer_norm", weights="plain"),
    dict(normalizers="group_norm", weights="plain", groups=2),
    dict(normalizers="switchable_norm", weights="plain"),
    dict(normalizers=("proxy_norm", "switchable_norm"), weights="weight_norm"),
    dict(normalizers=("batch_norm", "none"), weights="plain"),
    dict(normalizers="batch_norm", weights="plain", dropout=0.25, dropout_position="after"),
    dict(normalizers="batch_norm", weights="plain", dropout=0.25, dropout_position="before"),
]


def _all_params(net):
    """(get, set) pairs over every trainable array: the network's and the normalizers'."""
    out = [(net.params, k, net.grads) for k in net.params]
    for norm in net.norms:
        if norm is not None:
            out += [(norm.params, k, norm.grads) for k in norm.params]
    return out


def _masks(cfg, rng):
    if cfg.dropout == 0:
        return None
    shapes = [(S, N, D if (cfg.dropout_position == "before" and i == 0) else H) for i in range(2)]
    return [(rng.random(s) > cfg.dropout).astype(float) for s in shapes]


@pytest.mark.parametrize("kw", GRAD_CONFIGS, ids=lambda kw: "-".join(map(str, kw.values())))
def test_gradients_match_finite_differences(kw):
    rng = np.random.default_rng(3)
    cfg = StudentConfig(input_dim=D, width=H, depth=2, **kw)
    net = ReLUNetwork(cfg, S, rng=1)
    for k in net.params:  # zero biases put ReLU kinks exactly at h = 0 for dead inputs
        net.params[k] = net.params[k] + 0.3 * rng.standard_normal(net.params[k].shape)
    for norm in net.norms:
        if norm is not None:
            for k in norm.params:  # move off the gamma=1, beta=0 symmetric point
                norm.params[k] = norm.params[k] + 0.3 * rng.standard_normal(norm.params[k].shape)
            if "mean" in norm.state:  # PN: arbitrary population statistics
                norm.state["mean"] = 0.2 * rng.standard_normal(S * H)
                norm.state["var"] = 0.5 + rng.random(S * H)
    x = rng.standard_normal((S, N, D))
    r = rng.standard_normal((S, N))
    masks = _masks(cfg, rng)

    def objective():
        return float(np.sum(r * net.forward(x, training=True, masks=masks, keep=False)))

    net.forward(x, training=True, masks=masks)
    net.backward(r)
    eps = 1e-6
    checked = 0
    for store, key, grads in _all_params(net):
        analytic = np.array(grads[key], copy=True)
        base = np.array(store[key], copy=True)
        flat = base.ravel()
        for j in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            plus, minus = flat.copy(), flat.copy()
            plus[j] += eps
            minus[j] -= eps
            store[key] = plus.reshape(base.shape)
            fp = objective()
            store[key] = minus.reshape(base.shape)
            fm = objective()
            store[key] = base
            numeric = (fp - fm) / (2 * eps)
            # central differences: error O(eps^2 f''') + rounding O(1e-16 |f| / eps) ~ 1e-9
            assert abs(numeric - analytic.ravel()[j]) <= 1e-6 * (1 + abs(numeric)), (key, j)
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("name", ["batch_norm", "group_norm", "switchable_norm", "proxy_norm"])
def test_backend_generic_forward_backward(xp, name):
    cfg = StudentConfig(input_dim=D, width=H, depth=2, normalizers=name, groups=2)
    ref = ReLUNetwork(cfg, S, rng=5)
    net = ReLUNetwork(cfg, S, rng=5, backend=xp)
    x = np.random.default_rng(0).standard_normal((S, N, D))
    f_ref = ref.forward(x)
    ref.backward(np.ones((S, N)))
    f = net.forward(xp.asarray(x))
    net.backward(xp.ones((S, N), dtype=xp.float64))
    assert_allclose_rounding(to_numpy(f), f_ref, ops=100)
    assert_allclose_rounding(to_numpy(net.grads["W1"]), ref.grads["W1"], ops=100)


@pytest.mark.parametrize("name", ["batch_norm", "group_norm", "switchable_norm", "proxy_norm"])
def test_seed_folding_equals_separate_students(name):
    """Replicate s trained with others equals replicate s trained alone (per-channel BN on
    folded channels is per-replicate BN; GN, LN + Proxy Norm and the per-replicate SN layers
    likewise)."""
    seqs = np.random.SeedSequence(11).spawn(3)
    cfg = StudentConfig(input_dim=D, width=H, depth=2, normalizers=name, groups=2)
    prot = TrainingProtocol(M=8, steps=30, lr=0.05)
    all3 = train_relu_students(cfg, prot, repetitions=3, n_train=32, n_test=64, rng=seqs)
    one = train_relu_students(cfg, prot, repetitions=1, n_train=32, n_test=64, rng=[seqs[1]])
    assert_allclose_rounding(one.test_loss, all3.test_loss[1:2], ops=10_000)
    assert_allclose_rounding(one.gamma2[0], all3.gamma2[0][1:2], ops=10_000)


def test_layer_norm_per_seed_is_group_norm_over_folded_channels():
    cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers="layer_norm")
    net = ReLUNetwork(cfg, S, rng=2)
    x = np.random.default_rng(1).standard_normal((S, N, D))
    net.forward(x)
    u = np.einsum("snd,shd->snh", x, net.params["W1"])
    z = (u - u.mean(2, keepdims=True)) / np.sqrt(u.var(2, keepdims=True) + net.norms[0].eps)
    assert_allclose_rounding(net.hidden[0], z, ops=100)


def test_training_reduces_loss_and_is_reproducible():
    cfg = StudentConfig(input_dim=8, width=16, depth=2, normalizers="batch_norm")
    prot = TrainingProtocol(M=16, steps=200, lr=0.05)
    short = TrainingProtocol(M=16, steps=1, lr=0.05)
    a = train_relu_students(cfg, prot, repetitions=4, n_train=64, n_test=256, rng=7)
    b = train_relu_students(cfg, prot, repetitions=4, n_train=64, n_test=256, rng=7)
    start = train_relu_students(cfg, short, repetitions=4, n_train=64, n_test=256, rng=7)
    np.testing.assert_array_equal(a.test_loss, b.test_loss)
    assert np.all(a.train_loss < 0.5 * start.train_loss)


def test_set_population_statistics_matches_c4_for_relu_curvature():
    """With A'' = H(h_bar), zeta_c = (rho_c+2)/(8M) mean(H z^2) + mean(H)/(2M), computed here
    directly from the definitions on the PN layer's input."""
    cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers="population_norm")
    net = ReLUNetwork(cfg, S, rng=4)
    x = np.random.default_rng(2).standard_normal((S, 5000, D)) ** 3  # heavy tails: rho > 0
    M = 16
    (zeta,) = set_population_statistics(net, x, M, curvature="relu")
    u = np.einsum("snd,shd->snh", x, net.params["W1"])
    z = (u - u.mean(1, keepdims=True)) / np.sqrt(u.var(1, keepdims=True) + 1e-5)
    rho = (z**4).mean(1) - 3
    act = (z > 0).astype(float)  # gamma = 1, beta = 0
    expected = (rho + 2) / (8 * M) * (act * z**2).mean(1) + act.mean(1) / (2 * M)
    assert_allclose_rounding(zeta, expected, ops=5000)
    assert np.all(rho > 1)


def test_teacher_labels_have_unit_variance_and_noise_floor():
    t = ReLUTeacher.random(1, 50, 4, delta2=0.25, rng=0)
    gens = [np.random.default_rng(1)]
    x, y = t.sample(200_000, gens)
    clean = t.clean(x)
    assert abs(clean.mean()) < 5 * clean.std() / np.sqrt(x.shape[1])
    resid = y - clean
    # noise variance delta^2 = 0.25: stderr of a sample variance is ~ sqrt(2/n) * 0.25
    assert abs(resid.var() - 0.25) < 5 * np.sqrt(2 / x.shape[1]) * 0.25


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(normalizers="batch_nrom"), "normalizer='batch_nrom'"),
        (dict(dropout=1.0), "dropout must be"),
        (dict(dropout=-0.1), "dropout must be"),
        (dict(weights="spectral"), "weights='spectral'"),
        (dict(normalizers=("batch_norm",)), "one normalizer per hidden layer"),
        (dict(normalizers="group_norm", groups=3), "groups=3 must divide width=4"),
        (dict(groups=0), "groups must be"),
    ],
)
def test_bad_student_config(kw, match):
    with pytest.raises(ValueError, match=match):
        StudentConfig(input_dim=4, width=4, depth=2, **kw)


@pytest.mark.parametrize("name", registry.NORMALIZER_NAMES)
def test_every_registry_normalizer_is_accepted_or_refused_with_reason(name):
    if name in NORMALIZER_NAMES:
        cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers=name, groups=2)
        net = ReLUNetwork(cfg, S, rng=0)
        f = net.forward(np.random.default_rng(0).standard_normal((S, N, D)))
        assert f.shape == (S, N) and np.all(np.isfinite(f))
        return
    assert name in REFUSED_NORMALIZERS, f"{name} is neither accepted nor refused"
    with pytest.raises(ValueError) as err:
        StudentConfig(input_dim=D, width=H, depth=1, normalizers=name)
    msg = str(err.value)
    assert f"normalizer={name!r}" in msg and REFUSED_NORMALIZERS[name] in msg
    assert "(N, C, H, W)" in msg or "weights='weight_norm'" in msg


def test_labels_and_class_names_give_the_canonical_names():
    cfg = StudentConfig(input_dim=D, width=H, depth=3, normalizers=("BN", "LayerNorm", "none"))
    assert cfg.normalizers == ("batch_norm", "layer_norm", "none")
    with pytest.raises(
        ValueError, match=r"normalizer='IN' \(instance_norm\) cannot normalize the dense"
    ):
        StudentConfig(input_dim=D, width=H, depth=1, normalizers="IN")


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_learning_rate(lr):
    with pytest.raises(ValueError, match="lr must be"):
        TrainingProtocol(M=4, steps=10, lr=lr)


def test_batch_larger_than_training_set():
    cfg = StudentConfig(input_dim=4, width=4)
    with pytest.raises(ValueError, match="M=64 is larger than the training set"):
        train_relu_students(cfg, TrainingProtocol(M=64, steps=1, lr=0.1), repetitions=2, n_train=32)


def test_bad_types():
    # "False" is truthy: accepted, it would train with the gamma decay it means to turn off
    with pytest.raises(TypeError, match="gamma_decay must be True or False"):
        TrainingProtocol(M=4, steps=1, lr=0.1, gamma_decay="False")
    with pytest.raises(TypeError, match="fast_path must be True or False"):
        ReLUNetwork(StudentConfig(input_dim=D, width=H), S, fast_path=1)
    with pytest.raises(TypeError, match="normalizers must be a normalizer name or a sequence"):
        StudentConfig(input_dim=D, width=H, normalizers=None)
    with pytest.raises(TypeError, match="normalizer must be a normalizer name"):
        StudentConfig(input_dim=D, width=H, depth=1, normalizers=(3,))
    with pytest.raises(TypeError, match="config must be a StudentConfig"):
        ReLUNetwork({"width": 3}, 2)
    with pytest.raises(TypeError, match="M must be an integer"):
        TrainingProtocol(M=8.0, steps=1, lr=0.1)


def test_weight_norm_layer_matches_regnorm_weight_norm():
    """The network's seed-batched WN layer equals regnorm.normalizers.WeightNorm per seed,
    forward and backward (the backward through the output weights and the ReLU)."""
    from regnorm.normalizers import WeightNorm

    cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers="none", weights="weight_norm")
    net = ReLUNetwork(cfg, S, rng=3)
    rng = np.random.default_rng(4)
    net.params["g1"] = 0.5 + rng.random((S, H))
    net.params["b1"] = 0.1 * rng.standard_normal((S, H))
    x = rng.standard_normal((S, N, D))
    df = rng.standard_normal((S, N))
    net.forward(x)
    net.backward(df)
    h = net.hidden[0]
    for s in range(S):
        wn = WeightNorm(D, H)
        wn.params["w"] = np.array(net.params["W1"][s])
        wn.params["nu"] = np.array(net.params["g1"][s])
        wn.params["b"] = np.array(net.params["b1"][s])
        assert_allclose_rounding(wn.forward(x[s]), h[s], ops=100)
        wn.backward(np.where(h[s] > 0, df[s][:, None] * net.params["v"][s], 0.0))
        assert_allclose_rounding(wn.grads["w"], net.grads["W1"][s], ops=100)
        assert_allclose_rounding(wn.grads["nu"], net.grads["g1"][s], ops=100)
        assert_allclose_rounding(wn.grads["b"], net.grads["b1"][s], ops=100)


def test_validated_fast_path_equals_checked_layer_calls(xp):
    """After its first checked call, a layer is called through its fast path; the numbers are
    exactly those of checked calls (which a network with fast_path=False always makes)."""
    cfg = StudentConfig(input_dim=D, width=H, depth=2, normalizers=("batch_norm", "layer_norm"))
    fast = ReLUNetwork(cfg, S, rng=7, backend=xp)
    checked = ReLUNetwork(cfg, S, rng=7, backend=xp, fast_path=False)
    seen_fast, seen_checked = [], []
    for net, seen in ((fast, seen_fast), (checked, seen_checked)):
        for norm in net.norms:
            public = norm.forward

            def spy(x, *, public=public, seen=seen, **kw):
                seen.append(kw.get("check", True))
                return public(x, **kw)

            norm.forward = spy
    rng = np.random.default_rng(2)
    for _ in range(4):
        x = xp.asarray(rng.standard_normal((S, N, D)))
        r = xp.asarray(rng.standard_normal((S, N)))
        outs = []
        for net in (fast, checked):
            f = net.forward(x, training=True)
            net.backward(r)
            outs.append(
                (to_numpy(f), to_numpy(net.grads["W1"]), to_numpy(net.norms[0].grads["gamma"]))
            )
            sgd_step(net, 0.1)
        for a, b in zip(*outs, strict=True):
            np.testing.assert_array_equal(a, b)
    assert seen_fast == [True, True] + [False] * 6  # two layers, four steps
    assert seen_checked == [True] * 8


def test_fast_path_still_checks_layer_parameters():
    cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers="batch_norm")
    net = ReLUNetwork(cfg, S, rng=7)
    x = np.random.default_rng(0).standard_normal((S, N, D))
    net.forward(x)
    net.norms[0].params["gamma"] = np.ones(S * H + 1)
    with pytest.raises(ValueError, match="gamma"):
        net.forward(x)


def test_a_seed_sequence_gives_the_same_students_every_time():
    """A SeedSequence root names the replicates' streams (its children 0..S-1), whatever it
    spawned before: the same root object twice gives the same students."""
    cfg = StudentConfig(input_dim=D, width=H, depth=1, normalizers="batch_norm")
    prot = TrainingProtocol(M=4, steps=3, lr=0.05)
    root = np.random.SeedSequence(21)
    kw = dict(repetitions=2, n_train=8, n_test=16)
    first = train_relu_students(cfg, prot, rng=root, **kw)
    again = train_relu_students(cfg, prot, rng=root, **kw)
    np.testing.assert_array_equal(first.test_loss, again.test_loss)
    children = np.random.SeedSequence(21).spawn(2)
    listed = train_relu_students(cfg, prot, rng=children, **kw)
    np.testing.assert_array_equal(first.test_loss, listed.test_loss)


def test_a_diverged_training_is_an_error_not_an_infinite_loss():
    """At lr = 1e3 the plain ReLU student overflows; NumPy only warns (silenced here), and the
    losses used to come back as inf. A diverged training raises, naming the step size."""
    cfg = StudentConfig(input_dim=8, width=16, depth=2, normalizers="none")
    prot = TrainingProtocol(M=16, steps=200, lr=1e3)
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=r"diverged.*lr=1000"):
        train_relu_students(cfg, prot, repetitions=2, n_train=64, n_test=64, rng=7)
