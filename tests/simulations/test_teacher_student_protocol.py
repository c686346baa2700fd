"""Teacher-student training protocol: the sweep task, its parameters, solver independence."""

import numpy as np
import pytest

from regnorm.backend import to_numpy
from regnorm.estimates import paired_difference
from regnorm.sweeps import sweep
from simulations import teacher_student as ts
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within

DELTA2 = 0.25


def test_sgd_trained_wn_with_gamma_decay_reaches_the_ridge_solution():
    out = ts.learning_curve_point(
        dict(N=96, alpha=2.0, delta2=DELTA2, M=16, variants=("batch_norm",)),
        np.random.default_rng(4),
    )
    # protocol accuracy (README): within 1% of the ridge solution; a ridge solution at a
    # zeta off by a factor 2 is ~10x further away than that.
    assert out["weight_norm_vs_ridge"] < 0.01
    assert abs(out["zpair_weight_norm"] / (2.0 / 32) - 1) < 0.05
    assert out["converged"] == 1.0


def test_learning_curve_point_reports_the_shrunk_pseudo_inverse_of_its_data_set():
    """``eps_shrunk_M`` is ``||pinv(X) y/(1 + 1/(2M)) - w*||^2`` on the task's own data set (the
    data are the first draws of the task's generator)."""
    p = dict(N=40, alpha=0.7, delta2=DELTA2, M=8, train=False)
    out = ts.learning_curve_point(p, np.random.default_rng(21))
    data = ts.teacher(40, 28, DELTA2, rng=np.random.default_rng(21))
    X, y, w = (to_numpy(a) for a in (data.X, data.y, data.w_star))
    direct = float(np.sum((np.linalg.pinv(X) @ y / (1 + 1 / 16) - w) ** 2))
    assert_allclose_rounding(out["eps_shrunk_M"], direct, ops=1e3)  # pinv vs SVD path
    assert out["eps_shrunk_M"] != pytest.approx(out["eps_pinv"], rel=1e-3)  # f matters


def test_learning_curve_point_is_reproducible():
    p = dict(N=64, alpha=1.5, delta2=DELTA2, M=16, variants=("batch_norm",))
    a = ts.learning_curve_point(p, np.random.default_rng(11))
    b = ts.learning_curve_point(p, np.random.default_rng(11))
    assert a == b


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: ts.teacher(0, 10, 0.25), ValueError, "N must be"),
        (lambda: ts.teacher(2.5, 10, 0.25), TypeError, "N must be an integer"),
        (lambda: ts.teacher(10, 0, 0.25), ValueError, "P must be"),
        (lambda: ts.teacher(10, 10, -0.1), ValueError, "delta2 must be"),
        (lambda: ts.ridge_path(ts.teacher(5, 5, 0.1, rng=0), [-1.0]), ValueError, "zetas"),
        (
            lambda: ts.learning_curve_point(dict(N=16, alpha=0.0, delta2=0.25, M=4), 0),
            ValueError,
            "alpha must be",
        ),
        (
            lambda: ts.learning_curve_point(dict(N=16, alpha=1.0, delta2=-1, M=4), 0),
            ValueError,
            "delta2 must be",
        ),
        (
            lambda: ts.learning_curve_point(
                dict(N=16, alpha=2.0, delta2=0.25, M=4, solver="newton"), 0
            ),
            ValueError,
            "solver='newton' is not allowed",
        ),
        (
            lambda: ts.train_students(
                ts.teacher(6, 12, 0.25, rng=0),
                ["batch_norm"],
                M=4,
                v0=np.ones((6, 1)),
                lr=0.1,
                epochs=1,
                precond=np.ones(5),
            ),
            ValueError,
            r"precond must have shape \(6,\)",
        ),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _paired_bn(alpha, repetitions, a_kw, b_kw):
    """Mean and s.e. of eps_BN(a) - eps_BN(b) over data sets, each seen by both protocols: the
    sweep's streams are keyed by the data's parameters only (a paired design)."""
    p = dict(N=64, alpha=alpha, delta2=DELTA2, M=8, variants=("batch_norm",))
    defaults = dict(solver="precond", lr_scale=0.25, lr_factors=(1.0, 0.5))
    arms = [{**p, **defaults, **a_kw, "arm": "a"}, {**p, **defaults, **b_kw, "arm": "b"}]
    df = sweep(
        ts.learning_curve_point,
        arms,
        repetitions=repetitions,
        seed=100,
        seed_key=("N", "alpha", "delta2", "M"),
    )
    by_arm = df.pivot(index="rep", columns="arm", values="eps_batch_norm")
    est = paired_difference(by_arm["a"], by_arm["b"])
    return est.value, est.stderr


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_sphere_and_preconditioned_solvers_reach_the_same_bn_student(alpha):
    """Protocol independence: paired over data sets, the two solvers' BN errors agree."""
    mean, se = _paired_bn(alpha, 8, dict(solver="sphere"), dict(solver="precond"))
    assert_z_within(mean, se, 0.0)


def test_solver_comparison_detects_a_step_size_bias():
    """Negative control: a protocol with a 4x larger step and no extrapolation to lr -> 0 is
    told apart from the sphere solver by the same paired test (its bias: about +0.18)."""
    big_step = dict(solver="precond", lr_scale=1.0, lr_factors=(1.0,))
    mean, se = _paired_bn(0.5, 12, dict(solver="sphere"), big_step)
    assert_z_exceeds(mean, se, 0.0)


def test_the_paired_arms_see_the_same_data_sets():
    """The pairing itself: both arms of a rep draw the same data set (same pseudo-inverse error
    to the bit, as the same computation on the same numbers), and different reps do not."""
    p = dict(N=32, alpha=2.0, delta2=DELTA2, M=8, train=False)
    df = sweep(
        ts.learning_curve_point,
        [dict(p, arm="a"), dict(p, arm="b")],
        repetitions=3,
        seed=100,
        seed_key=("N", "alpha", "delta2", "M"),
    )
    by_arm = df.pivot(index="rep", columns="arm", values="eps_pinv")
    assert list(by_arm["a"]) == list(by_arm["b"])
    assert len(set(by_arm["a"])) == 3


@pytest.mark.parametrize(
    ("extra", "exc", "match"),
    [
        (dict(variants="batch_norm"), TypeError, "variants must be a tuple of variant names"),
        (dict(variants=("bn",)), ValueError, "variant='bn' is not allowed"),
        (dict(variants=("weight_norm",)), ValueError, "other than 'weight_norm'"),
        (dict(lr_factors="1,0.5"), TypeError, "lr_factors must be a non-empty tuple"),
        (dict(lr_factors=(1.0, -0.5)), ValueError, r"lr_factors .* > 0\.0, got -0\.5"),
        (dict(anneal="True"), TypeError, "anneal must be True or False, got 'True'"),
        (dict(train="False"), TypeError, "train must be True or False, got 'False'"),
    ],
)
def test_grid_parameters_are_typed(extra, exc, match):
    """Lists are tuples and switches booleans: their string spellings are refused, not parsed
    (``"False"`` would otherwise train)."""
    p = dict(N=16, alpha=2.0, delta2=DELTA2, M=4, **extra)
    with pytest.raises(exc, match=match):
        ts.learning_curve_point(p, np.random.default_rng(0))


def test_a_sweep_grid_carries_tuples():
    df = ts.bn_sweep(
        24, [2.0], 1, M=8, delta2=DELTA2, seed=0, variants=("batch_norm",), lr_factors=(1.0,)
    )
    assert "eps_batch_norm" in df and "eps_batch_norm_rms" not in df
    assert "eps_batch_norm_lr1" not in df  # one step size
