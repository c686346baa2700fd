"""Population statistics of the PN layers and their gamma-decay coefficient (C4, C9).

PN layers normalize with population statistics estimated every ``stat_every`` steps from
``n_stat`` fresh unlabeled inputs (~10k in the article), and the loss gains
:math:`\\sum_c \\zeta_c \\gamma_c^2` with :math:`\\zeta_c` of C4 estimated on the same sample
(:func:`set_population_statistics`).
"""

from __future__ import annotations

import numpy as np

from regnorm.backend import array_namespace, backend_name, device_of, to_numpy
from regnorm.gamma_decay import gamma_decay_coefficient
from regnorm.validation import check_choice, check_integer

from .network import ReLUNetwork

__all__ = ["ZETA_CURVATURES", "set_population_statistics"]

ZETA_CURVATURES = ("gauss_newton", "relu")


def set_population_statistics(
    net: ReLUNetwork, x_stat, M: int, *, curvature: str = "gauss_newton"
) -> list:
    """Set every PN layer's statistics from ``x_stat`` and return its gamma-decay ``zeta``.

    Walks the layers in order: at every ``population_norm`` layer the population mean and
    variance of its input ``u`` over the ``n_stat`` samples become its statistics, so later
    layers see the normalized activations. Then C4 per channel ``c``:

    .. math::

        \\zeta_c = \\frac{\\rho_c + 2}{8M} F_c + \\frac{\\overline{A''_c}}{2M},\\quad
        F_c = \\overline{A''_c z_c^2},\\quad z_c = \\frac{u_c - \\mu_c}{\\sigma_c},

    with ``rho_c`` the excess kurtosis of ``u_c`` and ``A''`` the curvature of the loss in the
    unit's output: ``"gauss_newton"`` uses :math:`A''_{nc} = 2 (\\partial f_n/\\partial
    h_{nc})^2` (the Gauss-Newton curvature of the squared loss, which makes C4's Taylor
    expansion exact to second order for this network); ``"relu"`` uses the article's reading
    for ReLU networks, :math:`A'' = H(\\bar h)` (mean activation probability), which has no
    loss scale. The combination is :func:`regnorm.gamma_decay.gamma_decay_coefficient`.

    Parameters
    ----------
    net : ReLUNetwork
        Its PN layers' ``state["mean"]`` and ``state["var"]`` are replaced.
    x_stat : array (S, n_stat, d)
        Unlabeled inputs, per replicate.
    M : int
        Batch size of the training the coefficient is for, ``>= 2``.
    curvature : {"gauss_newton", "relu"}

    Returns
    -------
    list of (array (S, H) or None)
        ``zeta`` per hidden layer (None where the layer is not PN).
    """
    check_choice("curvature", curvature, ZETA_CURVATURES)
    M = check_integer("M", M, minimum=2)
    xp = net.xp
    cfg = net.config
    a = x_stat
    rhos, zs = [None] * cfg.depth, [None] * cfg.depth
    for i in range(cfg.depth):
        u = net.pre_activation(i + 1, a)
        norm = net.norms[i]
        if cfg.normalizers[i] == "population_norm":
            mu = xp.mean(u, axis=1)
            var = xp.mean((u - mu[:, None, :]) ** 2, axis=1)
            norm.state["mean"] = xp.reshape(mu, (-1,))
            norm.state["var"] = xp.reshape(var, (-1,))
            # the PN layer's own eps keeps a dead unit (zero variance) finite
            z = (u - mu[:, None, :]) / xp.sqrt(var[:, None, :] + norm.eps)
            rhos[i] = xp.mean(z**4, axis=1) - 3.0
            zs[i] = z
        if norm is None:
            h = u + net.params[f"b{i + 1}"][:, None, :]
            if cfg.weights == "weight_norm":
                h = u * net.params[f"g{i + 1}"][:, None, :] + net.params[f"b{i + 1}"][:, None, :]
        else:
            h = net._unfold(norm.forward(net._fold(u), training=False))
        a = xp.maximum(h, 0.0) if net._relu[i] else h
    out = [None] * cfg.depth
    if all(r is None for r in rhos):
        return out
    if curvature == "gauss_newton":
        net.forward(x_stat, training=False)
        ones = xp.ones(
            (net.repetitions, x_stat.shape[1]), dtype=net.dtype, device=net.backend.device
        )
        dhs = net.backward(ones)
    for i in range(cfg.depth):
        if rhos[i] is None:
            continue
        if curvature == "gauss_newton":
            a2 = 2.0 * dhs[i] ** 2
        else:
            gamma = net.gamma(i + 1)[:, None, :]
            beta = xp.reshape(net.norms[i].params["beta"], (net.repetitions, -1))[:, None, :]
            h = gamma * zs[i] + beta
            a2 = xp.astype(h > 0, net.dtype)
        F = xp.mean(a2 * zs[i] ** 2, axis=1)
        mean_a2 = xp.mean(a2, axis=1)
        out[i] = _zeta_per_channel(M, rho=rhos[i], F_gamma=F, mean_A2=mean_a2)
    return out


def _zeta_per_channel(M, *, rho, F_gamma, mean_A2):
    """:func:`regnorm.gamma_decay.gamma_decay_coefficient` channel by channel, on the device.

    That function validates Python scalars, so on the host it is applied one channel at a
    time; elsewhere its formula is evaluated elementwise on the arrays' device (the same
    operations in the same order, so the same numbers), and the training loop never crosses
    to the host. ``rho`` is clipped at its bound -2: with the layer's ``eps`` in the
    standardization a dead (constant) unit has ``z = 0``, so its sample ``rho`` is -3. Inputs
    that are not finite (a diverged training) raise on the host and give NaN elsewhere, which
    :func:`~simulations.relu_network.training.train_relu_students` refuses at its end.
    """
    xp = array_namespace(rho)
    if backend_name(xp) != "numpy":
        rho = xp.maximum(rho, xp.asarray(-2.0, dtype=rho.dtype, device=device_of(rho)))
        return (rho + 2.0) / (8.0 * M) * F_gamma + mean_A2 / (2.0 * M)
    r, f, a = (to_numpy(v) for v in (rho, F_gamma, mean_A2))
    z = np.array(
        [
            gamma_decay_coefficient(
                M, rho=max(float(ri), -2.0), F_gamma=float(fi), mean_A2=float(ai)
            )
            for ri, fi, ai in zip(r.ravel(), f.ravel(), a.ravel(), strict=True)
        ]
    )
    return xp.asarray(np.reshape(z, r.shape), dtype=rho.dtype)
