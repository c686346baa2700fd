"""The protocol of the switchable-weights experiment: SN students trained across batch sizes.

Replicates are trained one after the other (SN's six logits are shared by all channels of a
layer, so replicates cannot be folded into channels). Replicate ``r`` of an input law fixes
the teacher, the data and the initial weights for every batch size: the design is paired
over ``M``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from regnorm.backend import backend_param, random_generator, resolve_backend, to_numpy
from regnorm.validation import check_choice, check_integer, check_real

from .model import INPUT_NOISE, ImageTeacher, SNConvStudent, contract_channels, sample_images

if TYPE_CHECKING:  # pandas loads lazily: the command line imports this module
    import pandas as pd

__all__ = ["DELTA2", "SN_SIZES", "SNProtocol", "switchable_weights", "train_sn_student"]

SN_SIZES = {
    "quick": dict(
        repetitions=4,
        batch_sizes=(2, 8, 32),
        steps=300,
        lr=0.05,
        logit_lr=0.5,
        n_train=256,
        channels=8,
        size=6,
        noises=("gaussian",),
    ),
    "full": dict(
        repetitions=6,
        batch_sizes=(1, 2, 4, 8, 16, 32, 64),
        steps=800,
        lr=0.05,
        logit_lr=0.5,
        n_train=512,
        channels=8,
        size=6,
        noises=("gaussian_no_contrast", "gaussian", "student_t5"),
    ),
}

#: Label-noise variance: ``y = teacher(x) + sqrt(delta2) eps``.
DELTA2 = 0.09


@dataclasses.dataclass(frozen=True)
class SNProtocol:
    """How one SN student is trained: problem size and minibatch SGD.

    Parameters
    ----------
    steps : int
        SGD steps.
    lr : float
        Step size of the weights and of SN's affine parameters (> 0).
    logit_lr : float
        Step size of SN's control logits (> 0).
    n_train : int
        Training images (the test set has 1024).
    channels : int
        Width of both hidden layers.
    size : int
        Images are ``size x size``.
    """

    steps: int
    lr: float
    logit_lr: float
    n_train: int
    channels: int
    size: int

    def __post_init__(self):
        for name in ("steps", "n_train", "channels", "size"):
            check_integer(name, getattr(self, name), minimum=1)
        check_real("lr", self.lr, minimum=0.0, min_inclusive=False)
        check_real("logit_lr", self.logit_lr, minimum=0.0, min_inclusive=False)

    @classmethod
    def from_sizes(cls, sizes: dict) -> SNProtocol:
        """The protocol of a :data:`SN_SIZES` entry (other keys are ignored)."""
        return cls(**{f.name: sizes[f.name] for f in dataclasses.fields(cls)})


def train_sn_student(M, noise, protocol: SNProtocol, *, rng, backend=None):
    """Train one SN student at batch size ``M``; return its learned SN weights per layer.

    Returns a dict ``{"mean_in_1": ..., "var_bn_2": ..., "rho_1": ..., "test_loss": ...}``
    (weights of layer 1 and 2, ``rho_1`` the excess kurtosis of layer 1's input to SN
    pooled over channels, measured on the training set at the end).

    ``backend`` (anything :func:`regnorm.backend.resolve_backend` accepts; None: NumPy) is
    where the images, teacher, student and each epoch's permutation are drawn and kept
    (:func:`regnorm.backend.random_generator` of ``rng``: NumPy's numbers on NumPy and
    array-api-strict); only the returned numbers cross to the host, at the end.
    """
    if not isinstance(protocol, SNProtocol):
        raise TypeError(f"protocol must be an SNProtocol, got {type(protocol).__name__}")
    M = check_integer("M", M, minimum=1)
    steps, lr, logit_lr = protocol.steps, protocol.lr, protocol.logit_lr
    n_train, channels, size = protocol.n_train, protocol.channels, protocol.size
    if M > n_train:
        raise ValueError(f"M={M} is larger than the training set (n_train={n_train})")
    backend = resolve_backend(backend)
    with backend.activate():  # CuPy: kernels run on the current device
        xp = backend.xp
        g = random_generator(backend, rng)
        delta = math.sqrt(DELTA2)
        teacher = ImageTeacher(g)
        probe = sample_images(2000, size, noise, g)
        teacher.scale = xp.std(teacher.clean(probe))
        x = sample_images(n_train, size, noise, g)
        y = teacher.clean(x) + delta * g.standard_normal(n_train)
        x_te = sample_images(1024, size, noise, g)
        y_te = teacher.clean(x_te) + delta * g.standard_normal(1024)
        net = SNConvStudent(channels, g, backend)
        per_epoch = n_train // M
        for step in range(steps):
            k = step % per_epoch
            if k == 0:
                order = g.permutation(n_train)
            idx = order[k * M : (k + 1) * M]
            xb, yb = xp.take(x, idx, axis=0), xp.take(y, idx, axis=0)
            f = net.forward(xb)
            net.backward(2.0 * (f - yb) / M)
            net.step(lr, logit_lr)
        out = {}
        for i, norm in enumerate(net.norms, start=1):
            wm, wv = to_numpy(norm.mean_weights), to_numpy(norm.var_weights)
            for j, comp in enumerate(("in", "ln", "bn")):
                out[f"mean_{comp}_{i}"] = float(wm[j])
                out[f"var_{comp}_{i}"] = float(wv[j])
        u = contract_channels(net.params["W1"], x)
        axes = (0, 2, 3)
        z = (u - xp.mean(u, axis=axes, keepdims=True)) / xp.std(u, axis=axes, keepdims=True)
        out["rho_1"] = float(to_numpy(xp.mean(z**4) - 3.0))
        f_te = net.forward(x_te, training=False)
        out["test_loss"] = float(to_numpy(xp.mean((f_te - y_te) ** 2)))
        return out


def _noise_key(params: dict) -> tuple[int]:
    """The stream of an input law: its position in :data:`INPUT_NOISE`, so a law's numbers do
    not depend on which other laws are run; not ``M``, so every batch size of a replicate
    sees the same teacher and data."""
    return (list(INPUT_NOISE).index(params["noise"]),)


def _train_point(point: dict, rng, *, protocol: SNProtocol, backend: str | None = None) -> dict:
    """One sweep task: one SN student at ``point`` = (noise, M) on the replicate ``rng``
    (``backend``: a spec, which travels to worker processes)."""
    return train_sn_student(point["M"], point["noise"], protocol, rng=rng, backend=backend)


def switchable_weights(
    *, quick=False, seed=0, sizes=None, executor=None, backend=None
) -> pd.DataFrame:
    """SN weights against the batch size, one row per (noise, M, rep).

    Replicate ``rep`` of input law ``noise`` is the stream ``seed_sequence(seed, i, rep)``
    (``i`` the law's position in :data:`INPUT_NOISE`): it fixes the teacher, data and initial
    weights for every batch size (paired over ``M``). Every (noise, M, rep) student is one
    task of a :func:`regnorm.sweeps.sweep` (``executor``: ``"processes:2"``, Dask, ...), with
    the same numbers whatever the executor. ``backend``: where each student trains (see
    :func:`train_sn_student`); off NumPy, ``attrs["settings"]["backend"]`` is its spec.
    """
    import functools

    from regnorm.sweeps import sweep

    for key in sizes or {}:
        check_choice("sizes key", key, SN_SIZES["full"])
    sz = dict(SN_SIZES["quick" if quick else "full"], **(sizes or {}))
    seed = check_integer("seed", seed, minimum=0)
    repetitions = check_integer("repetitions", sz["repetitions"], minimum=1)
    for noise in sz["noises"]:
        check_choice("noise", noise, INPUT_NOISE)
    points = [{"noise": noise, "M": int(M)} for noise in sz["noises"] for M in sz["batch_sizes"]]
    backend = resolve_backend(backend)
    on = backend_param(backend)
    task = functools.partial(_train_point, protocol=SNProtocol.from_sizes(sz), **on)
    df = sweep(
        task,
        points,
        repetitions=repetitions,
        seed=seed,
        seed_key=_noise_key,
        executor=executor,
        progress=None,
    )
    df.attrs["settings"] = dict(sz, seed=seed, delta2=DELTA2, **on)
    return df
