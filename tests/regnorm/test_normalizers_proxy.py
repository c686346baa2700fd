"""Proxy Norm (C19): ReLU Gaussian moments, quantile proxy, channel normalization, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from regnorm.backend import to_numpy
from regnorm.normalizers import ProxyNorm, gaussian_quantiles, relu_gaussian_moments
from tests.regnorm.finite_differences import check_layer_gradients
from tests.tolerances import assert_allclose_rounding, assert_z_exceeds, assert_z_within


def _quad_moments(a, b):
    """E and Var of relu(a z + b) by adaptive quadrature (independent of the closed form)."""

    def moment(k):
        return integrate.quad(
            lambda z: max(a * z + b, 0.0) ** k * stats.norm.pdf(z),
            -40,
            40,
            epsabs=1e-14,
            epsrel=1e-13,
            limit=200,
            points=[-b / a] if a else None,
        )[0]

    m = moment(1)
    return m, moment(2) - m * m


def test_relu_moments_standard_values():
    m, v = relu_gaussian_moments(1.0, 0.0)
    assert_allclose_rounding(m, 1 / np.sqrt(2 * np.pi))
    assert_allclose_rounding(v, 0.5 - 1 / (2 * np.pi))


@pytest.mark.parametrize("a, b", [(1.0, 0.5), (0.3, -0.8), (2.0, 3.0), (-1.5, 0.2), (0.7, -4.0)])
def test_relu_moments_match_quadrature(a, b):
    m, v = relu_gaussian_moments(a, b)
    qm, qv = _quad_moments(a, b)
    # quadrature accuracy (epsrel 1e-13) is the binding tolerance, not the closed form
    np.testing.assert_allclose([m, v], [qm, qv], rtol=1e-10, atol=1e-14)


def test_relu_moments_degenerate_and_vectorized(xp):
    assert relu_gaussian_moments(0.0, 2.0) == (2.0, 0.0)
    assert relu_gaussian_moments(0.0, -2.0) == (0.0, 0.0)
    a = xp.asarray([1.0, -1.0, 0.5])
    b = xp.asarray([0.0, 0.0, 1.0])
    m, v = relu_gaussian_moments(a, b)
    assert_allclose_rounding(to_numpy(m)[:2], [1 / np.sqrt(2 * np.pi)] * 2)
    assert_allclose_rounding(to_numpy(m)[2], relu_gaussian_moments(0.5, 1.0)[0])


def test_relu_moments_monte_carlo():
    """An independent statistical check, with a negative control (the variance-1 mistake)."""
    rng = np.random.default_rng(0)
    a, b = 1.3, -0.4
    h = np.maximum(a * rng.standard_normal(400_000) + b, 0.0)
    m, v = relu_gaussian_moments(a, b)
    assert_z_within(h.mean(), h.std() / np.sqrt(h.size), m)
    sq = (h - h.mean()) ** 2
    assert_z_within(sq.mean(), sq.std() / np.sqrt(h.size), v)
    assert_z_exceeds(sq.mean(), sq.std() / np.sqrt(h.size), (a * a + b * b) / 2)


def test_reference_quantiles_have_variance_0_9936():
    z = gaussian_quantiles(200)
    assert abs(np.mean(z)) < 1e-15
    assert round(float(np.var(z)), 4) == 0.9936  # the number quoted for the reference code
    assert_allclose_rounding(np.var(gaussian_quantiles(200, standardize=True)), 1.0, ops=200)


def test_quantile_proxy_converges_to_closed_form():
    gaps = []
    for q in (50, 200, 800):
        layer = ProxyNorm(2, proxy="quantile", num_quantiles=q, standardize_quantiles=True)
        layer.params["gamma"] = np.asarray([1.0, 0.6])
        layer.params["beta"] = np.asarray([0.0, 0.4])
        m, v, _ = layer.proxy_moments()
        em, ev = relu_gaussian_moments(layer.params["gamma"], layer.params["beta"])
        gaps.append(np.max(np.abs(np.concatenate([m - em, v - ev]))))
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-3


@pytest.mark.parametrize("proxy", ["closed_form", "quantile"])
def test_output_channels_normalized_for_gaussian_input(proxy):
    """On N(0,1) input the output of each channel has mean 0 and variance ~1 (the proxy's
    own law); for the reference quantiles the variance is off by the proxy's bias."""
    rng = np.random.default_rng(1)
    layer = ProxyNorm(3, proxy=proxy, standardize_quantiles=True, num_quantiles=2000)
    layer.params["gamma"] = np.asarray([1.0, 0.5, 2.0])
    layer.params["beta"] = np.asarray([0.0, 1.0, -1.0])
    y = layer.forward(rng.standard_normal((200_000, 3)))
    v = relu_gaussian_moments(layer.params["gamma"], layer.params["beta"])[1]
    for c in range(3):
        yc = y[:, c]
        assert_z_within(yc.mean(), yc.std() / np.sqrt(yc.size), 0.0)
        sq = yc**2
        # eps shrinks the variance by v / (v + eps); the quantile proxy (Q=2000) is ~1e-5 off
        assert_z_within(sq.mean(), sq.std() / np.sqrt(sq.size), v[c] / (v[c] + layer.eps))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"proxy": "quantile"}, {"activation": "tanh"}, {"activation": "sigmoid"}],
    ids=["relu_closed", "relu_quantile", "tanh", "sigmoid"],
)
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 3, 2)])
def test_proxy_gradients(xp, kwargs, shape):
    rng = np.random.default_rng(7)
    layer = ProxyNorm(4, xp=xp, **kwargs)
    layer.params["gamma"] = xp.asarray(rng.normal(1, 0.5, 4) * np.array([1, -1, 1, 1]))
    layer.params["beta"] = xp.asarray(rng.normal(0, 0.5, 4))
    assert check_layer_gradients(layer, rng.normal(size=shape), xp) <= 1.0


