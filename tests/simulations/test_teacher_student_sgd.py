"""Teacher-student SGD students: exact gradients, flat directions, starts, fused kernels."""

import math

import numpy as np
import pytest
from array_api_compat import is_numpy_namespace

from regnorm.backend import array_namespace, to_numpy
from simulations import teacher_student as ts
from tests.tolerances import assert_allclose_rounding

DELTA2 = 0.25


def _complex_step_grads(Xb, y, w, gamma, variant, h=1e-30):
    """Gradient of the batch loss by the complex step (exact to rounding, no differencing)."""
    center, scale = ts.VARIANTS[variant]

    def loss(w_, g_):
        hh = Xb @ w_
        c = hh - hh.mean() if center else hh
        if scale == "std":
            s = np.sqrt(np.mean((hh - hh.mean()) ** 2))
        elif scale == "rms":
            s = np.sqrt(np.mean(hh**2))
        else:
            s = 1.0
        return np.mean((g_ * c / s - y) ** 2)

    gw = np.array([loss(w + 1j * h * e, gamma).imag / h for e in np.eye(w.size)])
    gg = loss(w.astype(complex), gamma + 1j * h).imag / h
    return gw, gg


@pytest.mark.parametrize("variant", list(ts.VARIANTS))
def test_one_sgd_step_uses_the_exact_projected_gradient(variant):
    rng = np.random.default_rng(0)
    P, N, lr = 16, 6, 1e-2
    data = ts.teacher(N, P, DELTA2, rng=rng)
    w = rng.standard_normal(N)
    w /= np.linalg.norm(w)
    gamma = 0.8
    res = ts.train_students(
        data,
        [variant],
        M=P,
        v0=(gamma * w)[:, None],
        lr=lr,
        epochs=1,
        rng=1,
        anneal=False,
        average_from=0.0,
    )
    gw, gg = _complex_step_grads(data.X, data.y, w, gamma, variant)
    gw = gw - w * (w @ gw)  # tangent to the sphere
    w_new = w - lr * gw
    w_new /= np.linalg.norm(w_new)
    want = (gamma - lr * gg) * w_new
    assert_allclose_rounding(res["v"][:, 0], want, ops=1e4)


def test_train_students_backend_generic(xp):
    d_np = ts.teacher(12, 24, DELTA2, rng=2)
    d_xp = ts.teacher(12, 24, DELTA2, rng=2, backend=xp)
    v0 = to_numpy(ts.ridge_weights(d_np, [0.05, 0.5]))
    names = ["batch_norm", "batch_norm_mean"]
    r_np = ts.train_students(d_np, names, M=8, v0=v0, lr=0.05, epochs=3, rng=7)
    r_xp = ts.train_students(d_xp, names, M=8, v0=xp.asarray(v0), lr=0.05, epochs=3, rng=7)
    assert_allclose_rounding(to_numpy(r_xp["v_avg"]), r_np["v_avg"], ops=1e4)
    # the preconditioned solver on the spectral view, same namespace throughout, with the
    # centerd columns' flat direction removed and a start off it (as the protocol does)
    views = [ts.spectral_view(d) for d in (d_np, d_xp)]
    d = _flat_direction(d_np, views[0])
    u0 = views[0].to_view(v0)
    u0 = u0 - np.outer(d, d @ u0)
    runs = [
        ts.train_students(
            vw.data,
            names,
            M=8,
            v0=array_namespace(vw.data.X).asarray(u0),
            lr=0.05,
            epochs=3,
            rng=7,
            precond=1.0 / (vw.lam + 0.1),
            flat=array_namespace(vw.data.X).asarray(d),
        )
        for vw in views
    ]
    # 9 steps over 12 coordinates
    assert_allclose_rounding(to_numpy(runs[1]["v_avg_b"]), runs[0]["v_avg_b"], ops=1e2)


def _flat_direction(data, view):
    """The centerd students' flat direction in the view's coordinates: unit ``d`` with
    ``X d`` constant (``P <= N``), the minimum-norm solution of ``X d = 1``."""
    X = to_numpy(data.X)
    d = to_numpy(view.to_view(np.linalg.pinv(X) @ np.ones((X.shape[0], 1))))[:, 0]
    return d / np.linalg.norm(d)


