"""The ReLU-network families on a device: array-api-strict on ``device1`` (not its default
device, so any array made on the host or on the default device fails to combine with the
device's) and CuPy where a GPU is present.

array-api-strict's generator moves NumPy's own numbers to the device, so a strict run trains
on exactly NumPy's data, initial weights, minibatches and dropout masks: its results equal
NumPy's to rounding. CuPy draws its own stream; there only the same-seed reproducibility and
the device placement are tested.
"""

import numpy as np
import pytest

from regnorm.backend import device_of, resolve_backend, to_numpy
from regnorm.seeding import seed_sequence
from simulations import relu_network as rn
from tests.conftest import AVAILABLE_BACKENDS
from tests.tolerances import assert_allclose_rounding

STRICT = "array_api_strict:device1"
needs_gpu = pytest.mark.skipif("cupy" not in AVAILABLE_BACKENDS, reason="needs CuPy and a GPU")


@pytest.fixture
def strict():
    pytest.importorskip("array_api_strict")
    return resolve_backend(STRICT)


def _train(config, protocol, backend, **kw):
    kw = {"repetitions": 3, "n_train": 48, "n_test": 64, "rng": 11, **kw}
    return rn.train_relu_students(config, protocol, backend=backend, **kw)


def test_teacher_and_initial_weights_are_drawn_on_the_device_with_numpys_numbers(strict):
    seqs = rn.replicate_sequences(2, 5)
    host = rn.ReLUTeacher.random(2, 6, 3, rng=seqs)
    dev = rn.ReLUTeacher.random(2, 6, 3, rng=seqs, backend=strict)
    assert device_of(dev.weights) == strict.device and device_of(dev.signs) == strict.device
    assert_allclose_rounding(to_numpy(dev.weights), host.weights, ops=10)
    x_h, y_h = host.sample(20, rn.replicate_generators(seqs, rn.teacher.DATA_STREAM))
    x_d, y_d = dev.sample(20, rn.replicate_generators(seqs, rn.teacher.DATA_STREAM, strict))
    assert device_of(x_d) == strict.device and device_of(y_d) == strict.device
    np.testing.assert_array_equal(to_numpy(x_d), x_h)  # the same draws, not just close ones
    assert_allclose_rounding(to_numpy(y_d), y_h, ops=20)
    cfg = rn.StudentConfig(input_dim=6, width=4, depth=2, normalizers="none")
    net_h, net_d = (
        rn.ReLUNetwork(cfg, 2, rng=seqs),
        rn.ReLUNetwork(cfg, 2, rng=seqs, backend=strict),
    )
    for k, v in net_h.params.items():
        assert device_of(net_d.params[k]) == strict.device, k
        np.testing.assert_array_equal(to_numpy(net_d.params[k]), v, err_msg=k)


@pytest.mark.parametrize(
    "kw",
    [
        {"normalizers": "batch_norm"},
        {"normalizers": "population_norm"},
        {"normalizers": ("layer_norm", "group_norm"), "groups": 2},
        {"normalizers": "switchable_norm"},
        {"normalizers": "proxy_norm"},
        {"normalizers": "none", "weights": "weight_norm"},
        {"normalizers": "batch_norm", "dropout": 0.25},
        {"normalizers": "batch_norm", "dropout": 0.25, "dropout_position": "before"},
    ],
)
def test_training_on_the_device_equals_numpys(strict, kw):
    """A few SGD steps (a second epoch included, PN statistics refreshed, dropout masks drawn)
    on device1 give NumPy's losses, gamma and zeta to rounding."""
    cfg = rn.StudentConfig(input_dim=5, width=4, depth=2, **kw)
    prot = rn.TrainingProtocol(M=8, steps=9, lr=0.05, n_stat=200, stat_every=4)
    ref = _train(cfg, prot, None)
    dev = _train(cfg, prot, strict)
    # ~10^2 roundings per number and step of a 4-wide network, through 9 steps
    ops = 100
    assert_allclose_rounding(dev.train_loss, ref.train_loss, ops=ops)
    assert_allclose_rounding(dev.test_loss, ref.test_loss, ops=ops)
    for g_d, g_r in zip(dev.gamma2 + dev.zeta, ref.gamma2 + ref.zeta, strict=True):
        assert (g_d is None) == (g_r is None)
        if g_r is not None:
            assert_allclose_rounding(g_d, g_r, ops=ops)
    assert isinstance(dev.train_loss, np.ndarray)  # results cross to the host at the edge


