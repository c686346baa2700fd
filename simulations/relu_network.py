"""Teacher-student ReLU networks with a normalization layer, many seeds trained at once.

The trainable network family of THEORY.md §3 (claims C9-C12): a fixed two-layer ReLU
*teacher* on Gaussian input labels the data, and a *student* multilayer perceptron whose
hidden layers carry any regnorm normalizer (by name) is trained on a finite training set by
minibatch SGD. All seeds (teacher, data, initialisation, minibatch order, dropout masks) are
trained together: every array carries a leading seed axis ``S`` and the linear maps are
batched matrix products over it.

Folding seeds into channels
---------------------------
A normalizer of :mod:`regnorm.normalizers` takes ``(N, C)``. The hidden pre-activations
``h[s, n, c]`` of shape ``(S, N, H)`` are passed to it as ``(N, S*H)``: per-channel
normalizers (BN, PN and BN's mean-only / variance-only variants) then normalize every seed
and unit separately, which is exactly per-seed BN; LN of one seed is GroupNorm with
``G = S`` groups of the folded channels (and GN with ``G`` groups per seed has ``S*G``).
Switchable Norm's six logits are shared by all units of a layer, so seeds cannot share one
SN layer: each seed gets its own, run one after the other behind the same interface.

On dense features, SN's IN statistics are those of a single value (mean ``u``, variance
0): the IN component is degenerate, and SN mixes it with LN and BN as learned. IN itself,
KernelNorm and KNConv need ``(N, C, H, W)`` images and are refused (see
:data:`REFUSED_NORMALIZERS`); weight normalization is ``weights="weight_norm"``.

Student layer (l = 1 .. depth)
------------------------------
.. math::

    u = a_{l-1} W_l^T \\ (\\text{plain}) \\quad\\text{or}\\quad
    u = a_{l-1} (W_l / \\lVert W_l \\rVert_{\\mathrm{row}})^T \\ (\\text{weight norm}),\\qquad
    h = \\mathrm{norm}(u) \\ \\text{or}\\ g \\odot u + b,\\qquad a_l = \\mathrm{ReLU}(h),

and the output is :math:`f = a_L v + c`. With ``"proxy_norm"`` (LN, then Proxy Norm of
article 003) the ReLU is inside the normalizer, :math:`a_l = (\\mathrm{ReLU}(\\gamma\\,
\\mathrm{LN}(u) + \\beta) - m) / \\sqrt{v + \\epsilon}`, and the network applies no ReLU
of its own. Without a normalizer the layer has its own bias
``b`` (and, with weight norm, its own scale ``g``); with one, the normalizer's affine
``gamma, beta`` play that role. Dropout (inverted, rate ``p``) acts on ``a_l`` ("after" the
normalizer; dropout commutes with the ReLU) or on the layer input ``a_{l-1}`` ("before" it).

Training protocol (documented once, used by every experiment)
-------------------------------------------------------------
Loss :math:`L = \\frac1M\\sum_n (f(x_n) - y_n)^2` per seed; ``steps`` SGD updates with a
constant learning rate (the same number of updates whatever the batch size, so batch sizes
differ only in their noise); each epoch a fresh permutation of the training set per seed,
minibatches of ``M`` consecutive samples, the remainder dropped. Evaluation uses inference
mode (BN's running averages, PN's population statistics, no dropout).

PN + gamma decay (C4, C9)
-------------------------
PN layers normalize with population statistics estimated every ``stat_every`` steps from
``n_stat`` fresh unlabeled inputs (~10k in the article), and the loss gains
:math:`\\sum_c \\zeta_c \\gamma_c^2` with :math:`\\zeta_c` of C4 estimated on the same
sample (see :func:`population_zeta`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from regnorm.backend import array_namespace, get_namespace, to_numpy
from regnorm.validation import check_choice, check_integer, check_real, normalize_rng

__all__ = [
    "NORMALIZER_NAMES",
    "REFUSED_NORMALIZERS",
    "WEIGHT_PARAMETRIZATIONS",
    "ReLUNetwork",
    "ReLUTeacher",
    "StudentConfig",
    "TrainingProtocol",
    "TrainingResult",
    "population_zeta",
    "train_students",
]

#: Normalizer names a hidden layer accepts. ``"none"`` is no normalizer; the BN variants are
#: BN with ``center=True, scale=False`` (mean only) and ``center=False, scale=True``
#: (variance only); ``"population_norm"`` is PN with statistics refreshed from a large sample;
#: ``"group_norm"`` has ``StudentConfig.groups`` groups of units per seed; ``"switchable_norm"``
#: is SN with one layer per seed (its logits are shared by all units, so seeds cannot be
#: folded into channels; the logits are trained with the weights' learning rate);
#: ``"proxy_norm"`` is LN (no affine) followed by Proxy Norm with the ReLU inside (article
#: 003), so the layer's output is already the activation; ``"ghost_batch_norm"`` is BN over
#: virtual batches of ``StudentConfig.virtual_batch_size`` samples; ``"sync_batch_norm"`` is
#: synchronized BN with the whole batch as one shard (on one process it computes BN's
#: numbers); ``"batch_renorm"`` is Batch Renormalization with its default clips;
#: ``"rms_norm"`` is RMS normalization of each seed's units.
NORMALIZER_NAMES = (
    "none",
    "batch_norm",
    "batch_norm_mean",
    "batch_norm_variance",
    "population_norm",
    "layer_norm",
    "group_norm",
    "switchable_norm",
    "proxy_norm",
    "ghost_batch_norm",
    "sync_batch_norm",
    "batch_renorm",
    "rms_norm",
)

#: regnorm normalizer layers a dense hidden layer refuses, and why.
REFUSED_NORMALIZERS = {
    "instance_norm": (
        "it normalizes each sample and channel over its (H, W) positions, and a dense "
        "(N, C) feature has a single position: every unit would become beta (zero variance), "
        "so it is degenerate on dense features and needs (N, C, H, W) images"
    ),
    "kernel_norm": (
        "it normalizes over C x k x k kernel windows of (N, C, H, W) images, which dense "
        "(N, C) features do not have"
    ),
    "kn_conv": (
        "it is KernelNorm fused with a convolution and needs (N, C, H, W) images, which "
        "dense (N, C) features do not have"
    ),
    "weight_norm": (
        "it is a parametrization of the weights, not a normalizer of the features: use "
        "StudentConfig(weights='weight_norm')"
    ),
}

#: Parametrizations of a layer's weight matrix.
WEIGHT_PARAMETRIZATIONS = ("plain", "weight_norm")

DROPOUT_POSITIONS = ("after", "before")

ZETA_CURVATURES = ("gauss_newton", "relu")

# Mean and variance of relu(z), z ~ N(0, 1): the teacher's hidden units are centred and
# scaled with them so that the clean label has unit variance.
_RELU_MEAN = 1.0 / math.sqrt(2.0 * math.pi)
_RELU_VAR = 0.5 - 1.0 / (2.0 * math.pi)


def _seed_generators(seed_sequences: Sequence[np.random.SeedSequence], key: int):
    """One generator per seed for stream ``key`` (teacher, data, init, training).

    Derived from the seed's entropy and spawn key without ``spawn`` (which is stateful), so
    the same SeedSequence always gives the same streams.
    """
    return [
        np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 1000 + key))
        )
        for ss in seed_sequences
    ]


def _seed_sequences(n_seeds: int, rng) -> list[np.random.SeedSequence]:
    if isinstance(rng, list | tuple):
        if len(rng) != n_seeds or not all(isinstance(s, np.random.SeedSequence) for s in rng):
            raise TypeError(f"rng must be a seed, a Generator or {n_seeds} SeedSequences")
        return list(rng)
    if isinstance(rng, np.random.SeedSequence):
        return rng.spawn(n_seeds)
    gen = normalize_rng(rng)
    return np.random.SeedSequence(int(gen.integers(2**63))).spawn(n_seeds)


@dataclass(frozen=True)
class ReLUTeacher:
    """A two-layer ReLU teacher, one per seed.

    .. math::

        y = \\frac{1}{\\sqrt{K}} \\sum_{k=1}^K a_k
            \\frac{\\mathrm{ReLU}(w_k^T x) - m}{s} + \\delta\\,\\varepsilon,\\qquad
        x \\sim N(0, I_d),\\ \\lVert w_k \\rVert = 1,\\ a_k = \\pm 1,

    with ``m, s`` the mean and standard deviation of ReLU of a standard normal, so the clean
    label has mean 0 and variance close to 1 (exactly 1 for orthogonal ``w_k``), and label
    noise of variance ``delta**2`` (the floor of the test loss).

    Attributes
    ----------
    weights : ndarray, shape (S, K, d)
    signs : ndarray, shape (S, K)
    delta : float
    """

    weights: np.ndarray
    signs: np.ndarray
    delta: float

    @classmethod
    def random(cls, n_seeds, input_dim, hidden, *, delta=0.5, rng=None) -> ReLUTeacher:
        """Draw ``n_seeds`` teachers (``rng``: seed, Generator or a list of SeedSequences)."""
        n_seeds = check_integer("n_seeds", n_seeds, minimum=1)
        input_dim = check_integer("input_dim", input_dim, minimum=1)
        hidden = check_integer("hidden", hidden, minimum=1)
        delta = check_real("delta", delta, minimum=0.0)
        gens = _seed_generators(_seed_sequences(n_seeds, rng), 0)
        w, a = [], []
        for g in gens:
            wk = g.standard_normal((hidden, input_dim))
            w.append(wk / np.linalg.norm(wk, axis=1, keepdims=True))
            a.append(np.where(np.arange(hidden) % 2 == 0, 1.0, -1.0))
        return cls(np.stack(w), np.stack(a), delta)

    @property
    def n_seeds(self) -> int:
        return self.weights.shape[0]

    def clean(self, x: np.ndarray) -> np.ndarray:
        """Noise-free labels, ``x`` of shape (S, N, d) -> (S, N)."""
        pre = np.einsum("snd,skd->snk", x, self.weights)
        hidden = (np.maximum(pre, 0.0) - _RELU_MEAN) / math.sqrt(_RELU_VAR)
        return np.einsum("snk,sk->sn", hidden, self.signs) / math.sqrt(self.signs.shape[1])

    def sample(self, n, gens) -> tuple[np.ndarray, np.ndarray]:
        """``n`` labelled samples per seed from per-seed generators: (S, n, d), (S, n)."""
        x = np.stack([g.standard_normal((n, self.weights.shape[2])) for g in gens])
        noise = np.stack([g.standard_normal(n) for g in gens])
        return x, self.clean(x) + self.delta * noise


@dataclass(frozen=True)
class StudentConfig:
    """The shape of a student network.

    Parameters
    ----------
    input_dim, width, depth : int
        Input dimension ``d``, hidden width ``H`` and number of hidden layers ``L``.
    normalizers : str or sequence of str
        One name of :data:`NORMALIZER_NAMES` per hidden layer (a single name is used for all).
    weights : {"plain", "weight_norm"}
        Parametrization of the hidden weight matrices.
    dropout : float in [0, 1)
        Dropout rate of every hidden layer (0: none).
    dropout_position : {"after", "before"}
        Dropout after the normalizer (on the layer's output) or before it (on its input).
    groups : int
        Groups of units per seed of ``"group_norm"`` layers; must divide ``width``.
    virtual_batch_size : int
        Samples per virtual batch of ``"ghost_batch_norm"`` layers.
    """

    input_dim: int
    width: int
    depth: int = 2
    normalizers: str | tuple[str, ...] = "batch_norm"
    weights: str = "plain"
    dropout: float = 0.0
    dropout_position: str = "after"
    groups: int = 4
    virtual_batch_size: int = 4

    def __post_init__(self) -> None:
        check_integer("input_dim", self.input_dim, minimum=1)
        check_integer("width", self.width, minimum=1)
        check_integer("depth", self.depth, minimum=1)
        names = self.normalizers
        if isinstance(names, str):
            names = (names,) * self.depth
        names = tuple(names)
        if len(names) != self.depth:
            raise ValueError(
                f"normalizers must name one normalizer per hidden layer ({self.depth}), "
                f"got {len(names)}: {names!r}"
            )
        for name in names:
            if name in REFUSED_NORMALIZERS:
                raise ValueError(
                    f"normalizer={name!r} cannot normalize the dense (N, C) hidden features "
                    f"of this network: {REFUSED_NORMALIZERS[name]}"
                )
            check_choice("normalizer", name, NORMALIZER_NAMES)
        check_integer("groups", self.groups, minimum=1)
        check_integer("virtual_batch_size", self.virtual_batch_size, minimum=1)
        if "group_norm" in names and self.width % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide width={self.width} for 'group_norm'"
            )
        object.__setattr__(self, "normalizers", names)
        check_choice("weights", self.weights, WEIGHT_PARAMETRIZATIONS)
        check_real("dropout", self.dropout, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_choice("dropout_position", self.dropout_position, DROPOUT_POSITIONS)


def _make_normalizer(
    name: str, channels: int, n_seeds: int, xp, groups: int = 1, virtual_batch_size: int = 4
):
    """The regnorm normalizer layer for ``name`` on ``channels = S * H`` folded channels."""
    from regnorm import normalizers as nz

    if name == "batch_norm":
        return nz.BatchNorm(channels, xp=xp)
    if name == "batch_norm_mean":
        return nz.BatchNorm(channels, center=True, scale=False, xp=xp)
    if name == "batch_norm_variance":
        return nz.BatchNorm(channels, center=False, scale=True, xp=xp)
    if name == "population_norm":
        return nz.PopulationNorm(channels, xp=xp)
    if name == "layer_norm":
        # LN of each seed = GroupNorm with one group per seed on the folded channels.
        return nz.GroupNorm(n_seeds, channels, xp=xp)
    if name == "group_norm":
        # G groups of consecutive units per seed = S*G groups of the folded channels.
        return nz.GroupNorm(n_seeds * groups, channels, xp=xp)
    if name == "switchable_norm":
        width = channels // n_seeds
        return _SeedwiseLayer([nz.SwitchableNorm(width, xp=xp) for _ in range(n_seeds)], xp)
    if name == "proxy_norm":
        return _ChainedLayer(
            nz.GroupNorm(n_seeds, channels, affine=False, xp=xp),
            nz.ProxyNorm(channels, activation="relu", xp=xp),
        )
    if name == "ghost_batch_norm":
        return nz.GhostBatchNorm(channels, virtual_batch_size=virtual_batch_size, xp=xp)
    if name == "sync_batch_norm":
        return nz.SyncBatchNorm(channels, xp=xp)
    if name == "batch_renorm":
        return nz.BatchRenorm(channels, xp=xp)
    if name == "rms_norm":
        width = channels // n_seeds
        return _SeedwiseLayer([nz.RMSNorm(width, xp=xp) for _ in range(n_seeds)], xp)
    raise ValueError(f"normalizer={name!r} is not allowed; choose one of {NORMALIZER_NAMES}")


class _SeedwiseLayer:
    """One regnorm layer per seed behind the folded ``(N, S*C)`` interface.

    ``params`` and ``grads`` hold the seeds' arrays concatenated (``(S*k,)`` for a ``(k,)``
    parameter), so the SGD step and :meth:`ReLUNetwork.gamma` see one layer; each forward hands
    every seed's layer its slice of ``params``, so replacing an entry of ``params`` takes effect.
    """

    def __init__(self, layers, xp):
        self.layers, self.xp = layers, xp
        self.params = {
            k: xp.concat([layer.params[k] for layer in layers]) for k in layers[0].params
        }
        self.grads: dict = {}
        self.state: dict = {}

    def _slices(self, k):
        n = self.params[k].shape[0] // len(self.layers)
        return [self.params[k][s * n : (s + 1) * n] for s in range(len(self.layers))]

    def forward(self, x, *, training: bool = True):
        width = x.shape[1] // len(self.layers)
        sliced = {k: self._slices(k) for k in self.params}
        out = []
        for s, layer in enumerate(self.layers):
            for k in self.params:
                layer.params[k] = sliced[k][s]
            out.append(layer.forward(x[:, s * width : (s + 1) * width], training=training))
        return self.xp.concat(out, axis=1)

    def backward(self, dy):
        width = dy.shape[1] // len(self.layers)
        dx = [
            layer.backward(dy[:, s * width : (s + 1) * width])
            for s, layer in enumerate(self.layers)
        ]
        self.grads = {
            k: self.xp.concat([layer.grads[k] for layer in self.layers]) for k in self.params
        }
        return self.xp.concat(dx, axis=1)


class _ChainedLayer:
    """Two regnorm layers applied in turn; the parameters are the second layer's."""

    def __init__(self, first, second):
        self.first, self.second = first, second
        self.params, self.state = second.params, {}

    @property
    def grads(self):
        return self.second.grads

    def forward(self, x, *, training: bool = True):
        return self.second.forward(self.first.forward(x, training=training), training=training)

    def backward(self, dy):
        return self.first.backward(self.second.backward(dy))


