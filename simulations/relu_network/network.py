"""The student network: a multilayer perceptron whose hidden layers carry a regnorm normalizer.

Folding replicates into channels
--------------------------------
A normalizer of :mod:`regnorm.normalizers` takes ``(N, C)``. The hidden pre-activations
``h[s, n, c]`` of shape ``(S, N, H)`` are passed to it as ``(N, S*H)``: per-channel
normalizers (BN, PN and BN's mean-only / variance-only variants) then normalize every
replicate and unit separately, which is exactly per-replicate BN; LN of one replicate is
GroupNorm with ``G = S`` groups of the folded channels (and GN with ``G`` groups per replicate
has ``S*G``). Switchable Norm's six logits are shared by all units of a layer, so replicates
cannot share one SN layer: each replicate gets its own, run one after the other behind the
same interface (RMS norm likewise).

On dense features, SN's IN statistics are those of a single value (mean ``u``, variance 0):
the IN component is degenerate, and SN mixes it with LN and BN as learned. IN itself,
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
\\mathrm{LN}(u) + \\beta) - m) / \\sqrt{v + \\epsilon}`, and the network applies no ReLU of its
own. Without a normalizer the layer has its own bias ``b`` (and, with weight norm, its own
scale ``g``); with one, the normalizer's affine ``gamma, beta`` play that role. Dropout
(inverted, rate ``p``) acts on ``a_l`` ("after" the normalizer; dropout commutes with the
ReLU) or on the layer input ``a_{l-1}`` ("before" it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from regnorm.backend import resolve_backend
from regnorm.normalizers import Normalizer, registry
from regnorm.validation import check_bool, check_choice, check_integer, check_real

from .teacher import INIT_STREAM, replicate_generators, replicate_sequences

__all__ = [
    "NORMALIZER_NAMES",
    "REFUSED_NORMALIZERS",
    "WEIGHT_PARAMETRIZATIONS",
    "ReLUNetwork",
    "StudentConfig",
]

#: regnorm normalizers a dense hidden layer refuses, and why.
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

#: Normalizers a hidden layer accepts: every name of :mod:`regnorm.normalizers.registry`
#: but the refused ones. ``"none"`` is no normalizer; ``"population_norm"`` is PN with
#: statistics refreshed from a large sample; ``"group_norm"`` has ``StudentConfig.groups``
#: groups of units per replicate; ``"switchable_norm"`` is SN with one layer per replicate (its
#: logits are trained with the weights' learning rate); ``"proxy_norm"`` is LN (no affine)
#: followed by Proxy Norm with the ReLU inside (article 003), so the layer's output is already
#: the activation; ``"ghost_batch_norm"`` is BN over virtual batches of
#: ``StudentConfig.virtual_batch_size`` samples; ``"sync_batch_norm"`` is synchronized BN with
#: the whole batch as one shard (on one process it computes BN's numbers);
#: ``"batch_renorm"`` is Batch Renormalization with its default clips; ``"rms_norm"`` is RMS
#: normalization of each replicate's units.
NORMALIZER_NAMES = tuple(n for n in registry.NORMALIZER_NAMES if n not in REFUSED_NORMALIZERS)

#: Parametrizations of a layer's weight matrix.
WEIGHT_PARAMETRIZATIONS = ("plain", "weight_norm")

DROPOUT_POSITIONS = ("after", "before")


@dataclass(frozen=True)
class StudentConfig:
    """The shape of a student network.

    Parameters
    ----------
    input_dim, width, depth : int
        Input dimension ``d``, hidden width ``H`` and number of hidden layers ``L``.
    normalizers : str or sequence of str
        One normalizer per hidden layer (a single name is used for all): a name of
        :data:`NORMALIZER_NAMES`, or its label or class name (``"BN"``, ``"BatchNorm"``);
        stored as the canonical names.
    weights : {"plain", "weight_norm"}
        Parametrization of the hidden weight matrices.
    dropout : float in [0, 1)
        Dropout rate of every hidden layer (0: none).
    dropout_position : {"after", "before"}
        Dropout after the normalizer (on the layer's output) or before it (on its input).
    groups : int
        Groups of units per replicate of ``"group_norm"`` layers; must divide ``width``.
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
        if not isinstance(names, Sequence):
            raise TypeError(
                "normalizers must be a normalizer name or a sequence of names, got "
                f"{type(names).__name__} {names!r}"
            )
        given = tuple(names)
        if len(given) != self.depth:
            raise ValueError(
                f"normalizers must name one normalizer per hidden layer ({self.depth}), "
                f"got {len(given)}: {given!r}"
            )
        names = tuple(registry.canonical_name(n) for n in given)
        for spelled, name in zip(given, names, strict=True):
            if name in REFUSED_NORMALIZERS:
                alias = "" if spelled == name else f" ({name})"
                raise ValueError(
                    f"normalizer={spelled!r}{alias} cannot normalize the dense (N, C) hidden "
                    f"features of this network: {REFUSED_NORMALIZERS[name]}"
                )
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


def _make_layer(name: str, config: StudentConfig, repetitions: int, backend):
    """The normalizer layer for ``name`` on the ``S * H`` folded channels (None for "none"),
    on ``backend`` (a :class:`regnorm.backend.Backend`)."""
    xp = backend
    S, H = repetitions, config.width
    if name == "layer_norm":
        # LN of each replicate = GroupNorm with one group per replicate on the folded channels
        return registry.make_normalizer("group_norm", S * H, num_groups=S, xp=xp)
    if name == "group_norm":
        # G groups of consecutive units per replicate = S*G groups of the folded channels
        return registry.make_normalizer("group_norm", S * H, num_groups=S * config.groups, xp=xp)
    if name in ("switchable_norm", "rms_norm"):
        return _ReplicatewiseLayer(
            [registry.make_normalizer(name, H, xp=xp) for _ in range(S)], backend.xp
        )
    if name == "proxy_norm":
        return _ChainedLayer(
            registry.make_normalizer("group_norm", S * H, num_groups=S, affine=False, xp=xp),
            registry.make_normalizer("proxy_norm", S * H, activation="relu", xp=xp),
        )
    if name == "ghost_batch_norm":
        return registry.make_normalizer(
            name, S * H, virtual_batch_size=config.virtual_batch_size, xp=xp
        )
    return registry.make_normalizer(name, S * H, xp=xp)


class _ReplicatewiseLayer:
    """One regnorm layer per replicate behind the folded ``(N, S*C)`` interface.

    ``params`` and ``grads`` hold the replicates' arrays concatenated (``(S*k,)`` for a
    ``(k,)`` parameter), so the SGD step and :meth:`ReLUNetwork.gamma` see one layer; each
    forward hands every replicate's layer its slice of ``params``, so replacing an entry of
    ``params`` takes effect.
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


class ReLUNetwork:
    """``S`` student networks of one :class:`StudentConfig`, trained together.

    Parameters
    ----------
    config : StudentConfig
    repetitions : int
        Number of independent students ``S`` (the leading axis of every array).
    rng : int, Generator, SeedSequence or list of S SeedSequences
        Initialization: ``W ~ N(0, 2/fan_in)`` (He), ``v ~ N(0, 1/H)``, biases 0, scales 1.
        With a list of per-replicate SeedSequences, replicate ``s`` gets the same initial
        weights whatever the other replicates and whatever the normalizers (paired
        comparisons); see :func:`~simulations.relu_network.teacher.replicate_sequences`.
    backend : spec or Backend, optional
        Where the parameters live and the initial weights are drawn: anything
        :func:`regnorm.backend.resolve_backend` accepts (default NumPy). The draws go through
        :func:`regnorm.backend.random_generator` (NumPy's numbers on NumPy and
        array-api-strict), in float64, then cast to ``dtype``.
    dtype : str
        "float64" (default) or "float32".
    fast_path : bool
        After a layer's first checked call on an input shape, call it without its input
        checks (``check=False``; bit-identical). ``False`` makes every call a checked one.

    Attributes
    ----------
    params, grads : dict of str -> array
        The network's own parameters (``W1``, ``b1``/``g1``, ..., ``v``, ``c``), shapes with a
        leading ``S`` axis, and their gradients after :meth:`backward`.
    norms : list
        The normalizer layer of each hidden layer (None for ``"none"``); their ``params``
        (``gamma``, ``beta``, shape ``(S*H,)``) are trained too.
    """

    def __init__(
        self,
        config: StudentConfig,
        repetitions: int,
        *,
        rng=None,
        backend=None,
        dtype="float64",
        fast_path: bool = True,
    ):
        if not isinstance(config, StudentConfig):
            raise TypeError(f"config must be a StudentConfig, got {type(config).__name__}")
        self.config = config
        self.repetitions = S = check_integer("repetitions", repetitions, minimum=1)
        self.backend = backend = resolve_backend(backend)
        self.xp = xp = backend.xp
        check_choice("dtype", dtype, ("float64", "float32"))
        self.dtype = getattr(xp, dtype)
        self.fast_path = check_bool("fast_path", fast_path)
        d, H, L = config.input_dim, config.width, config.depth
        gens = replicate_generators(replicate_sequences(S, rng), INIT_STREAM, backend)
        p: dict = {}
        fan_in = d
        for layer in range(1, L + 1):
            p[f"W{layer}"] = xp.stack(
                [g.standard_normal((H, fan_in)) * math.sqrt(2.0 / fan_in) for g in gens]
            )
            fan_in = H
        p["v"] = xp.stack([g.standard_normal(H) / math.sqrt(H) for g in gens])
        zeros = {"device": backend.device, "dtype": xp.float64}
        p["c"] = xp.zeros(S, **zeros)
        for layer, name in enumerate(config.normalizers, start=1):
            if name == "none":
                p[f"b{layer}"] = xp.zeros((S, H), **zeros)
                if config.weights == "weight_norm":
                    p[f"g{layer}"] = xp.ones((S, H), **zeros)
        self.params = {k: xp.astype(v, self.dtype) for k, v in p.items()}
        self.grads: dict = {}
        self.norms = [_make_layer(name, config, S, backend) for name in config.normalizers]
        # Proxy Norm applies the ReLU itself (its output is the normalized activation)
        self._relu = [name != "proxy_norm" for name in config.normalizers]
        self._cache: list = []
        self._validated: list[set] = [set() for _ in self.norms]

    # -- folding the replicate axis into channels ----------------------------------------
    def _fold(self, h):
        S, N, H = h.shape
        return self.xp.reshape(self.xp.permute_dims(h, (1, 0, 2)), (N, S * H))

    def _unfold(self, y):
        N = y.shape[0]
        return self.xp.permute_dims(self.xp.reshape(y, (N, self.repetitions, -1)), (1, 0, 2))

    # The folded (N, S*H) array is built here, so its rank, channel count and dtype are known
    # once the layer's checked ``forward`` has accepted one input of that shape: later steps
    # take the layer's fast path (``check=False``) on an (N, S*H, 1, 1) fold, the layer's own
    # view of an (N, C) input, which skips the per-call input checks and reshapes. The SGD step
    # replaces the layer's parameters, so their shapes are still checked every step.
    def _norm_forward(self, i: int, u, training: bool):
        norm = self.norms[i]
        S, N, H = u.shape
        key = (N, training, u.dtype)
        # the per-replicate SN and LN + Proxy Norm adapters have no fast path
        if not (self.fast_path and key in self._validated[i] and isinstance(norm, Normalizer)):
            y = norm.forward(self._fold(u), training=training)
            self._validated[i].add(key)
            return self._unfold(y), False
        norm.check_params()
        u4 = self.xp.reshape(self.xp.permute_dims(u, (1, 0, 2)), (N, S * H, 1, 1))
        y4 = norm.forward(u4, training=training, check=False)
        return self.xp.permute_dims(self.xp.reshape(y4, (N, S, H)), (1, 0, 2)), True

    def _norm_backward(self, i: int, dh, lean: bool):
        norm = self.norms[i]
        if not lean:
            return self._unfold(norm.backward(self._fold(dh)))
        S, N, H = dh.shape
        dh4 = self.xp.reshape(self.xp.permute_dims(dh, (1, 0, 2)), (N, S * H, 1, 1))
        du4 = norm.backward(dh4, check=False)
        return self.xp.permute_dims(self.xp.reshape(du4, (N, S, H)), (1, 0, 2))

    @property
    def hidden(self) -> list:
        """Each hidden layer's ``h`` (the normalizer's output, before the network's ReLU) in the
        last :meth:`forward` that kept its intermediates, as (S, N, H) arrays."""
        return [entry["h"] for entry in self._cache]

    def gamma(self, layer: int):
        """The normalizer's ``gamma`` of hidden layer ``layer`` (1-based) as (S, H)."""
        norm = self.norms[layer - 1]
        if norm is None:
            raise ValueError(f"hidden layer {layer} has no normalizer, so no gamma")
        return self.xp.reshape(norm.params["gamma"], (self.repetitions, -1))

    def pre_activation(self, layer: int, a):
        """``u`` of hidden layer ``layer`` (1-based) for its input ``a`` (S, N, fan_in)."""
        W = self.params[f"W{layer}"]
        if self.config.weights == "weight_norm":
            W = W / self.xp.sqrt(self.xp.sum(W * W, axis=2, keepdims=True))
        return self.xp.matmul(a, self.xp.permute_dims(W, (0, 2, 1)))

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
        output ``h`` (list of (S, N, H)), the curvature that
        :func:`~simulations.relu_network.population.set_population_statistics` uses."""
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
        """Mean squared error per replicate, (S,), in inference mode unless ``training``."""
        f = self.forward(x, training=training, keep=False)
        return self.xp.mean((f - y) ** 2, axis=1)