@pytest.mark.parametrize("fused", [True, False])
def test_a_start_exactly_on_the_flat_direction(xp, fused):
    """A centerd student started on its flat direction ``d`` (``X d = 1``): its centerd
    output is 0, the population predictor's norm ``||Qu||`` vanishes. Without a scale
    ("batch_norm_mean") the student is well defined and trains; the batch loss is quadratic in
    ``u``, so the trained ``v`` is affine in the start, and the start ``d`` must give the mean
    of the starts ``d +- eps e`` (exact arithmetic; here to rounding). With a scale
    ("batch_norm") the normalized output divides by a zero variance: refused as a degenerate
    start."""
    if fused and not is_numpy_namespace(xp):
        pytest.skip("the fused kernels run on NumPy only")
    data = ts.teacher(24, 12, DELTA2, rng=6, backend=xp)
    view = ts.spectral_view(data)
    d = _flat_direction(data, view)
    e = np.random.default_rng(0).standard_normal(d.shape)
    e -= d * (d @ e)
    e *= 1e-2 / np.linalg.norm(e)
    v0 = xp.asarray(np.stack([d, d + e, d - e], axis=1))
    kw = dict(M=6, lr=0.05, epochs=4, rng=3, precond=1.0 / (view.lam + 0.05), anneal=False)
    kw.update(flat=xp.asarray(d), fused=fused, average_from=0.0)  # step 0 is averaged too
    res = ts.train_students(view.data, ["batch_norm_mean"] * 3, v0=v0, **kw)
    for key in ("v", "v_avg", "v_avg_a"):
        v = to_numpy(res[key])
        assert np.all(np.isfinite(v))
        assert_allclose_rounding(v[:, 0], (v[:, 1] + v[:, 2]) / 2, ops=1e3, atol=1e-14)
        assert np.linalg.norm(v[:, 1] - v[:, 2]) > 1e-4  # the start matters: not trivially equal
    with pytest.raises(
        ValueError, match=r"v0\[\.\.\., :, 1\] \(variant 'batch_norm'\) is a degenerate"
    ):
        ts.train_students(view.data, ["batch_norm_mean", "batch_norm"], v0=v0[:, :2][:, ::-1], **kw)


def test_degenerate_starts_are_refused_by_the_sphere_solver():
    data = ts.teacher(24, 12, DELTA2, rng=6)
    X = to_numpy(data.X)
    d = np.linalg.pinv(X) @ np.ones(12)  # X d = 1: constant output
    null = np.linalg.svd(X)[2][-1]  # X null = 0
    kw = dict(M=6, lr=0.05, epochs=1, rng=3)
    for name, v in (
        ("batch_norm", d),
        ("batch_norm_variance", d),
        ("batch_norm_rms", null),
        ("weight_norm", 0 * d),
    ):
        with pytest.raises(ValueError, match=f"variant '{name}'.* is a degenerate start"):
            ts.train_students(data, [name], v0=v[:, None], **kw)
    # the same starts are fine where the variant is defined there
    for name, v in (("batch_norm_mean", d), ("weight_norm", null), ("batch_norm_rms", d)):
        out = ts.train_students(data, [name], v0=v[:, None], **kw)
        assert np.all(np.isfinite(out["v"]))


def test_batch_larger_than_data_set_is_refused():
    data = ts.teacher(8, 10, 0.25, rng=0)
    v0 = np.ones((8, 1))
    with pytest.raises(ValueError, match="M must be <= P"):
        ts.train_students(data, ["batch_norm"], M=16, v0=v0, lr=0.1, epochs=1)
    with pytest.raises(ValueError, match="variant"):
        ts.train_students(data, ["layer_norm"], M=4, v0=v0, lr=0.1, epochs=1)