def _set_population_statistics(layer, mean, var) -> None:
    """Give a PN layer its population statistics (per channel)."""
    layer.state["mean"] = mean
    layer.state["var"] = var


class ReLUNetwork:
    """``S`` student networks of one :class:`StudentConfig`, trained together.

    Parameters
    ----------
    config : StudentConfig
    n_seeds : int
        Number of independent students ``S`` (the leading axis of every array).
    rng : int, Generator, SeedSequence or list of S SeedSequences
        Initialisation: ``W ~ N(0, 2/fan_in)`` (He), ``v ~ N(0, 1/H)``, biases 0, scales 1.
        With a list of per-seed SeedSequences, seed ``s`` gets the same initial weights
        whatever the other seeds and whatever the normalizers (paired comparisons).
    xp : array namespace or backend name, optional
        Array backend (default NumPy).
    dtype : str
        "float64" (default) or "float32".

    Attributes
    ----------
    params, grads : dict of str -> array
        The network's own parameters (``W1``, ``b1``/``g1``, ..., ``v``, ``c``), shapes with a
        leading ``S`` axis, and their gradients after :meth:`backward`.
    norms : list
        The normalizer layer of each hidden layer (None for ``"none"``); their ``params``
        (``gamma``, ``beta``, shape ``(S*H,)``) are trained too.
    """

    def __init__(self, config: StudentConfig, n_seeds: int, *, rng=None, xp=None, dtype="float64"):
        if not isinstance(config, StudentConfig):
            raise TypeError(f"config must be a StudentConfig, got {type(config).__name__}")
        self.config = config
        self.n_seeds = S = check_integer("n_seeds", n_seeds, minimum=1)
        self.xp = xp = get_namespace(xp)
        check_choice("dtype", dtype, ("float64", "float32"))
        self.dtype = getattr(xp, dtype)
        d, H, L = config.input_dim, config.width, config.depth
        gens = _seed_generators(_seed_sequences(S, rng), 2)
        p: dict[str, np.ndarray] = {}
        fan_in = d
        for layer in range(1, L + 1):
            p[f"W{layer}"] = np.stack(
                [g.standard_normal((H, fan_in)) * math.sqrt(2.0 / fan_in) for g in gens]
            )
            fan_in = H
        p["v"] = np.stack([g.standard_normal(H) / math.sqrt(H) for g in gens])
        p["c"] = np.zeros(S)
        for layer, name in enumerate(config.normalizers, start=1):
            if name == "none":
                p[f"b{layer}"] = np.zeros((S, H))
                if config.weights == "weight_norm":
                    p[f"g{layer}"] = np.ones((S, H))
        self.params = {k: xp.asarray(v, dtype=self.dtype) for k, v in p.items()}
        self.grads: dict = {}
        self.norms = [
            None
            if name == "none"
            else _make_normalizer(name, S * H, S, xp, config.groups, config.virtual_batch_size)
            for name in config.normalizers
        ]
        # Proxy Norm applies the ReLU itself (its output is the normalized activation)
        self._relu = [name != "proxy_norm" for name in config.normalizers]
        self._cache: list = []
        self._validated: list[set] = [set() for _ in self.norms]

    # -- folding the seed axis into channels -------------------------------------------
    def _fold(self, h):
        S, N, H = h.shape
        return self.xp.reshape(self.xp.permute_dims(h, (1, 0, 2)), (N, S * H))

    def _unfold(self, y):
        N = y.shape[0]
        return self.xp.permute_dims(self.xp.reshape(y, (N, self.n_seeds, -1)), (1, 0, 2))

    # The folded (N, S*H) array is built here, so its rank, channel count and dtype are known
    # once the layer's public ``forward`` has validated one input of that shape: later steps
    # call the layer's 4-D core directly on an (N, S*H, 1, 1) fold (the layer's own internal
    # view of an (N, C) input), skipping the per-call input checks and reshapes. The layer's
    # parameter shapes are still checked every step.
    def _norm_forward(self, i: int, u, training: bool):
        norm = self.norms[i]
        S, N, H = u.shape
        key = (N, training, u.dtype)
        # the per-seed SN and LN + Proxy Norm adapters have no 4-D core: always public calls
        if key not in self._validated[i] or not hasattr(norm, "_forward"):
            y = norm.forward(self._fold(u), training=training)
            self._validated[i].add(key)
            return self._unfold(y), False
        norm._check_params()
        u4 = self.xp.reshape(self.xp.permute_dims(u, (1, 0, 2)), (N, S * H, 1, 1))
        y4 = norm._forward(u4, training)
        return self.xp.permute_dims(self.xp.reshape(y4, (N, S, H)), (1, 0, 2)), True

    def _norm_backward(self, i: int, dh, lean: bool):
        norm = self.norms[i]
        if not lean:
            return self._unfold(norm.backward(self._fold(dh)))
        S, N, H = dh.shape
        dh4 = self.xp.reshape(self.xp.permute_dims(dh, (1, 0, 2)), (N, S * H, 1, 1))
        du4 = norm._backward(dh4)
        return self.xp.permute_dims(self.xp.reshape(du4, (N, S, H)), (1, 0, 2))

    def gamma(self, layer: int):
        """The normalizer's ``gamma`` of hidden layer ``layer`` (1-based) as (S, H)."""
        norm = self.norms[layer - 1]
        if norm is None:
            raise ValueError(f"hidden layer {layer} has no normalizer, so no gamma")
        return self.xp.reshape(norm.params["gamma"], (self.n_seeds, -1))

    # -- forward and backward ------------------------------------------------------------
    def forward(self, x, *, training: bool = True, masks=None, keep: bool = True):
        """Outputs ``f`` (S, N) for inputs ``x`` (S, N, d).

        ``masks``: per hidden layer, a 0/1 array (dropout keep masks, shape of the dropped
        activation) or None; used only when ``training``. ``keep=False`` skips storing what
        :meth:`backward` needs.
        """
        xp, cfg, p = self.xp, self.config, self.params
        scale = 1.0 / (1.0 - cfg.dropout) if cfg.dropout > 0 else 1.0
        a = x
        cache = []
        for i in range(cfg.depth):
            layer = i + 1
            mask = masks[i] if (training and masks is not None) else None
            entry = {}
            if mask is not None and cfg.dropout_position == "before":
                entry["mask_in"] = mask
                a = a * mask * scale
            entry["a_in"] = a
            W = p[f"W{layer}"]
            if cfg.weights == "weight_norm":
                wnorm = xp.sqrt(xp.sum(W * W, axis=2, keepdims=True))
                W = W / wnorm
                entry["Wn"], entry["wnorm"] = W, wnorm
            u = xp.matmul(a, xp.permute_dims(W, (0, 2, 1)))
            norm = self.norms[i]
            if norm is None:
                if cfg.weights == "weight_norm":
                    entry["u"] = u
                    u = u * p[f"g{layer}"][:, None, :]
                h = u + p[f"b{layer}"][:, None, :]
            else:
                h, entry["lean"] = self._norm_forward(i, u, training)
            a = xp.maximum(h, 0.0) if self._relu[i] else h
            entry["h"] = h
            if mask is not None and cfg.dropout_position == "after":
                entry["mask_out"] = mask
                a = a * mask * scale
            cache.append(entry)
        f = xp.sum(a * p["v"][:, None, :], axis=2) + p["c"][:, None]
        if keep:
            self._cache = cache
            self._a_last = a
        return f

    def backward(self, df):
        """Gradients of ``sum(df * f)`` w.r.t. all parameters; fills ``grads`` and the
        normalizers' ``grads``. Returns the gradient w.r.t. each hidden layer's normalizer
        output ``h`` (list of (S, N, H)), which :func:`population_zeta` uses."""
        xp, cfg, p = self.xp, self.config, self.params
        scale = 1.0 / (1.0 - cfg.dropout) if cfg.dropout > 0 else 1.0
        g = {"v": xp.sum(df[:, :, None] * self._a_last, axis=1), "c": xp.sum(df, axis=1)}
        da = df[:, :, None] * p["v"][:, None, :]
        dhs = [None] * cfg.depth
        for i in reversed(range(cfg.depth)):
            layer = i + 1
            e = self._cache[i]
            if "mask_out" in e:
                da = da * e["mask_out"] * scale
            dh = xp.where(e["h"] > 0, da, 0.0) if self._relu[i] else da
            dhs[i] = dh
            norm = self.norms[i]
            if norm is None:
                g[f"b{layer}"] = xp.sum(dh, axis=1)
                if cfg.weights == "weight_norm":
                    g[f"g{layer}"] = xp.sum(dh * e["u"], axis=1)
                    du = dh * p[f"g{layer}"][:, None, :]
                else:
                    du = dh
            else:
                du = self._norm_backward(i, dh, e["lean"])
            a_in = e["a_in"]
            dW = xp.matmul(xp.permute_dims(du, (0, 2, 1)), a_in)
            if cfg.weights == "weight_norm":
                Wn, wnorm = e["Wn"], e["wnorm"]
                dW = (dW - Wn * xp.sum(dW * Wn, axis=2, keepdims=True)) / wnorm
                W_eff = Wn
            else:
                W_eff = p[f"W{layer}"]
            g[f"W{layer}"] = dW
            if i > 0:
                da = xp.matmul(du, W_eff)
                if "mask_in" in e:
                    da = da * e["mask_in"] * scale
        self.grads = g
        return dhs

    def loss(self, x, y, *, training: bool = False):
        """Mean squared error per seed, (S,), in inference mode unless ``training``."""
        f = self.forward(x, training=training, keep=False)
        return self.xp.mean((f - y) ** 2, axis=1)


