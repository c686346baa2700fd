"""Exact ridge students on a data set: error curves, solutions, and matching a student to them.

Ridge regression ``min (1/N)||Xv - y||^2 + zeta ||v||^2`` is WN + gamma decay (C6); at
``zeta = 0`` it is the pseudo-inverse, what plain SGD from zero reaches (C5). Every function
here serves a whole array of ``zeta`` from ONE decomposition of ``X`` per data set
(:attr:`~simulations.teacher_student.data.TeacherData.spectral`). :func:`paired_zeta` and
:func:`matched_zeta` read the effective ridge parameter of a trained student off the ridge
solutions of the SAME data set (C8), which carries no finite-N bias of the closed forms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from regnorm.backend import array_namespace, device_of, to_numpy

from .data import TeacherData, backend_of

__all__ = [
    "matched_zeta",
    "paired_zeta",
    "ridge_path",
    "ridge_path_derivative",
    "ridge_weights",
    "shrunk_pseudo_inverse_error",
]


def ridge_path(data: TeacherData, zetas: Any) -> Any:
    """Generalization error ``||v(zeta) - w*||^2`` of the ridge student for many ``zeta``.

    One thin SVD ``X = U S V^T`` per data set serves every ``zeta``:

    .. math::

        \\epsilon(\\zeta) = \\sum_i \\Bigl(\\frac{s_i a_i}{s_i^2 + N\\zeta} - b_i\\Bigr)^2
            + \\|w^*_\\perp\\|^2, \\qquad a = U^T y,\\; b = V^T w^*,

    where ``w*_perp`` (nonzero only for ``P < N``) is the part of ``w*`` outside the row span
    of ``X``. ``zeta = 0`` is the pseudo-inverse (minimum-norm least squares, C5).

    Parameters
    ----------
    data : TeacherData
        ``X`` of shape ``(..., P, N)``.
    zetas : array_like, shape (Z,)
        Ridge parameters ``>= 0`` (ridge scale of C6).

    Returns
    -------
    array, shape (..., Z)
    """
    xp, s, Vt, a, b = data.spectral
    z = _zetas(zetas, xp, s)
    N = data.X.shape[-1]
    coef = _ridge_coefficients(xp, s, a, z, N)  # (..., r, Z)
    return _with_outside_span(data, b, xp.sum((coef - b[..., None]) ** 2, axis=-2))


def ridge_path_derivative(data: TeacherData, zetas: Any) -> Any:
    """Exact ``d/dzeta`` of :func:`ridge_path`, shape ``(..., Z)``, from the same decomposition.

    .. math::

        \\frac{d\\epsilon}{d\\zeta} = -2N \\sum_i \\Bigl(\\frac{s_i a_i}{s_i^2 + N\\zeta}
            - b_i\\Bigr) \\frac{s_i a_i}{(s_i^2 + N\\zeta)^2}.

    Averaged over the teacher's noise and direction it vanishes at ``zeta = delta2`` for
    every data set, finite N included (each eigenvalue's term is
    ``2 lambda (zeta - delta2)/(lambda + zeta)^3``), which is what C7's check measures.
    """
    xp, s, Vt, a, b = data.spectral
    z = _zetas(zetas, xp, s)
    N = data.X.shape[-1]
    coef = _ridge_coefficients(xp, s, a, z, N)
    den = s[..., None] ** 2 + N * z
    safe = xp.where(den > 0, den, xp.ones_like(den))
    dcoef = xp.where(den > 0, -N * coef / safe, xp.zeros_like(den))
    return xp.sum(2.0 * (coef - b[..., None]) * dcoef, axis=-2)


def shrunk_pseudo_inverse_error(data: TeacherData, factors: Any) -> Any:
    """Error ``||u_pinv/(1 + f) - w*||^2`` of the uniformly shrunk pseudo-inverse, per ``f``.

    The comparison curve for a BN student evaluated with training-set statistics: a penalty
    ``zeta_loss gamma^2`` on ``u = gamma w / sigma_T`` equals ``zeta_loss u^T Sigma_T u``
    (training covariance, not the identity), whose minimizer is ``u_pinv/(1 + zeta_loss)``.
    """
    xp, s, Vt, a, b = data.spectral
    f = _zetas(factors, xp, s)
    coef = _ridge_coefficients(xp, s, a, xp.zeros_like(f), data.X.shape[-1]) / (1.0 + f)
    return _with_outside_span(data, b, xp.sum((coef - b[..., None]) ** 2, axis=-2))


def ridge_weights(data: TeacherData, zetas: Any) -> Any:
    """Ridge solutions ``v(zeta)``, shape ``(..., N, Z)``, from one SVD (see :func:`ridge_path`)."""
    xp, s, Vt, a, _ = data.spectral
    z = _zetas(zetas, xp, s)
    coef = _ridge_coefficients(xp, s, a, z, data.X.shape[-1])
    return xp.matmul(xp.matrix_transpose(Vt), coef)


def _with_outside_span(data: TeacherData, b: Any, err: Any) -> Any:
    """``err`` (shape ``(..., Z)``) plus ``||w*_perp||^2``, the teacher outside the row span
    of ``X`` (nonzero only for ``P < N``)."""
    if b.shape[-1] == data.X.shape[-1]:
        return err
    xp = array_namespace(b)
    return err + (xp.sum(data.w_star**2, axis=-1) - xp.sum(b**2, axis=-1))[..., None]


def _zetas(zetas: Any, xp: Any, like: Any) -> Any:
    """The ridge parameters (host numbers, checked) as an array of ``like``'s dtype and device."""
    z = np.atleast_1d(np.asarray(zetas, dtype=np.float64))
    if z.ndim != 1 or not np.all(np.isfinite(z)) or np.any(z < 0):
        raise ValueError(f"zetas must be a 1-d array of finite numbers >= 0, got {zetas!r}")
    return xp.asarray(z, dtype=like.dtype, device=device_of(like))