def test_proxy_norm_is_batch_independent(xp):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4, 3, 3))
    b = a.copy()
    b[1:] = rng.normal(2.0, 3.0, size=(4, 4, 3, 3))
    layer = ProxyNorm(4, xp=xp)
    np.testing.assert_array_equal(
        to_numpy(layer.forward(xp.asarray(a)))[0], to_numpy(layer.forward(xp.asarray(b)))[0]
    )


def test_proxy_bad_input():
    with pytest.raises(ValueError, match="proxy='closed_form' exists for activation='relu'"):
        ProxyNorm(3, activation="tanh", proxy="closed_form")
    with pytest.raises(ValueError, match="activation='elu' is not allowed"):
        ProxyNorm(3, activation="elu")
    with pytest.raises(TypeError, match="activation must be one of"):
        ProxyNorm(3, activation=(np.tanh,))
    with pytest.raises(ValueError, match="num_quantiles must be"):
        ProxyNorm(3, proxy="quantile", num_quantiles=1)
    with pytest.raises(ValueError, match="eps must be"):
        ProxyNorm(3, eps=-1.0)
    layer = ProxyNorm(3)
    layer.params["beta"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"params\['beta'\] must have shape \(3,\)"):
        layer.forward(np.zeros((2, 3)))


def test_graphcore_convention_reproduces_the_reference_arithmetic():
    """``convention="graphcore"``: 200 mid-point quantiles Phi^-1((i + 1/2)/200) as the proxy
    and eps = 0.03, computed here directly with SciPy (an independent formula)."""
    from scipy import special

    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 3, 2, 2))
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.normal(0.0, 0.5, 3)
    layer = ProxyNorm(3, convention="graphcore")
    layer.params["gamma"], layer.params["beta"] = gamma, beta
    z = special.ndtri((np.arange(200) + 0.5) / 200)
    f = np.maximum(gamma[:, None] * z[None, :] + beta[:, None], 0.0)  # (C, Q)
    m, v = f.mean(axis=1), f.var(axis=1)
    a = np.maximum(gamma[None, :, None, None] * x + beta[None, :, None, None], 0.0)
    want = (a - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 0.03)
    np.testing.assert_allclose(layer.forward(x), want, rtol=1e-12, atol=1e-13)
    # and it is not the default (closed form, eps = 1e-5): different numbers
    default = ProxyNorm(3)
    default.params["gamma"], default.params["beta"] = gamma, beta
    assert float(np.max(np.abs(default.forward(x) - want))) > 1e-2


def test_graphcore_convention_refuses_settings_it_fixes():
    with pytest.raises(ValueError, match="convention='graphcore' fixes eps"):
        ProxyNorm(3, convention="graphcore", eps=1e-5)
    with pytest.raises(ValueError, match="fixes proxy"):
        ProxyNorm(3, convention="graphcore", proxy="closed_form")
    with pytest.raises(ValueError, match="convention"):
        ProxyNorm(3, convention="official")
