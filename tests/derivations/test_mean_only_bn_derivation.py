"""Mean-only BN on its own batches (derivations.mean_only_bn, C8), checked independently: by
enumerating every batch of a small training set, and by Monte-Carlo in the population."""

import itertools
import math

import numpy as np
import sympy as sp

from derivations import mean_only_bn as D
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within


def _data(P=7, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.3, 1.0, size=(P, d))  # a non-zero mean: centring matters
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(P) + 0.2
    return X, y


def _batch_average(X, y, u, M):
    """Mean of the mean-only student's batch loss over EVERY batch of M of the P samples."""
    losses = []
    for B in itertools.combinations(range(len(y)), M):
        xb, yb = X[list(B)], y[list(B)]
        phi = (xb - xb.mean(0)) @ u
        losses.append(np.mean((yb - phi) ** 2))
    return float(np.mean(losses))


def test_batch_average_is_c_M_times_centred_loss_plus_a_constant():
    res = D.derive()
    X, y = _data()
    P = len(y)
    rng = np.random.default_rng(1)
    for M in (2, 3, 5):
        for u in rng.standard_normal((3, X.shape[1])):
            r = y - X @ u
            subs = {D.M: M, D.P: P, D.R1: r.sum(), D.R2: (r**2).sum()}
            subs |= {D.Y1: y.sum(), D.Y2: (y**2).sum()}
            predicted = float((res["c_M"] * res["centred_loss"] + res["constant_term"]).subs(subs))
            # the centred loss computed directly, not from the derivation's expression
            direct = (M - 1) * P / (M * (P - 1)) * np.mean((r - r.mean()) ** 2)
            constant = float(res["constant_term"].subs(subs))
            assert_allclose_rounding(_batch_average(X, y, u, M), predicted, ops=1000)
            assert_allclose_rounding(_batch_average(X, y, u, M), direct + constant, ops=1000)


def test_minimizer_is_the_unregularized_centred_solution():
    X, y = _data(P=8, d=3, seed=2)
    M = 3
    # the batch average is quadratic in u: recover it from values and minimize it
    d = X.shape[1]
    f0 = _batch_average(X, y, np.zeros(d), M)
    g = np.array(
        [(_batch_average(X, y, e, M) - _batch_average(X, y, -e, M)) / 2 for e in np.eye(d)]
    )
    H = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            ei, ej = np.eye(d)[i], np.eye(d)[j]
            H[i, j] = (
                _batch_average(X, y, ei + ej, M)
                - _batch_average(X, y, ei, M)
                - _batch_average(X, y, ej, M)
                + f0
            )
    u_batch = np.linalg.solve(H, -g)
    Xc, yc = X - X.mean(0), y - y.mean()
    u_centred = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    assert_allclose_rounding(u_batch, u_centred, ops=10**4)
    # negative control: the ridge solution with C4's mu_B penalty (zeta = 1/M of the
    # centred second moments) is far from it
    zeta = np.trace(Xc.T @ Xc) / len(y) / d / M
    u_ridge = np.linalg.solve(Xc.T @ Xc / len(y) + zeta * np.eye(d), Xc.T @ yc / len(y))
    assert np.linalg.norm(u_ridge - u_batch) > 0.05 * np.linalg.norm(u_batch)


def test_population_inside_loss_by_monte_carlo():
    res = D.derive()
    u, w = sp.symbols("u w", real=True)
    s2, delta2 = sp.symbols("s2 delta2", positive=True)
    vals = {u: 0.7, w: 1.3, s2: 2.0, delta2: 0.25, D.M: 4}
    rng = np.random.default_rng(3)
    n, M = 400_000, 4
    x = math.sqrt(2.0) * rng.standard_normal((n, M))
    y = 1.3 * x + 0.5 * rng.standard_normal((n, M))
    loss = (y[:, 0] - 0.7 * (x[:, 0] - x.mean(1))) ** 2  # sample 0 inside its batch
    se = loss.std(ddof=1) / math.sqrt(n)
    assert_z_within(loss.mean(), se, float(res["loss_batch_mean_inside"].subs(vals)))
    assert_z_exceeds(loss.mean(), se, float(res["loss_batch_mean_outside"].subs(vals)))
    assert res["zeta_eff_inside"] == 0 and res["argmin_inside"] == w
