"""Switchable Norm's learned weights against the batch size on a convolutional student (C15, C16).

Article 000 reads SN's learned importance weights off ImageNet ResNets: the BN weight falls
as the batch shrinks (C15), and at small batch BN's variance gets a smaller weight than its
mean (C16). Here the same is measured on a synthetic teacher-student problem:

Images ``x[n, c, i, j] = a_n b_{n,c} xi_{n,c,i,j} + o_{n,c}`` with per-image contrast
``a_n``, per-image-and-channel contrast ``b`` and brightness ``o`` (so IN and LN have
something to remove) and pixel noise ``xi`` either Gaussian (excess kurtosis 0) or Student-t
with 5 degrees of freedom (excess kurtosis 6: heavy tails, C16). The teacher is a
one-hidden-layer network of 1x1 convolutions with global average pooling,
``y = sum_k s_k mean_ij ReLU(t_k . x_ij) / scale + delta eps``.

The student is ``conv1x1 -> SN -> ReLU -> conv1x1 -> SN -> ReLU -> average pool -> linear``,
with :class:`regnorm.normalizers.SwitchableNorm` (control logits ordered IN, LN, BN, started
at equal weights) trained jointly by minibatch SGD with squared loss. Seeds are trained one
after the other (SN's six logits are shared by all channels of a layer, so seeds cannot be
folded into channels). Convolutions are 1x1 (per-pixel matrix products): the statistics
axes of IN (H, W), LN (C, H, W) and BN (N, H, W) are those of a CNN, without the cost of
spatial kernels.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from regnorm.backend import get_namespace, to_numpy
from regnorm.claims import ClaimRecord, claim, identity_record
from regnorm.validation import check_choice, check_integer, check_real

if TYPE_CHECKING:  # pandas and scipy.stats load lazily: the CLI imports this module
    import pandas as pd

from .regularization import _order_record, paired_difference

__all__ = [
    "INPUT_NOISE",
    "SN_SIZES",
    "SNConvStudent",
    "sample_images",
    "switchable_weights",
    "train_sn_student",
]

SOURCE = "000 §3.1-3.2"

#: Pixel laws and the excess kurtosis of their noise ``xi``. "gaussian_no_contrast" has no
#: per-image contrast or brightness (a = b = 1, o = 0): its pixels are exactly N(0, 1), so
#: BN's per-channel inputs have kurtosis ~0; with contrast, the scale mixture makes them
#: heavy-tailed even for Gaussian ``xi``.
INPUT_NOISE = {"gaussian": 0.0, "student_t5": 6.0, "gaussian_no_contrast": 0.0}

SN_SIZES = {
    "quick": dict(
        n_seeds=4,
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
        n_seeds=6,
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

_IN_CHANNELS = 3
_TEACHER_HIDDEN = 4
_DELTA = 0.3


def sample_images(n, size, noise, rng):
    """``n`` synthetic images ``(n, 3, size, size)`` (see the module docstring)."""
    check_choice("noise", noise, INPUT_NOISE)
    shape = (n, _IN_CHANNELS, size, size)
    if noise == "student_t5":  # unit-variance Student-t, 5 d.o.f. (variance 5/3)
        xi = rng.standard_t(5, shape) / math.sqrt(5 / 3)
    else:
        xi = rng.standard_normal(shape)
    if noise == "gaussian_no_contrast":
        return xi
    a = np.exp(0.5 * rng.standard_normal((n, 1, 1, 1)))
    b = np.exp(0.3 * rng.standard_normal((n, _IN_CHANNELS, 1, 1)))
    o = 0.5 * rng.standard_normal((n, _IN_CHANNELS, 1, 1))
    return a * b * xi + o


class _Teacher:
    def __init__(self, rng):
        t = rng.standard_normal((_TEACHER_HIDDEN, _IN_CHANNELS))
        self.t = t / np.linalg.norm(t, axis=1, keepdims=True)
        self.s = np.where(np.arange(_TEACHER_HIDDEN) % 2 == 0, 1.0, -1.0)
        self.scale = 1.0

    def clean(self, x):
        h = np.maximum(np.einsum("kc,nchw->nkhw", self.t, x), 0.0).mean(axis=(2, 3))
        return h @ self.s / self.scale


class SNConvStudent:
    """``conv1x1 -> SN -> ReLU -> conv1x1 -> SN -> ReLU -> pool -> linear`` (one seed).

    Parameters
    ----------
    channels : int
        Width of both hidden layers.
    rng : numpy Generator
        He initialisation of the 1x1 convolutions, ``v ~ N(0, 1/C)``.
    xp : namespace, optional
    """

    def __init__(self, channels, rng, xp=None):
        from regnorm.normalizers import SwitchableNorm

        self.xp = xp = get_namespace(xp)
        C = check_integer("channels", channels, minimum=1)
        w1 = rng.standard_normal((C, _IN_CHANNELS)) * math.sqrt(2 / _IN_CHANNELS)
        w2 = rng.standard_normal((C, C)) * math.sqrt(2 / C)
        v = rng.standard_normal(C) / math.sqrt(C)
        self.params = {k: xp.asarray(a) for k, a in (("W1", w1), ("W2", w2), ("v", v))}
        self.params["c"] = xp.zeros(1, dtype=xp.float64)
        self.norms = [SwitchableNorm(C, xp=xp), SwitchableNorm(C, xp=xp)]
        self.grads = {}

    def forward(self, x, *, training=True):
        xp = self.xp
        n, _, hh, ww = x.shape
        a = x
        self._cache = []
        for i, W in enumerate((self.params["W1"], self.params["W2"])):
            flat = xp.reshape(a, (n, a.shape[1], hh * ww))
            u = xp.reshape(xp.matmul(W, flat), (n, W.shape[0], hh, ww))
            h = self.norms[i].forward(u, training=training)
            self._cache.append((flat, h))
            a = xp.where(h > 0, h, xp.zeros_like(h))
        self._pooled = xp.mean(a, axis=(2, 3))
        return xp.matmul(self._pooled, self.params["v"]) + self.params["c"]

    def backward(self, df):
        xp = self.xp
        n = df.shape[0]
        (flat1, h1), (flat2, h2) = self._cache
        hw = h2.shape[2] * h2.shape[3]
        g = {"v": xp.matmul(df, self._pooled), "c": xp.reshape(xp.sum(df), (1,))}
        da = (df[:, None] * self.params["v"][None, :])[:, :, None, None] / hw
        da = da * xp.ones_like(h2)
        for i, (flat, h) in ((1, (flat2, h2)), (0, (flat1, h1))):
            dh = xp.where(h > 0, da, xp.zeros_like(da))
            du = self.norms[i].backward(dh)
            du = xp.reshape(du, (n, du.shape[1], hw))
            W = self.params[f"W{i + 1}"]
            g[f"W{i + 1}"] = xp.sum(xp.matmul(du, xp.permute_dims(flat, (0, 2, 1))), axis=0)
            if i == 1:
                da = xp.reshape(xp.matmul(xp.permute_dims(W, (1, 0)), du), h1.shape)
        self.grads = g

    def step(self, lr, logit_lr):
        for k, gk in self.grads.items():
            self.params[k] = self.params[k] - lr * gk
        for norm in self.norms:
            for k, gk in norm.grads.items():
                rate = logit_lr if k.endswith("logits") else lr
                norm.params[k] = norm.params[k] - rate * gk


def train_sn_student(M, noise, *, steps, lr, logit_lr, n_train, channels, size, rng, xp=None):
    """Train one SN student at batch size ``M``; return its learned SN weights per layer.

    Returns a dict ``{"mean_in_1": ..., "var_bn_2": ..., "rho_1": ..., "test_loss": ...}``
    (weights of layer 1 and 2, ``rho_1`` the excess kurtosis of layer 1's input to SN
    pooled over channels, measured on the training set at the end).
    """
    M = check_integer("batch_size", M, minimum=1)
    n_train = check_integer("n_train", n_train, minimum=1)
    if M > n_train:
        raise ValueError(f"batch_size={M} is larger than the training set (n_train={n_train})")
    check_real("lr", lr, minimum=0.0, min_inclusive=False)
    check_real("logit_lr", logit_lr, minimum=0.0, min_inclusive=False)
    xp = get_namespace(xp)
    teacher = _Teacher(rng)
    probe = sample_images(2000, size, noise, rng)
    teacher.scale = float(np.std(teacher.clean(probe)))
    x = sample_images(n_train, size, noise, rng)
    y = teacher.clean(x) + _DELTA * rng.standard_normal(n_train)
    x_te = sample_images(1024, size, noise, rng)
    y_te = teacher.clean(x_te) + _DELTA * rng.standard_normal(1024)
    net = SNConvStudent(channels, rng, xp)
    X, Y = xp.asarray(x), xp.asarray(y)
    per_epoch = n_train // M
    for step in range(steps):
        k = step % per_epoch
        if k == 0:
            order = rng.permutation(n_train)
        idx = xp.asarray(order[k * M : (k + 1) * M])
        xb, yb = xp.take(X, idx, axis=0), xp.take(Y, idx, axis=0)
        f = net.forward(xb)
        net.backward(2.0 * (f - yb) / M)
        net.step(lr, logit_lr)
    out = {}
    for i, norm in enumerate(net.norms, start=1):
        wm, wv = to_numpy(norm.mean_weights), to_numpy(norm.var_weights)
        for j, comp in enumerate(("in", "ln", "bn")):
            out[f"mean_{comp}_{i}"] = float(wm[j])
            out[f"var_{comp}_{i}"] = float(wv[j])
    u = np.einsum("oc,nchw->nohw", to_numpy(net.params["W1"]), x)
    z = (u - u.mean(axis=(0, 2, 3), keepdims=True)) / u.std(axis=(0, 2, 3), keepdims=True)
    out["rho_1"] = float(np.mean(z**4) - 3.0)
    f_te = to_numpy(net.forward(xp.asarray(x_te), training=False))
    out["test_loss"] = float(np.mean((f_te - y_te) ** 2))
    return out


@functools.lru_cache(maxsize=4)
def _cached_weights(quick: bool, seed: int, executor=None) -> pd.DataFrame:
    return switchable_weights(quick=quick, seed=seed, executor=executor)


def default_run_weights(*, quick: bool, seed: int, executor=None) -> pd.DataFrame:
    """:func:`switchable_weights` at its default sizes, computed once per process.

    C15, C16 and the figure script read the same training runs (``regnorm reproduce`` runs
    all three in one process). Returns a copy.
    """
    return _cached_weights(bool(quick), int(seed), executor).copy()


def _student_seed(seed: int, noise: str, seed_index: int) -> np.random.SeedSequence:
    """Seed ``seed_index`` of input law ``noise``: fixes teacher, data and initial weights.

    One root per input law (by its position in INPUT_NOISE), so a law's numbers do not depend
    on which other laws are run, and the same entropy for every M (paired over M).
    """
    root = np.random.SeedSequence(seed, spawn_key=(list(INPUT_NOISE).index(noise),))
    return root.spawn(seed_index + 1)[seed_index]


def _train_point(point: dict, rng, *, sz: dict, seed: int) -> dict:
    """One sweep task: one SN student at ``point`` = (noise, seed_index, M).

    ``rng`` (the sweep's per-point generator) is not used: the student's generator comes from
    :func:`_student_seed`, so every batch size of a seed sees the same teacher and data.
    """
    ss = _student_seed(seed, point["noise"], point["seed_index"])
    return train_sn_student(
        point["M"],
        point["noise"],
        steps=sz["steps"],
        lr=sz["lr"],
        logit_lr=sz["logit_lr"],
        n_train=sz["n_train"],
        channels=sz["channels"],
        size=sz["size"],
        rng=np.random.default_rng(ss),
    )


def switchable_weights(*, quick=False, seed=0, sizes=None, executor=None) -> pd.DataFrame:
    """SN weights against the batch size, one row per (noise, M, seed); seed ``s`` fixes the
    teacher, data and initial weights for every batch size (paired over M).

    Every (noise, seed, M) student is one point of a :func:`regnorm.sweeps.sweep`
    (``executor``: ``"processes:2"``, Dask, ...), with the same numbers whatever the executor.
    """
    from regnorm.sweeps import sweep

    sz = dict(SN_SIZES["quick" if quick else "full"], **(sizes or {}))
    seed = check_integer("seed", seed, minimum=0)
    check_integer("n_seeds", sz["n_seeds"], minimum=1)
    for noise in sz["noises"]:
        check_choice("noise", noise, INPUT_NOISE)
    points = [
        {"noise": noise, "seed_index": s, "M": int(M)}
        for noise in sz["noises"]
        for s in range(sz["n_seeds"])
        for M in sz["batch_sizes"]
    ]
    task = functools.partial(_train_point, sz=sz, seed=seed)
    df = sweep(task, points, seed=seed, executor=executor, progress=None)
    df = df.drop(columns="rep")
    df.attrs["settings"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sz.items()}
    df.attrs["settings"]["seed"] = seed
    return df


def _params(df):
    st = df.attrs["settings"]
    return {
        k: st[k]
        for k in ("n_seeds", "steps", "lr", "logit_lr", "n_train", "channels", "size", "seed")
    }


def _slope(df, col, noise):
    sub = df[(df["noise"] == noise) & (df["M"] >= 2)]
    piv = sub.pivot_table(index="seed_index", columns="M", values=col)
    x = np.log2(piv.columns.to_numpy(dtype=float))
    xc = x - x.mean()
    y = piv.to_numpy()
    return (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)


def c15_records(df) -> list[ClaimRecord]:
    out = []
    base = _params(df)
    for noise in df["noise"].unique():
        for layer in (1, 2):
            for kind in ("mean", "var"):
                col = f"{kind}_bn_{layer}"
                sl = _slope(df, col, noise)
                means = df[df["noise"] == noise].groupby("M")[col].mean()
                trend = ", ".join(f"M={int(m)}: {v:.3f}" for m, v in means.items())
                out.append(
                    _order_record(
                        "C15",
                        dict(base, noise=noise, layer=layer, weight=f"BN {kind}"),
                        paired_difference(sl, np.zeros_like(sl)),
                        claimed="positive",
                        what=f"slope of SN's BN {kind} weight per doubling of M (M>=2)",
                        note=f"mean weights {trend} (1/3 at initialisation)",
                    )
                )
    return out


def c15_identity_record(seed=0) -> ClaimRecord:
    """At M=1, SN's BN statistics equal IN's: true by construction, not evidence for C15."""
    from regnorm.normalizers import SwitchableNorm

    rng = np.random.default_rng(seed)
    x = sample_images(1, 6, "gaussian", rng)
    sn = SwitchableNorm(_IN_CHANNELS)
    st = sn.statistics(x)
    diff = max(
        float(np.max(np.abs(np.asarray(st["bn"][0]) - np.asarray(st["in"][0])))),
        float(np.max(np.abs(np.asarray(st["bn"][1]) - np.asarray(st["in"][1])))),
    )
    return identity_record(
        "C15",
        {"M": 1, "seed": seed},
        analytic=0.0,
        numeric=diff,
        atol=1e-12,
        note="max |BN statistic - IN statistic| at batch size 1 (mean and variance)",
        source=SOURCE,
    )


def c16_records(df) -> list[ClaimRecord]:
    out = []
    base = _params(df)
    for noise in df["noise"].unique():
        sub = df[(df["noise"] == noise)]
        Ms = sorted(m for m in sub["M"].unique() if m >= 2)
        for M in Ms[:2]:
            s = sub[sub["M"] == M].sort_values("seed_index")
            rho = float(s["rho_1"].mean())
            which = "variance" if rho > 2 else "mean"
            for layer in (1, 2):
                d = paired_difference(s[f"var_bn_{layer}"], s[f"mean_bn_{layer}"])
                out.append(
                    _order_record(
                        "C16",
                        dict(base, noise=noise, M=int(M), layer=layer),
                        d,
                        claimed="negative",
                        what="SN BN variance weight - BN mean weight",
                        note=(
                            f"layer-1 pre-activation excess kurtosis rho = {rho:.2f}; C3 says "
                            f"variance noise (rho+2)/(4M) z^2 vs mean noise 1/M, so the "
                            f"{which} noise is larger on average here (cross at rho = 2)"
                        ),
                    )
                )
    return out


@claim("C15", source=SOURCE)
def check_c15(ctx):
    """C15: slope of SN's BN weights against log2 M on a 1x1-conv student; M=1 identity."""
    yield c15_identity_record(ctx.seed)
    yield from c15_records(
        default_run_weights(quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )


@claim("C16", source=SOURCE)
def check_c16(ctx):
    """C16: BN variance weight vs BN mean weight of SN at small batch, with input kurtosis."""
    yield from c16_records(
        default_run_weights(quick=ctx.quick, seed=ctx.seed, executor=ctx.executor)
    )