@pytest.mark.parametrize("curvature", rn.ZETA_CURVATURES)
def test_the_pn_gamma_decay_coefficient_is_computed_on_the_device(strict, curvature):
    """zeta of the PN layers: on device1 it stays there (the formula of
    gamma_decay_coefficient elementwise) and gives the host's channel-by-channel numbers."""
    cfg = rn.StudentConfig(input_dim=5, width=4, depth=2, normalizers="population_norm")
    x = np.random.default_rng(8).standard_normal((2, 300, 5))
    ref = rn.set_population_statistics(rn.ReLUNetwork(cfg, 2, rng=3), x, 8, curvature=curvature)
    net = rn.ReLUNetwork(cfg, 2, rng=3, backend=strict)
    dev = rn.set_population_statistics(net, strict.asarray(x), 8, curvature=curvature)
    for z_dev, z_ref in zip(dev, ref, strict=True):
        assert device_of(z_dev) == strict.device
        assert_allclose_rounding(to_numpy(z_dev), z_ref, ops=100)


# a C10-like experiment small enough for the default run (PN and dropout are in C9 and C12)
C10_SIZES = dict(
    repetitions=4, input_dim=5, width=6, n_train=48, n_test=96, steps=40, n_stat=50, stat_every=10
)


def test_a_c10_experiment_on_the_device_equals_numpys_and_says_where_it_ran(strict):
    from simulations.checks.regularization import c10_records
    from simulations.regularization import mean_variance_noise

    ref = mean_variance_noise(seed=2, M=8, sizes=C10_SIZES)
    dev = mean_variance_noise(seed=2, M=8, sizes=C10_SIZES, backend=strict)
    assert "backend" not in ref.attrs["settings"]
    assert dev.attrs["settings"]["backend"] == STRICT
    assert list(dev.columns) == list(ref.columns)
    for col in ("train_loss", "test_loss", "gap"):
        assert_allclose_rounding(dev[col].to_numpy(), ref[col].to_numpy(), ops=100)
    recs_ref, recs_dev = c10_records(ref), c10_records(dev)
    assert [r.verdict for r in recs_dev] == [r.verdict for r in recs_ref]
    for r_ref, r_dev in zip(recs_ref, recs_dev, strict=True):
        assert "backend" not in r_ref.params
        assert r_dev.params == {**r_ref.params, "backend": STRICT}


@pytest.mark.parametrize("noise", ["gaussian", "student_t5"])
def test_an_sn_student_on_the_device_equals_numpys(strict, noise):
    """The switchable-weights student: images (NumPy's Student-t numbers moved to the
    device), teacher, initialization and permutations on device1 give NumPy's weights."""
    from simulations.switchable_weights import SNProtocol, train_sn_student

    prot = SNProtocol(steps=12, lr=0.05, logit_lr=0.5, n_train=16, channels=4, size=4)
    ref = train_sn_student(4, noise, prot, rng=np.random.default_rng(seed_sequence(6, 1)))
    dev = train_sn_student(
        4, noise, prot, rng=np.random.default_rng(seed_sequence(6, 1)), backend=strict
    )
    assert dev.keys() == ref.keys()
    for k, v in ref.items():
        assert_allclose_rounding(dev[k], v, ops=100)


def test_sn_records_off_numpy_carry_the_backend(strict):
    from simulations.checks.switchable_weights import c15_records
    from simulations.switchable_weights import switchable_weights

    sizes = dict(repetitions=2, batch_sizes=(2, 4), steps=6, n_train=16, channels=4, size=4)
    ref = switchable_weights(seed=1, sizes=sizes)
    dev = switchable_weights(seed=1, sizes=sizes, backend=strict)
    assert dev.attrs["settings"]["backend"] == STRICT and "backend" not in ref.attrs["settings"]
    for r_ref, r_dev in zip(c15_records(ref), c15_records(dev), strict=True):
        assert r_dev.params == {**r_ref.params, "backend": STRICT}
        assert r_dev.verdict == r_ref.verdict