def test_centerd_students_have_a_flat_direction_below_alpha_one():
    # For P < N, d with X d = 1 shifts every h by a constant that mu_B removes: the centerd
    # gradient is orthogonal to d, so a start without a d-component keeps none.
    data = ts.teacher(24, 12, DELTA2, rng=6)
    X = data.X
    d = np.linalg.pinv(X) @ np.ones(12)
    d /= np.linalg.norm(d)
    v0 = to_numpy(ts.ridge_weights(data, [0.1]))
    v0 = v0 - np.outer(d, d @ v0)
    res = ts.train_students(
        data, ["batch_norm"], M=6, v0=v0, lr=0.05, epochs=5, rng=3, anneal=False
    )
    assert abs(float(d @ res["v"][:, 0])) < 1e-12
    # an uncenterd student does move along d
    res_u = ts.train_students(data, ["batch_norm_rms"], M=6, v0=v0, lr=0.05, epochs=5, rng=3)
    assert abs(float(d @ res_u["v"][:, 0])) > 1e-6


def _train_scale(X, u, variant):
    """``gamma = sigma_T(u)`` (training-set std, rms, or ``||u||``) and ``||u||``."""
    scale = ts.VARIANTS[variant][1]
    n = np.sqrt(np.sum(u * u))
    hT = X @ u
    gamma = {
        "std": np.sqrt(np.mean((hT - hT.mean()) ** 2)),
        "rms": np.sqrt(np.mean(hT**2)),
        "none": n,
    }[scale]
    return gamma, n