def population_zeta(net: ReLUNetwork, x_stat, M: int, *, curvature: str = "gauss_newton"):
    """Set PN statistics from ``x_stat`` and return each PN layer's gamma-decay ``zeta``.

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
    loss scale. The combination is C4's ``gamma_decay_coefficient`` (issue 3).

    Returns
    -------
    list of (array (S, H) or None)
        ``zeta`` per hidden layer (None where the layer is not PN).
    """
    check_choice("curvature", curvature, ZETA_CURVATURES)
    M = check_integer("M", M, minimum=2)
    xp = net.xp
    cfg = net.config
    # Forward with statistics set layer by layer: temporarily run the network layer-wise.
    a = x_stat
    rhos, zs = [None] * cfg.depth, [None] * cfg.depth
    for i in range(cfg.depth):
        W = net.params[f"W{i + 1}"]
        if cfg.weights == "weight_norm":
            W = W / xp.sqrt(xp.sum(W * W, axis=2, keepdims=True))
        u = xp.matmul(a, xp.permute_dims(W, (0, 2, 1)))
        norm = net.norms[i]
        if cfg.normalizers[i] == "population_norm":
            mu = xp.mean(u, axis=1)
            var = xp.mean((u - mu[:, None, :]) ** 2, axis=1)
            _set_population_statistics(norm, xp.reshape(mu, (-1,)), xp.reshape(var, (-1,)))
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
        dhs = net.backward(xp.ones((net.n_seeds, x_stat.shape[1]), dtype=net.dtype))
    for i in range(cfg.depth):
        if rhos[i] is None:
            continue
        if curvature == "gauss_newton":
            a2 = 2.0 * dhs[i] ** 2
        else:
            gamma = net.gamma(i + 1)[:, None, :]
            beta = xp.reshape(net.norms[i].params["beta"], (net.n_seeds, -1))[:, None, :]
            h = gamma * zs[i] + beta
            a2 = xp.astype(h > 0, net.dtype)
        F = xp.mean(a2 * zs[i] ** 2, axis=1)
        mean_a2 = xp.mean(a2, axis=1)
        out[i] = _gamma_decay_coefficient(M, rho=rhos[i], F_gamma=F, mean_A2=mean_a2)
    return out


