"""Gamma decay zeta (C4): closed-form special cases of THEORY.md, estimates from data on every
backend, the GLM log-partitions, bad inputs."""

import math

import numpy as np
import pytest

from regnorm.gamma_decay import gamma_decay_coefficient, glm_log_partition, zeta_from_data
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within


def test_special_cases_of_theory():
    M = 32
    # N(0,1): rho = 0, z^2 averages to 1; A'' = 2 (squared), 1 (identity)
    assert_allclose_rounding(gamma_decay_coefficient(M, F_gamma=2.0, mean_A2=2.0), 3 / (2 * M))
    assert_allclose_rounding(gamma_decay_coefficient(M, F_gamma=1.0, mean_A2=1.0), 3 / (4 * M))
    no_bias = gamma_decay_coefficient(M, F_gamma=2.0, mean_A2=2.0, center=False)
    assert_allclose_rounding(no_bias, 1 / (2 * M))
    # Laplace (rho = 3): the sigma_B term grows by (rho + 2)/2
    assert_allclose_rounding(
        gamma_decay_coefficient(M, rho=3.0, F_gamma=2.0, mean_A2=2.0), 5 / (4 * M) + 1 / M
    )


def test_glm_log_partition_known_values(xp):
    h = xp.asarray([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    logistic = [glm_log_partition(h, "logistic", order=k) for k in (0, 1, 2)]
    assert bool(xp.all(xp.isfinite(logistic[0])))
    got = np.asarray([float(logistic[k][2]) for k in (0, 1, 2)])
    assert_allclose_rounding(got, [math.log(2.0), 0.5, 0.25])
    assert float(logistic[0][4]) == 1000.0 and float(logistic[1][0]) == 0.0
    sig = 1 / (1 + math.exp(-2.0))
    assert_allclose_rounding(float(logistic[2][3]), sig * (1 - sig))
    relu = [glm_log_partition(h, "relu", order=k) for k in (0, 1, 2)]
    assert [float(v) for v in relu[2]] == [0.0, 0.0, 0.5, 1.0, 1.0]  # Heaviside, H(0) = 1/2
    assert float(relu[0][3]) == 2.0 and float(relu[1][3]) == 2.0 and float(relu[0][1]) == 0.0
    assert float(glm_log_partition(h, "squared", order=2)[0]) == 2.0
    assert float(glm_log_partition(h, "identity", order=0)[3]) == 2.0


def test_zeta_from_data_is_backend_generic(xp):
    h_np = np.random.default_rng(0).laplace(size=5000)
    for loss in ("identity", "squared", "relu", "logistic"):
        ref = zeta_from_data(h_np, 16, loss=loss, gamma=1.5, beta=0.3)
        got = zeta_from_data(xp.asarray(h_np), 16, loss=loss, gamma=1.5, beta=0.3)
        assert_allclose_rounding(list(got), list(ref), ops=5000)
        assert_allclose_rounding(got.zeta, got.variance_part + got.mean_part)


def _replicated(fn, reps, rng):
    vals = np.array([fn(rng) for _ in range(reps)])
    return vals.mean(), vals.std(ddof=1) / math.sqrt(reps)


def test_zeta_relu_gaussian_is_three_over_8m():
    # N(0,1), ReLU, gamma=1, beta=0: F = E[H(z) z^2] = 1/2, mean_A2 = 1/2, rho = 0
    # -> zeta = (2/(8M)) (1/2) + (1/2)/(2M) = 3/(8M); replicates give the estimator's stderr.
    M = 32
    rng = np.random.default_rng(1)
    est, se = _replicated(
        lambda r: zeta_from_data(r.standard_normal(20_000), M, loss="relu").zeta, 40, rng
    )
    assert_z_within(est, se, 3 / (8 * M))
    assert_z_exceeds(est, se, 3 / (4 * M))  # negative control: the identity-GLM value


def test_zeta_uniform_kurtosis_enters():
    # uniform: rho = -1.2; squared loss -> zeta = 0.8/(4M) + 1/M (the sigma_B term shrinks)
    M = 8
    rng = np.random.default_rng(2)
    est, se = _replicated(
        lambda r: zeta_from_data(r.uniform(-1, 1, 20_000), M, loss="squared").zeta, 40, rng
    )
    assert_z_within(est, se, 0.8 / (4 * M) + 1 / M)
    assert_z_exceeds(est, se, 3 / (2 * M))  # negative control: ignoring the kurtosis


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: zeta_from_data(np.ones(10), 8), ValueError, "must not be constant"),
        (lambda: zeta_from_data(np.zeros((3, 3)), 8), ValueError, "1-D array"),
        (lambda: zeta_from_data(np.array([1.0, np.nan]), 8), ValueError, "finite"),
        (lambda: zeta_from_data(np.arange(5.0), 1), ValueError, "M must be an integer >= 2"),
        (lambda: zeta_from_data(np.arange(5.0), 8.0), TypeError, "M must be an integer"),
        (lambda: zeta_from_data(np.arange(5.0), 8, loss="tanh"), ValueError, "loss='tanh'"),
        (lambda: glm_log_partition(np.ones(2), "relu", order=3), ValueError, "order=3"),
        (
            lambda: gamma_decay_coefficient(8, F_gamma=-1.0, mean_A2=1.0),
            ValueError,
            "F_gamma must be",
        ),
        (
            lambda: gamma_decay_coefficient(8, rho=math.inf, F_gamma=1.0, mean_A2=1.0),
            ValueError,
            "rho must be a finite",
        ),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