def _ridge_coefficients(xp: Any, s: Any, a: Any, z: Any, N: int) -> Any:
    s2 = s[..., None]
    den = s2**2 + N * z  # (..., r, Z)
    # zero singular values (only at exactly rank-deficient X) contribute 0 (pseudo-inverse)
    safe = xp.where(den > 0, den, xp.ones_like(den))
    return xp.where(den > 0, s2 * a[..., None] / safe, xp.zeros_like(den))


def paired_zeta(data: TeacherData, v: Any, *, bounds: tuple[float, float] = (1e-5, 10.0)):
    """The ridge parameter whose solution on the SAME data is closest to ``v``.

    Minimizes ``||v - v_ridge(zeta)||^2`` over ``log zeta`` (golden section after a grid), for
    ``v`` of shape ``(N, K)`` and one data set. Returns ``(zeta, rel_dist)`` NumPy arrays of
    shape ``(K,)`` with ``rel_dist = min ||v - v_ridge|| / ||v - v_ridge(0)||`` (how much
    closer the best ridge solution is than the pseudo-inverse: ~0 if ``v`` is a ridge
    solution). Being a paired comparison on one data set, it carries no finite-N bias of the
    closed forms.

    ``v`` is moved to the data's device (a NumPy array or one of the data's backend); the
    projection ``V^T v`` is made there, and only the ``r``-vectors ``s``, ``a`` and the
    ``(r, K)`` coordinates cross to the host, where the scalar search runs.
    """
    xp, s, Vt, a, _ = data.spectral
    vd = backend_of(s).asarray(v)
    c = xp.matmul(Vt, vd)  # (r, K)
    perp = xp.sum(vd**2, axis=0) - xp.sum(c**2, axis=0)
    s, a, c, perp = (to_numpy(t) for t in (s, a, c, perp))
    N, K = data.X.shape[-1], c.shape[1]

    def dist(z):
        coef = s * a / (s**2 + N * z)
        return np.sum((c - coef[:, None]) ** 2, axis=0) + np.maximum(perp, 0.0)

    grid = np.geomspace(*bounds, 121)
    d = np.stack([dist(z) for z in grid])  # (121, K)
    best = np.argmin(d, axis=0)
    out_z, out_d = np.empty(K), np.empty(K)
    for k in range(K):
        lo = np.log(grid[max(best[k] - 1, 0)])
        hi = np.log(grid[min(best[k] + 1, len(grid) - 1)])
        f = lambda t, k=k: dist(math.exp(t))[k]  # noqa: E731
        for _ in range(60):  # golden section on log zeta
            m1, m2 = hi - 0.618 * (hi - lo), lo + 0.618 * (hi - lo)
            if f(m1) < f(m2):
                hi = m2
            else:
                lo = m1
        out_z[k] = math.exp(0.5 * (lo + hi))
        coef0 = np.where(s > 0, a / np.where(s > 0, s, 1.0), 0.0)
        ref = np.sum((c[:, k] - coef0) ** 2) + max(perp[k], 0.0)
        out_d[k] = math.sqrt(f(math.log(out_z[k])) / ref)
    return out_z, out_d


def matched_zeta(eps: float, zgrid: np.ndarray, curve: np.ndarray) -> float:
    """The ``zeta`` at which a ridge error curve on the same data equals ``eps`` (NumPy).

    ``curve`` is :func:`ridge_path` on the increasing grid ``zgrid`` (up to ``delta2``, where
    the error is smallest in expectation); the crossing on this decreasing branch is found by
    linear interpolation in ``log zeta``. ``0`` if ``eps`` is above the curve everywhere
    (less regularized than the smallest grid value), ``nan`` if below (better than any ridge).
    """
    c = np.minimum.accumulate(np.asarray(curve, dtype=np.float64))  # enforce monotone branch
    if eps >= c[0]:
        return 0.0
    if eps < c[-1]:
        return math.nan
    j = int(np.argmax(c <= eps))
    t = (c[j - 1] - eps) / (c[j - 1] - c[j])
    return float(math.exp((1 - t) * math.log(zgrid[j - 1]) + t * math.log(zgrid[j])))