def _gamma_decay_coefficient(M, *, rho, F_gamma, mean_A2):
    """C4's zeta per channel, from issue 3's :func:`regnorm.gamma_decay.gamma_decay_coefficient`.

    ADAPTER (issue 3): that function takes scalars, so it is applied channel by channel on
    host copies and the result is returned in the network's namespace and dtype.
    """
    from regnorm.gamma_decay import gamma_decay_coefficient

    xp = array_namespace(rho)
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


@dataclass(frozen=True)
class TrainingProtocol:
    """Minibatch SGD settings (see the module docstring for the protocol).

    Parameters
    ----------
    batch_size : int
        Minibatch size ``M`` (also BN's statistics batch); must not exceed the training set.
    steps : int
        Number of SGD updates.
    lr : float
        Constant learning rate, > 0.
    n_stat : int
        Unlabeled samples for PN statistics and zeta (~10k in the article).
    stat_every : int
        Refresh PN statistics and zeta every this many steps.
    gamma_decay : bool
        Add C4's gamma decay to PN layers (True) or train PN without it (False).
    curvature : {"gauss_newton", "relu"}
        ``A''`` used in zeta (see :func:`population_zeta`).
    """

    batch_size: int
    steps: int
    lr: float
    n_stat: int = 10_000
    stat_every: int = 100
    gamma_decay: bool = True
    curvature: str = "gauss_newton"

    def __post_init__(self) -> None:
        check_integer("batch_size", self.batch_size, minimum=1)
        check_integer("steps", self.steps, minimum=1)
        check_real("lr", self.lr, minimum=0.0, min_inclusive=False)
        check_integer("n_stat", self.n_stat, minimum=2)
        check_integer("stat_every", self.stat_every, minimum=1)
        check_choice("curvature", self.curvature, ZETA_CURVATURES)