@pytest.mark.parametrize("variant", list(ts.VARIANTS))
def test_preconditioned_steps_use_the_exact_gradient(variant):
    """Two preconditioned steps = u - lr D dL_B/du with the complex-step gradient."""
    rng = np.random.default_rng(3)
    P, N, M, lr, zl = 16, 6, 8, 1e-2, 0.03
    view = ts.spectral_view(ts.teacher(N, P, DELTA2, rng=rng))
    X, y = view.data.X, view.data.y
    Dg = 1.0 / (np.asarray(view.lam) + 0.1)
    v0 = rng.standard_normal(N)
    center, scale = ts.VARIANTS[variant]
    res = ts.train_students(
        view.data,
        [variant],
        M=M,
        v0=v0[:, None],
        lr=lr,
        epochs=1,
        rng=np.random.default_rng(1),
        anneal=False,
        zeta_loss=zl,
        precond=Dg,
    )

    def batch_loss(u, idx):
        Xb, yb = X[idx], y[idx]
        gamma, n = _train_scale(X, u, variant)
        h = Xb @ u / n
        c = h - h.mean() if center else h
        s = {"std": np.sqrt(np.mean((h - h.mean()) ** 2)), "rms": np.sqrt(np.mean(h**2))}
        return np.mean((gamma * c / s.get(scale, 1.0) - yb) ** 2) + zl * gamma**2

    # u0 from v0 = gamma w: u = v ||v|| / sigma_T(v)
    g0, n0 = _train_scale(X, v0, variant)
    u = v0 * n0 / g0
    perm = np.random.default_rng(1).permutation(P)
    for j in range(P // M):
        idx = perm[j * M : (j + 1) * M]
        grad = np.array([batch_loss(u + 1j * 1e-30 * e, idx).imag / 1e-30 for e in np.eye(N)])
        u = u - lr * Dg * grad
    gamma, n = _train_scale(X, u, variant)
    assert_allclose_rounding(res["v"][:, 0], gamma * u / n, ops=1e4)


def test_preconditioned_centerd_students_stay_off_the_flat_direction():
    data = ts.teacher(24, 12, DELTA2, rng=6)
    view = ts.spectral_view(data)
    d = view.to_view((np.linalg.pinv(data.X) @ np.ones(12))[:, None])[:, 0]
    d /= np.linalg.norm(d)
    v0 = view.to_view(to_numpy(ts.ridge_weights(data, [0.1])))
    v0 = v0 - np.outer(d, d @ v0)
    Dg = 1.0 / (np.asarray(view.lam) + 0.01)
    kw = dict(M=6, v0=np.repeat(v0, 2, axis=1), lr=0.05, epochs=5, rng=3, precond=Dg)
    res = ts.train_students(view.data, ["batch_norm", "batch_norm_rms"], flat=d, **kw)
    assert abs(float(d @ res["v"][:, 0])) < 1e-12
    assert abs(float(d @ res["v"][:, 1])) > 1e-6  # uncenterd: d is not flat, it moves
    # negative control: without the projection the preconditioner mixes d in
    res_free = ts.train_students(view.data, ["batch_norm", "batch_norm_rms"], **kw)
    assert abs(float(d @ res_free["v"][:, 0])) > 1e-6


def test_fused_step_where_the_population_norm_vanishes():
    """The fused step's averaging factor at ``||Qu||^2 = ||u||^2 - (d^T u)^2 = 0`` exactly
    (exactly representable statistics: the same on every processor): 0 for a scaled column
    (``v = sigma_T(Qu) Qu/||Qu||`` is 0 there), 1 without a scale; elsewhere
    ``sigma_T(u)/||Qu||``."""
    pytest.importorskip("numba")
    from simulations.teacher_student import fused

    batch, _ = fused.kernels()
    HT = np.array([[1.0, -1.0, 0.5, 2.0]] * 3)
    yb = np.array([0.5, -0.25, 1.0, 0.0])
    # columns: bn with n2 = dt^2 = 4, batch_norm_mean with the same, bn with n2 = 9, dt = 2
    stats = np.array([[4.0, 3.0, 1.0, 2.0], [4.0, 3.0, 1.0, 2.0], [9.0, 3.0, 1.0, 2.0]])
    c = np.ones(3)
    is_std = np.array([1.0, 0.0, 1.0])
    out = np.empty((3, 4)), np.empty((3, 3)), np.empty(3)
    cols = fused.ColumnSettings(
        lr=0.1 * c, center=c, is_std=is_std, is_rms=0 * c, is_none=1 - is_std, decay=0 * c
    )
    batch(HT, yb, stats, 1.0, cols.stacked(), *out)
    np.testing.assert_array_equal(out[2][:2], [0.0, 1.0])
    assert out[2][2] == pytest.approx(math.sqrt(3.0 - 1.0) / math.sqrt(9.0 - 4.0), rel=1e-15)
    assert np.all(np.isfinite(out[0])) and np.all(np.isfinite(out[1]))


@pytest.mark.parametrize("anneal", [False, True])
@pytest.mark.parametrize("block", [None, 7])
def test_fused_kernels_match_the_array_api_steps(anneal, block, monkeypatch):
    """Same steps to rounding; ``block=7`` splits the 30 coordinates into 4 column blocks
    of unequal width (7, 8), as N = 4096 is split into blocks of 512."""
    pytest.importorskip("numba")
    from simulations.teacher_student import fused

    if block is not None:
        monkeypatch.setattr(fused, "BLOCK", block)
    data = ts.teacher(40, 30, DELTA2, rng=12)
    view = ts.spectral_view(data)
    d = view.to_view((np.linalg.pinv(data.X) @ np.ones(30))[:, None])[:, 0]
    d /= np.linalg.norm(d)
    names = list(ts.VARIANTS) * 2
    v0 = view.to_view(to_numpy(ts.ridge_weights(data, [0.02, 0.3])))[:, [0, 1] * 5]
    kw = dict(M=6, v0=v0, lr=0.03, epochs=4, zeta_loss=0.01, anneal=anneal, flat=d)
    kw["precond"] = 1.0 / (np.asarray(view.lam) + 0.05)
    ga, gb = np.random.default_rng(5), np.random.default_rng(5)
    a = ts.train_students(view.data, names, rng=ga, fused=True, **kw)
    b = ts.train_students(view.data, names, rng=gb, fused=False, **kw)
    for key in ("v", "v_avg", "v_avg_a", "v_avg_b"):
        assert_allclose_rounding(a[key], b[key], ops=1e3)  # 20 steps over 30 coordinates
    # the fused loop fetches batches one step ahead but draws nothing beyond the last step:
    # a generator shared by successive calls (as learning_curve_point's chunks) ends alike
    assert ga.integers(2**62) == gb.integers(2**62)


def test_fused_kernels_refuse_what_they_cannot_run():
    import array_api_strict

    data = ts.teacher(8, 16, DELTA2, rng=0, backend=array_api_strict)
    view = ts.spectral_view(data)
    v0 = array_api_strict.ones((8, 1))
    with pytest.raises(ValueError, match="fused=True needs NumPy arrays"):
        ts.train_students(
            view.data,
            ["batch_norm"],
            M=4,
            v0=v0,
            lr=0.1,
            epochs=1,
            precond=view.lam + 1.0,
            fused=True,
        )