def test_c22_batch_dependence_on_the_device_equals_numpys(strict):
    from simulations.normalizer_family import batch_dependence_noise

    kw = dict(
        normalizers=("batch_norm", "switchable_norm", "batch_renorm", "layer_norm"),
        Ms=(2, 4),
        repetitions=2,
        batches=3,
        seed=5,
    )
    ref = batch_dependence_noise(**kw)
    dev = batch_dependence_noise(**kw, backend=strict)
    assert dev.attrs["settings"]["backend"] == STRICT and "backend" not in ref.attrs["settings"]
    dep = ref["batch_dependent"].to_numpy()
    # the batch-dependent layers' noise is O(1/m); the batch-free one's is rounding (~1e-32)
    assert_allclose_rounding(dev["noise"].to_numpy()[dep], ref["noise"].to_numpy()[dep], ops=100)
    assert np.all(dev["noise"].to_numpy()[~dep] <= 1e-24)


def test_c18_depth_profile_on_the_device_equals_numpys(strict):
    from simulations.normalizer_family import proxy_norm_depth_profile

    kw = dict(norms=("BN", "LN+PN"), depth=3, width=4, size=4, batch=4, repetitions=2, seed=3)
    ref = proxy_norm_depth_profile(**kw)
    dev = proxy_norm_depth_profile(**kw, backend=strict)
    assert dev.attrs["settings"]["backend"] == STRICT and "backend" not in ref.attrs["settings"]
    assert dev[["norm", "depth", "metric", "rep"]].equals(ref[["norm", "depth", "metric", "rep"]])
    # BN's channel means are zero by construction: rounding on both, compared absolutely
    assert_allclose_rounding(dev["value"].to_numpy(), ref["value"].to_numpy(), ops=100, atol=1e-28)


def test_the_backend_generic_checks_of_the_relu_families():
    from simulations.checks import normalizer_family, regularization, switchable_weights

    assert regularization.BACKEND_CHECKS == regularization.CHECKS
    assert switchable_weights.BACKEND_CHECKS == switchable_weights.CHECKS
    assert [c.id for c in normalizer_family.BACKEND_CHECKS] == ["C14", "C17", "C18", "C22"]


def test_the_identity_checks_c14_c17_on_the_device_give_numpys_records(strict):
    from regnorm.claims import run_claims
    from simulations.checks.normalizer_family import check_c14, check_c17

    ref = run_claims("C14,C17", checks=[check_c14, check_c17], quick=True)
    dev = run_claims("C14,C17", checks=[check_c14, check_c17], quick=True, backend=STRICT)
    assert len(dev) == len(ref) > 0
    for r_ref, r_dev in zip(ref, dev, strict=True):
        assert r_dev.params == {**r_ref.params, "backend": STRICT}
        assert r_dev.verdict == r_ref.verdict == "holds"
        # both are rounding-level differences of O(1) numbers (the records' atol is 1e-12)
        assert abs(r_dev.numeric - r_ref.numeric) <= 1e-13


@pytest.mark.slow
def test_the_quick_c10_check_on_the_device_gives_numpys_records(strict):
    """The whole check (quick size, ~8 s on device1) through run_claims."""
    from regnorm.claims import run_claims
    from simulations.checks.regularization import check_c10

    ref = run_claims("C10", checks=[check_c10], quick=True)
    dev = run_claims("C10", checks=[check_c10], quick=True, backend=STRICT)
    assert [r.verdict for r in dev] == [r.verdict for r in ref]
    for r_ref, r_dev in zip(ref, dev, strict=True):
        assert r_dev.params == {**r_ref.params, "backend": STRICT}
        # a paired difference of O(0.5) gaps can be ~0.004: its relative rounding is larger
        assert_allclose_rounding(
            [r_dev.numeric, r_dev.stderr, r_dev.low, r_dev.high],
            [r_ref.numeric, r_ref.stderr, r_ref.low, r_ref.high],
            ops=10**4,
        )


@needs_gpu
@pytest.mark.gpu
def test_training_on_cupy_is_reproducible_and_stays_on_the_device():
    backend = resolve_backend("cupy")
    cfg = rn.StudentConfig(input_dim=5, width=4, depth=2, normalizers="population_norm")
    prot = rn.TrainingProtocol(M=8, steps=9, lr=0.05, n_stat=200, stat_every=4)
    a = _train(cfg, prot, backend, rng=[seed_sequence(4, r) for r in range(3)])
    b = _train(cfg, prot, backend, rng=[seed_sequence(4, r) for r in range(3)])
    np.testing.assert_array_equal(a.test_loss, b.test_loss)
    assert np.all(np.isfinite(a.test_loss))