@dataclass
class TrainingResult:
    """What :func:`train_students` returns; every array has a leading seed axis (S,).

    Attributes
    ----------
    train_loss, test_loss, gap : ndarray (S,)
        Inference-mode MSE on the (noisy) training set and on a fresh noisy test set, and
        ``gap = test_loss - train_loss``.
    gamma2 : list of (ndarray (S,) or None)
        Mean over units of ``gamma**2`` of each hidden layer's normalizer (None without one).
    zeta : list of (ndarray (S,) or None)
        Mean over units of the last zeta of each PN layer.
    settings : dict
        The configuration and protocol that produced the result.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    gap: np.ndarray
    gamma2: list
    zeta: list
    settings: dict = field(default_factory=dict)


def train_students(
    config: StudentConfig,
    protocol: TrainingProtocol,
    *,
    n_seeds: int,
    n_train: int,
    n_test: int = 4096,
    teacher_hidden: int = 4,
    delta: float = 0.5,
    rng=None,
    xp=None,
) -> TrainingResult:
    """Train ``n_seeds`` students of ``config`` on their teachers' data by minibatch SGD.

    Seed ``s`` (``rng``: int, Generator, SeedSequence or list of per-seed SeedSequences)
    fixes its teacher, training and test data, initial weights and minibatch order, so two
    calls with the same seed and different configs are paired comparisons, and the result
    for a seed does not depend on how many seeds are trained with it.

    Raises
    ------
    ValueError
        ``protocol.batch_size`` larger than ``n_train``; invalid sizes.
    """
    if not isinstance(protocol, TrainingProtocol):
        raise TypeError(f"protocol must be a TrainingProtocol, got {type(protocol).__name__}")
    n_seeds = check_integer("n_seeds", n_seeds, minimum=1)
    n_train = check_integer("n_train", n_train, minimum=1)
    n_test = check_integer("n_test", n_test, minimum=1)
    M = protocol.batch_size
    if M > n_train:
        raise ValueError(
            f"batch_size={M} is larger than the training set (n_train={n_train}); "
            f"choose batch_size <= n_train"
        )
    seqs = _seed_sequences(n_seeds, rng)
    xp = get_namespace(xp)
    teacher = ReLUTeacher.random(n_seeds, config.input_dim, teacher_hidden, delta=delta, rng=seqs)
    data_gens = _seed_generators(seqs, 1)
    x_tr, y_tr = teacher.sample(n_train, data_gens)
    x_te, y_te = teacher.sample(n_test, data_gens)
    net = ReLUNetwork(config, n_seeds, rng=seqs, xp=xp)
    dtype = net.dtype
    X_tr = xp.asarray(x_tr, dtype=dtype)
    Y_tr = xp.asarray(y_tr, dtype=dtype)
    has_pn = "population_norm" in config.normalizers
    X_stat = None
    if has_pn:
        X_stat = xp.asarray(
            np.stack([g.standard_normal((protocol.n_stat, config.input_dim)) for g in data_gens]),
            dtype=dtype,
        )
    train_gens = _seed_generators(seqs, 3)
    d, H = config.input_dim, config.width
    X_flat = xp.reshape(X_tr, (n_seeds * n_train, d))
    Y_flat = xp.reshape(Y_tr, (n_seeds * n_train,))
    offsets = (np.arange(n_seeds) * n_train)[:, None]
    per_epoch = n_train // M
    order = None
    zetas = [None] * config.depth
    for step in range(protocol.steps):
        if has_pn and step % protocol.stat_every == 0:
            zetas = population_zeta(net, X_stat, max(M, 2), curvature=protocol.curvature)
        k = step % per_epoch
        if k == 0:
            order = np.stack([g.permutation(n_train) for g in train_gens]) + offsets
        idx = xp.asarray(np.reshape(order[:, k * M : (k + 1) * M], (-1,)))
        xb = xp.reshape(xp.take(X_flat, idx, axis=0), (n_seeds, M, d))
        yb = xp.reshape(xp.take(Y_flat, idx, axis=0), (n_seeds, M))
        masks = None
        if config.dropout > 0:
            keep = 1.0 - config.dropout
            shape = (M, d) if config.dropout_position == "before" else (M, H)
            masks = []
            for i in range(config.depth):
                if config.dropout_position == "before" and i > 0:
                    shape = (M, H)
                m = np.stack([g.random(shape) < keep for g in train_gens])
                masks.append(xp.asarray(m, dtype=dtype))
        f = net.forward(xb, training=True, masks=masks)
        net.backward(2.0 * (f - yb) / M)
        _sgd_step(net, protocol.lr, zetas if protocol.gamma_decay else None)
    if has_pn:
        zetas = population_zeta(net, X_stat, max(M, 2), curvature=protocol.curvature)
    train = _to_np(net.loss(X_tr, Y_tr))
    test = _to_np(net.loss(xp.asarray(x_te, dtype=dtype), xp.asarray(y_te, dtype=dtype)))
    gamma2 = [
        None
        if n is None or "gamma" not in n.params
        else _to_np(xp.mean(net.gamma(i + 1) ** 2, axis=1))
        for i, n in enumerate(net.norms)
    ]
    zeta_out = [None if z is None else _to_np(xp.mean(z, axis=1)) for z in zetas]
    settings = {
        "config": config,
        "protocol": protocol,
        "n_seeds": n_seeds,
        "n_train": n_train,
        "n_test": n_test,
        "teacher_hidden": teacher_hidden,
        "delta": delta,
    }
    return TrainingResult(train, test, test - train, gamma2, zeta_out, settings)


def _sgd_step(net: ReLUNetwork, lr: float, zetas) -> None:
    # new arrays, not in-place updates: a caller's array set into params is never modified
    for k, gk in net.grads.items():
        net.params[k] = net.params[k] - lr * gk
    for i, norm in enumerate(net.norms):
        if norm is None:
            continue
        for k, gk in norm.grads.items():
            if k == "gamma" and zetas is not None and zetas[i] is not None:
                # d/dgamma of sum_c zeta_c gamma_c^2 (zeta held fixed between refreshes)
                gk = gk + 2.0 * net.xp.reshape(zetas[i], (-1,)) * norm.params["gamma"]
            norm.params[k] = norm.params[k] - lr * gk


def _to_np(x) -> np.ndarray:
    return to_numpy(x)
