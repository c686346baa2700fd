"""C22: how much one sample's output depends on the rest of its batch, per normalizer.

For each normalizer and batch size ``M``, the mean squared change of a sample's output
between the batch computation and the batch-free one: the population statistics
(``mu_P = 0``, ``sigma_P = 1``) for the batch-dependent layers, the sample computed alone for
every other normalizer. As in C1 the input is i.i.d. N(0, 1), here of shape
``(M, 8, 4, 4)``; BN's statistics then use ``m = 16 M`` values per channel and its noise is
exactly ``2 - 2 E[sigma_B(m)]`` (:func:`bn_noise_exact`).

Sources: articles 000 (SN), 001 §1.1 (C1), 002 (BN/LN/IN/GN), 003 (Proxy Norm), 004
(KernelNorm).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from regnorm.backend import backend_param, random_generator, resolve_backend, to_numpy
from regnorm.batch_noise import batch_renorm_noise, standardization_error
from regnorm.normalizers import SwitchableNorm
from regnorm.normalizers.registry import canonical_name, label, make_normalizer
from regnorm.sweeps import sweep

__all__ = [
    "BATCH_DEPENDENT",
    "BATCH_NORMALIZERS",
    "BRN_CLIPS",
    "GHOST_BATCH",
    "MIN_CLIP_EVENTS",
    "NOISE_EPS",
    "ROUNDING_NOISE",
    "SAMPLE_SHAPE",
    "batch_dependence_noise",
    "bn_noise_exact",
    "brn_clip_probability",
    "noise_prediction",
    "sn_noise_factor",
]

#: eps of the layers in the C22 measurement: small, so BN's noise is C1's up to ~1e-12
NOISE_EPS = 1e-12
#: (C, H, W) of one sample in the C22 measurement
SAMPLE_SHAPE = (8, 4, 4)
#: Virtual batch size of the ghost BN in the C22 measurement: its noise is BN's at
#: ``min(M, GHOST_BATCH)`` samples (each sample sees only its virtual batch).
GHOST_BATCH = 4
#: ``(r_max, d_max)`` of the batch renormalization in the C22 measurement: tight, so that the
#: clips are active at small M and the exact noise :func:`regnorm.batch_noise.batch_renorm_noise`
#: is far from both 0 and BN's (with the paper's (3, 5) it is below 1e-13 at every M here).
BRN_CLIPS = (1.1, 0.1)
#: A batch-free normalizer's noise (the mean squared difference of O(1) outputs computed with
#: and without the other samples) at or below this is rounding, not batch dependence.
ROUNDING_NOISE = 1e-24
#: A batch renormalization record is judged only where the measurement expects at least this
#: many channel-batches with an active clip (below, the noise is a rare-event mean).
MIN_CLIP_EVENTS = 20

#: The measured normalizers (registry names, in the order of the table and its records) and
#: the arguments of their layers besides the channel count.
BATCH_NORMALIZERS: dict[str, dict[str, Any]] = {
    "batch_norm": {"eps": NOISE_EPS},
    "switchable_norm": {"eps": NOISE_EPS},
    "population_norm": {"eps": NOISE_EPS},
    "layer_norm": {"eps": NOISE_EPS},
    "instance_norm": {"eps": NOISE_EPS},
    "group_norm": {"num_groups": 4, "eps": NOISE_EPS},
    "weight_norm": {"rng": 0},
    "kernel_norm": {"kernel_size": 2, "eps": NOISE_EPS},
    "kn_conv": {"kernel_size": 2, "eps": NOISE_EPS, "rng": 0},
    "proxy_norm": {"eps": NOISE_EPS},
    "rms_norm": {"eps": NOISE_EPS},
    "ghost_batch_norm": {"virtual_batch_size": GHOST_BATCH, "eps": NOISE_EPS},
    "sync_batch_norm": {"eps": NOISE_EPS},
    "batch_renorm": {"r_max": BRN_CLIPS[0], "d_max": BRN_CLIPS[1], "eps": NOISE_EPS},
}
#: The normalizers whose output for one sample depends on the rest of the batch.
BATCH_DEPENDENT = (
    "batch_norm",
    "switchable_norm",
    "ghost_batch_norm",
    "sync_batch_norm",
    "batch_renorm",
)
# Judged against the population normalization PN(0, 1) of the same input.
_AGAINST_POPULATION = ("batch_norm", "ghost_batch_norm", "sync_batch_norm", "batch_renorm")


def brn_clip_probability(m: int) -> float:
    """Probability that a clip of the C22 batch renormalization acts on one channel of a batch
    of ``m`` values: ``P(sigma_B not in [1/r_max, r_max]) + P(|mu_B| > d_max)`` (an upper
    bound of the union), from ``m sigma_B^2 ~ chi2(m-1)`` and ``mu_B ~ N(0, 1/m)``."""
    from scipy import stats

    r, d = BRN_CLIPS
    k = m - 1
    p_sigma = stats.chi2.cdf(m / r**2, k) + stats.chi2.sf(m * r**2, k)
    return float(p_sigma + 2.0 * stats.norm.sf(d * math.sqrt(m)))


def noise_prediction(name: str, M: int) -> float | None:
    """The exact batch-dependence noise of a batch-dependent normalizer of
    :data:`BATCH_NORMALIZERS` at batch size ``M`` (i.i.d. N(0,1) input of shape
    ``(M, 8, 4, 4)``, population statistics 0 and 1), or None where there is no closed form.

    BN: C1's exact ``2 - 2 E[sigma_B(m)]`` with ``m = M H W``; synchronized BN: the same (its
    statistics are the whole batch's, over any shards); ghost BN: BN's at
    ``m = min(M, GHOST_BATCH) H W``; batch renormalization: ``E[(sigma_B - r)^2] +
    E[(mu_B - d)^2]`` with its clips (:func:`regnorm.batch_noise.batch_renorm_noise`).
    ``name`` is anything :func:`regnorm.normalizers.registry.canonical_name` accepts.
    """
    name = canonical_name(name)
    hw = SAMPLE_SHAPE[1] * SAMPLE_SHAPE[2]
    if name in ("batch_norm", "sync_batch_norm"):
        return float(bn_noise_exact(M * hw))
    if name == "ghost_batch_norm":
        return float(bn_noise_exact(min(M, GHOST_BATCH) * hw))
    if name == "batch_renorm":
        return float(batch_renorm_noise(M * hw, r_max=BRN_CLIPS[0], d_max=BRN_CLIPS[1]))
    return None


def bn_noise_exact(m: Any) -> np.ndarray:
    """``2 - 2 E[sigma_B]`` for ``m`` i.i.d. N(0,1) values (C1, biased std, x in the batch).

    The exact C1 error of :func:`regnorm.batch_noise.standardization_error` (``m`` counts every
    element a BN statistic is taken over: batch size times H times W).
    """
    m = np.asarray(m)
    if np.any(m < 2):
        raise ValueError(f"m must be >= 2, got {m.min()!r}")
    return standardization_error(np.rint(m).astype(np.int64), inside=True, ddof=0)


def sn_noise_factor(layer: SwitchableNorm) -> float:
    """SN's batch-dependence noise over BN's, to first order in the BN statistics' fluctuation.

    SN normalizes by ``mu = sum_k w_k mu_k`` and ``sigma^2 = sum_k v_k sigma_k^2`` (softmax
    weights ``w`` of the means, ``v`` of the variances, ``k`` in IN, LN, BN). Replacing the
    BN statistics ``(delta_mu, 1 + delta_v)`` by the population's ``(0, 1)`` changes the
    output by ``-w_BN delta_mu - v_BN z delta_v / 2`` to first order (``z`` the normalized
    input), against BN's ``-delta_mu - z delta_v / 2``. With ``E[delta_mu^2] = 1/m``,
    ``E[delta_v^2] = 2/m`` and ``E[z^2] = 1``, BN's noise is ``3/(2m)`` and SN's
    ``(w_BN^2 + v_BN^2/2)/m``, so

    .. math:: \\frac{\\mathrm{noise}_{SN}}{\\mathrm{noise}_{BN}}
              = \\frac{2 w_{BN}^2 + v_{BN}^2}{3},

    which is ``1/9`` for SN's equal initial weights (C22).
    """

    def softmax(a):
        e = np.exp(np.asarray(a, dtype=float) - np.max(a))
        return e / e.sum()

    w = float(softmax(layer.params["mean_logits"])[2])
    v = float(softmax(layer.params["var_logits"])[2])
    return (2.0 * w * w + v * v) / 3.0


def _noise_task(
    params: dict[str, Any], rng: np.random.Generator, *, backend: str | None = None
) -> dict[str, float]:
    """Mean over ``batches`` batches of the squared change of a sample's output.

    On ``backend`` (a spec: it travels to worker processes) the inputs are drawn on its
    device (:func:`regnorm.backend.random_generator` of ``rng``: NumPy's numbers on NumPy
    and array-api-strict), the layers run there and the sum stays there: one number crosses
    to the host per task. The sum adds the batches' means in the same order on every
    backend, so NumPy's numbers are those of a host loop.
    """
    name, m, batches = params["normalizer"], params["M"], params["batches"]
    c = SAMPLE_SHAPE[0]
    dev = resolve_backend(backend)
    with dev.activate():  # CuPy: kernels run on the current device
        xp = dev.xp
        g = random_generator(dev, rng)
        layer = make_normalizer(name, c, xp=dev, **BATCH_NORMALIZERS[name])
        population = {"dtype": xp.float64, "device": dev.device}
        total = 0.0
        for _ in range(batches):
            x = g.standard_normal((m, *SAMPLE_SHAPE))
            if name == "sync_batch_norm":  # shards of unequal size, as a data-parallel run holds
                layer.shard_sizes = (m // 2, m - m // 2) if m >= 2 else (m,)
            if name == "batch_renorm":  # running statistics at the population's: the law's setting
                layer.state["running_mean"] = xp.zeros(c, **population)
                layer.state["running_std"] = xp.ones(c, **population)
            y = layer.forward(x, training=True)
            if name in _AGAINST_POPULATION:
                ref = make_normalizer("population_norm", c, eps=NOISE_EPS, xp=dev).forward(x)
            elif name == "switchable_norm":
                # The reference's BN part must use the population statistics (0, 1) of the input:
                # after the training forward the running averages have moved towards this batch's.
                layer.state["running_mean"] = xp.zeros(c, **population)
                layer.state["running_var"] = xp.ones(c, **population)
                ref = layer.forward(x, training=False)
            else:
                y, ref = y[:1, ...], layer.forward(x[:1, ...], training=True)
            total = total + xp.mean((y - ref) ** 2)
    return {"noise": float(to_numpy(total)) / batches, "batch_dependent": name in BATCH_DEPENDENT}


def _labelled_point(params: dict[str, Any]) -> tuple:
    """The seed key of a point: the point with the normalizer's label, as its records name it.

    The label keys the stream, not the grid's canonical name, so that each point draws the
    numbers it drew when the grid held the labels and the published records stay reproducible
    (all but KernelNorm's, then named by its class: a batch-free layer, zero to rounding).
    """
    return ({**params, "normalizer": label(params["normalizer"])},)


def batch_dependence_noise(
    normalizers: Sequence[str] | None = None,
    Ms: Sequence[int] = (2, 4, 8, 16, 32, 64, 128),
    *,
    repetitions: int = 16,
    batches: int = 25,
    seed: int = 0,
    executor: Any = None,
    backend: Any = None,
) -> pd.DataFrame:
    """C22: the batch-dependence noise of each normalizer against the batch size ``M``.

    Parameters
    ----------
    normalizers : sequence of str, optional
        Names of :data:`BATCH_NORMALIZERS` (or their labels or class names); default all.
    Ms : sequence of int
        Batch sizes.
    repetitions : int
        Independent tasks per point.
    batches : int
        Batches averaged in one task.
    seed : int
    executor : str or Executor, optional
        See :func:`regnorm.sweeps.sweep`.
    backend : spec or Backend, optional
        Where the inputs are drawn and the layers run (anything
        :func:`regnorm.backend.resolve_backend` accepts; None: NumPy). Array-api-strict
        gives NumPy's numbers to rounding (the same draws, made on its device).

    Returns
    -------
    pandas.DataFrame
        A tidy table ``normalizer`` (registry name), ``M``, ``batches``, ``rep``, ``noise``,
        ``batch_dependent``; each row is the mean over ``batches`` batches (one independent
        task), so the standard error of the mean over ``rep`` is honest
        (:func:`~simulations.normalizer_family.analysis.summarize`). ``attrs["settings"]``
        holds the sizes and the layers' settings (``sample_shape``, ``ghost_batch``,
        ``brn_clips``) and, off NumPy, ``backend`` (its spec).
    """
    names = list(BATCH_NORMALIZERS) if normalizers is None else list(normalizers)
    names = [canonical_name(n) for n in names]
    for n in names:
        if n not in BATCH_NORMALIZERS:
            raise ValueError(
                f"normalizer {n!r} is not measured here; choose from {list(BATCH_NORMALIZERS)}"
            )
    grid = [{"normalizer": n, "M": int(m), "batches": batches} for n in names for m in Ms]
    dev = resolve_backend(backend)
    on = backend_param(dev)
    # NumPy's task is the bare function: its provenance (and any cache of it) is as before
    task = functools.partial(_noise_task, **on) if on else _noise_task
    df = sweep(
        task,
        grid,
        repetitions=repetitions,
        seed=seed,
        executor=executor,
        progress=None,  # a bar on a terminal, nothing in logs
        name="C22-batch-dependence",
        seed_key=_labelled_point,
    )
    df.attrs["settings"] = dict(
        sample_shape=SAMPLE_SHAPE,
        batches=batches,
        repetitions=repetitions,
        seed=seed,
        ghost_batch=GHOST_BATCH,
        brn_clips=BRN_CLIPS,
        **on,
    )
    return df
