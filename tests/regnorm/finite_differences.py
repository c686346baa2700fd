"""Central finite differences for the normalizers' gradient checks, and their tolerance.

The loss is ``L(x) = sum(y(x) * R)`` with a fixed random ``R``. A central difference with step
``h`` has truncation error ``h^2 |L'''| / 6`` and rounding error ``delta / h``, where
``delta`` is the rounding error of one evaluation of ``L``. ``delta`` is modelled as in
``tests.tolerances.rounding_rtol`` (random-walk accumulation over ``ops`` roundings) but with
the machine epsilon itself instead of ``ROUNDING_RTOL`` (which allows ~5000 ulps and would
make this check 1e4 times looser than it needs to be): ``delta = eps sqrt(ops) S`` with
``S = sum |y * R|`` the size of the terms summed. With ``h = 1e-5`` the tolerance allows
``|L'''| <= 600`` (``1e2 h^2``), enough for the ``1/sigma^3`` factors of the test inputs
(sigma >= 0.3). Correct gradients pass at ~1e-3..1e-2 of the tolerance; a wrong gradient
(the negative control) misses by a factor > 1e3.
"""

from __future__ import annotations

import numpy as np

from regnorm.backend import to_numpy

STEP = 1e-5


def fd_tolerance(scale: float, ops: int) -> float:
    """Absolute tolerance of a central difference of a loss whose terms sum to ``scale``."""
    rounding = np.finfo(np.float64).eps * max(1.0, np.sqrt(ops)) * scale
    return rounding / STEP + 1e2 * STEP**2


def numerical_gradient(loss, x: np.ndarray) -> np.ndarray:
    """Central-difference gradient of ``loss(x_numpy) -> float`` at ``x`` (float64)."""
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + STEP
        up = loss(x)
        flat[i] = old - STEP
        down = loss(x)
        flat[i] = old
        g.reshape(-1)[i] = (up - down) / (2 * STEP)
    return g


def check_layer_gradients(layer, x_np: np.ndarray, xp, *, training=True, seed=0, wrong=None):
    """Compare ``layer.backward`` (input and every parameter) with central differences.

    Returns the largest |analytic - numerical| divided by its tolerance (must be <= 1). With
    ``wrong`` (a function ``(layer, x, R) -> dx``) it instead returns that ratio for the
    wrong input gradient, which a negative control asserts to be > 1.
    """
    rng = np.random.default_rng(seed)
    y0 = layer.forward(xp.asarray(x_np), training=training)
    r = rng.standard_normal(tuple(y0.shape))
    r_xp = xp.asarray(r)

    def run(x_arr):
        y = to_numpy(layer.forward(xp.asarray(x_arr), training=training))
        return float(np.sum(y * r)), float(np.sum(np.abs(y * r)))

    scale = run(x_np)[1]
    ops = int(x_np.size) * 10
    tol = fd_tolerance(scale, ops)
    # analytic gradients at x (forward again so the cache is for x)
    layer.forward(xp.asarray(x_np), training=training)
    dx = to_numpy(layer.backward(r_xp))
    grads = {k: to_numpy(v).copy() for k, v in layer.grads.items()}
    if wrong is not None:
        dx = wrong(layer, x_np, r)
    x_work = x_np.copy()
    num_dx = numerical_gradient(lambda a: run(a)[0], x_work)
    worst = np.max(np.abs(dx - num_dx)) / tol
    if wrong is not None:
        return worst
    for key, value in layer.params.items():
        p_np = to_numpy(value).copy()

        def loss_p(p, key=key):
            layer.params[key] = xp.asarray(p)
            return run(x_np)[0]

        num = numerical_gradient(loss_p, p_np)
        layer.params[key] = xp.asarray(p_np)
        worst = max(worst, np.max(np.abs(grads[key] - num)) / tol)
    return worst
