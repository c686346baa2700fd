"""C19: mean and variance of relu(a z + b) for z ~ N(0,1), and regnorm's code."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from derivations import proxy_norm as D
from tests.derivations.high_precision import evaluate
from tests.tolerances import assert_allclose_rounding

a, b = D.a, D.b


@pytest.fixture(scope="module")
def res():
    return D.derive()


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(19)
    return np.column_stack([10 ** rng.uniform(-1, 1, 16), rng.uniform(-3, 3, 16)])


def test_integrals_equal_theory_closed_forms(res):
    assert res["mean_minus_closed_form"] == 0
    assert res["second_moment_minus_closed_form"] == 0
    assert sp.simplify(res["mean_standard"] - 1 / sp.sqrt(2 * sp.pi)) == 0
    assert sp.simplify(res["variance_standard"] - (sp.Rational(1, 2) - 1 / (2 * sp.pi))) == 0


def test_moments_match_quadrature(res, points):
    pdf = lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    for av, bv in points[:4]:
        c = -bv / av

        def moment(t, k, av, bv):
            return (av * t + bv) ** k * pdf(t)

        m, m2 = (
            integrate.quad(moment, c, np.inf, args=(k, av, bv), epsabs=0, epsrel=1e-13)[0]
            for k in (1, 2)
        )
        got = [evaluate(res[k], (a, b), [[av, bv]])[0] for k in ("mean", "second_moment")]
        np.testing.assert_allclose(got, [m, m2], rtol=1e-11)  # quad's accuracy


def test_relu_gaussian_moments_match_regnorm(res, points):
    pn = pytest.importorskip("regnorm.normalizers.proxy_norm")
    mean, var = pn.relu_gaussian_moments(points[:, 0], points[:, 1])
    assert_allclose_rounding(np.asarray(mean, float), evaluate(res["mean"], (a, b), points), ops=20)
    # The variance E2 - E^2 cancels when b/a is large: compare with an absolute tolerance
    # of the size of E2 (the terms that cancel), not relative to the small variance.
    e2 = evaluate(res["second_moment"], (a, b), points)
    ref = evaluate(res["variance"], (a, b), points)
    assert_allclose_rounding(np.asarray(var, float), ref, ops=20, atol=1e-12 * float(e2.max()))


def test_negative_control_uncentred_variance_fails(res, points):
    """Using E2 (forgetting to subtract the mean) as the variance fails the comparison."""
    pn = pytest.importorskip("regnorm.normalizers.proxy_norm")
    _, var = pn.relu_gaussian_moments(points[:, 0], points[:, 1])
    wrong = evaluate(res["second_moment"], (a, b), points)
    with pytest.raises(AssertionError):
        assert_allclose_rounding(np.asarray(var, float), wrong, ops=20)


def test_negative_scale_by_symmetry(res, points):
    """z and -z have the same law, so relu(a z + b) with a < 0 has the moments at |a|."""
    pn = pytest.importorskip("regnorm.normalizers.proxy_norm")
    mean, _ = pn.relu_gaussian_moments(-points[:, 0], points[:, 1])
    assert_allclose_rounding(np.asarray(mean, float), evaluate(res["mean"], (a, b), points), ops=20)
