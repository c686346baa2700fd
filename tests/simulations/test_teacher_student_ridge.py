"""Teacher-student ridge students: exact linear algebra and the C5-C7 statistics."""

import math

import numpy as np
import pytest

from regnorm import learning_curves as lc
from regnorm.backend import to_numpy
from simulations import teacher_student as ts
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within

DELTA2 = 0.25


def _ridge_direct(X, y, zeta):
    N = X.shape[1]
    if zeta == 0:
        return np.linalg.pinv(X) @ y
    return np.linalg.solve(X.T @ X / N + zeta * np.eye(N), X.T @ y / N)


@pytest.mark.parametrize("P", [30, 60, 120])
def test_ridge_path_matches_separate_solves(xp, P):
    data = ts.teacher(60, P, DELTA2, rng=3, backend=xp)
    zetas = [0.0, 1e-3, 1 / 64, 0.25, 4.0]
    got = to_numpy(ts.ridge_path(data, zetas))
    X, y, w = (to_numpy(a) for a in (data.X, data.y, data.w_star))
    want = [np.sum((_ridge_direct(X, y, z) - w) ** 2) for z in zetas]
    # Gram-matrix eigendecomposition: rounding grows with the problem size (N^2 entries)
    assert_allclose_rounding(got, want, ops=60**4)
    v = to_numpy(ts.ridge_weights(data, zetas))
    for k, z in enumerate(zetas):
        assert_allclose_rounding(v[:, k], _ridge_direct(X, y, z), ops=60**4, atol=1e-12)


def test_ridge_path_derivative_is_exact(xp):
    data = ts.teacher(40, 70, DELTA2, rng=5, backend=xp)
    X, y, w = (to_numpy(a) for a in (data.X, data.y, data.w_star))
    N = X.shape[1]
    zetas = [1e-3, 0.1, 0.25, 2.0]
    want = []
    for z in zetas:
        A = X.T @ X / N + z * np.eye(N)
        v = np.linalg.solve(A, X.T @ y / N)
        want.append(2 * (v - w) @ (-np.linalg.solve(A, v)))  # dv/dzeta = -(W + zeta)^-1 v
    got = to_numpy(ts.ridge_path_derivative(data, zetas))
    assert_allclose_rounding(got, want, ops=40**4)


def test_batched_data_sets_match_single(xp):
    data = ts.teacher(20, 30, DELTA2, repetitions=3, rng=1, backend=xp)
    batched = to_numpy(ts.ridge_path(data, [0.0, 0.1]))
    for r in range(3):
        one = ts.TeacherData(data.X[r, ...], data.y[r, ...], data.w_star[r, ...])
        assert_allclose_rounding(batched[r], to_numpy(ts.ridge_path(one, [0.0, 0.1])), ops=1e6)


def test_shrunk_pseudo_inverse_error_matches_direct(xp):
    data = ts.teacher(30, 45, DELTA2, rng=8, backend=xp)
    X, y, w = (to_numpy(a) for a in (data.X, data.y, data.w_star))
    u = np.linalg.pinv(X) @ y
    want = [np.sum((u / (1 + f) - w) ** 2) for f in (0.0, 0.05)]
    got = to_numpy(ts.shrunk_pseudo_inverse_error(data, [0.0, 0.05]))
    assert_allclose_rounding(got, want, ops=30**4)


def test_matched_zeta_inverts_a_curve():
    zg = np.geomspace(1e-4, 0.25, 50)
    curve = 1.0 - np.log(zg / 1e-4) / 20
    z = ts.matched_zeta(float(1.0 - np.log(0.01 / 1e-4) / 20), zg, curve)
    assert z == pytest.approx(0.01, rel=1e-9)
    assert ts.matched_zeta(2.0, zg, curve) == 0.0
    assert math.isnan(ts.matched_zeta(0.0, zg, curve))


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_c5_pseudo_inverse_matches_exact_finite_n_and_article_erratum_fails(alpha):
    N, repetitions = 50, 300
    rng = np.random.default_rng(int(10 * alpha))
    e = ts.ridge_errors(N, alpha, repetitions, [0.0], DELTA2, rng)[:, 0]
    mean, se = e.mean(), e.std(ddof=1) / math.sqrt(repetitions)
    assert_z_within(mean, se, lc.finite_n_pinv(N, round(alpha * N), DELTA2))
    if alpha > 1:  # negative control: the article's delta^2/(1-alpha) (negative!)
        assert_z_exceeds(mean, se, DELTA2 / (1 - alpha))


@pytest.mark.parametrize(
    "alpha",
    [0.5, 1.0, 2.0],
)
def test_c6_ridge_matches_eps_wn_after_1_over_n_extrapolation(alpha):
    z, repetitions = 1 / 64, 400
    e1 = ts.ridge_errors(50, alpha, repetitions, [z], DELTA2, np.random.default_rng(1))[:, 0]
    e2 = ts.ridge_errors(100, alpha, repetitions, [z], DELTA2, np.random.default_rng(2))[:, 0]
    ext = 2 * e2.mean() - e1.mean()
    se = math.sqrt(4 * e2.var(ddof=1) / repetitions + e1.var(ddof=1) / repetitions)
    assert_z_within(ext, se, lc.eps_wn(alpha, z, DELTA2))
    # negative control: the optimal-zeta curve is a different curve and must be rejected
    assert_z_exceeds(ext, se, lc.eps_wn(alpha, DELTA2, DELTA2))


def test_c7_slope_vanishes_at_delta2_and_not_elsewhere():
    rng = np.random.default_rng(9)
    d = ts.ridge_errors(50, 1.0, 300, [DELTA2, 1 / 64], DELTA2, rng, derivative=True)
    se = d.std(axis=0, ddof=1) / math.sqrt(d.shape[0])
    assert_z_within(d[:, 0].mean(), se[0], 0.0)
    assert_z_exceeds(d[:, 1].mean(), se[1], 0.0)  # negative control: not a minimum
