"""The training protocol of the ReLU students: minibatch SGD on the teacher's data.

Loss :math:`L = \\frac1M\\sum_n (f(x_n) - y_n)^2` per replicate; ``steps`` SGD updates with a
constant learning rate ``lr`` (the same number of updates whatever the batch size, so batch
sizes differ only in their noise); each epoch a fresh permutation of the training set per
replicate, minibatches of ``M`` consecutive samples, the remainder dropped. Evaluation uses
inference mode (BN's running averages, PN's population statistics, no dropout). PN layers
get their statistics, and the loss C4's gamma decay, from
:func:`~simulations.relu_network.population.set_population_statistics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from regnorm.backend import resolve_backend, to_numpy
from regnorm.validation import check_bool, check_choice, check_integer, check_real

from .network import ReLUNetwork, StudentConfig
from .population import ZETA_CURVATURES, set_population_statistics
from .teacher import (
    DATA_STREAM,
    TRAINING_STREAM,
    ReLUTeacher,
    replicate_generators,
    replicate_sequences,
)

__all__ = ["TrainingProtocol", "TrainingResult", "sgd_step", "train_relu_students"]


@dataclass(frozen=True)
class TrainingProtocol:
    """Minibatch SGD settings (see the module docstring for the protocol).

    Parameters
    ----------
    M : int
        Minibatch size (also BN's statistics batch); must not exceed the training set.
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
        ``A''`` used in zeta (see
        :func:`~simulations.relu_network.population.set_population_statistics`).
    """

    M: int
    steps: int
    lr: float
    n_stat: int = 10_000
    stat_every: int = 100
    gamma_decay: bool = True
    curvature: str = "gauss_newton"

    def __post_init__(self) -> None:
        check_integer("M", self.M, minimum=1)
        check_integer("steps", self.steps, minimum=1)
        check_real("lr", self.lr, minimum=0.0, min_inclusive=False)
        check_integer("n_stat", self.n_stat, minimum=2)
        check_integer("stat_every", self.stat_every, minimum=1)
        check_bool("gamma_decay", self.gamma_decay)
        check_choice("curvature", self.curvature, ZETA_CURVATURES)


@dataclass
class TrainingResult:
    """What :func:`train_relu_students` returns; every array has a leading replicate axis (S,).

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


def train_relu_students(
    config: StudentConfig,
    protocol: TrainingProtocol,
    *,
    repetitions: int,
    n_train: int,
    n_test: int = 4096,
    teacher_hidden: int = 4,
    delta2: float = 0.25,
    rng=None,
    backend=None,
) -> TrainingResult:
    """Train ``repetitions`` students of ``config`` on their teachers' data by minibatch SGD.

    Replicate ``s`` (``rng``: int, Generator, SeedSequence or list of per-replicate
    SeedSequences, see :func:`~simulations.relu_network.teacher.replicate_sequences`) fixes its
    teacher, training and test data, initial weights and minibatch order, so two calls with
    the same seed and different configs are paired comparisons, and the result for a
    replicate does not depend on how many replicates are trained with it. ``delta2`` is the
    variance of the label noise.

    ``backend`` (anything :func:`regnorm.backend.resolve_backend` accepts; None: NumPy) is
    where everything is made and kept: the teacher, its data, the PN statistics sample, the
    initial weights, each epoch's minibatch permutations and the dropout masks are drawn on
    its device (:func:`regnorm.backend.random_generator`: NumPy's numbers on NumPy and
    array-api-strict), the training loop keeps its state there, and only the per-replicate
    results cross to the host, once, at the end.

    Raises
    ------
    ValueError
        ``protocol.M`` larger than ``n_train``; invalid sizes.
    """
    if not isinstance(protocol, TrainingProtocol):
        raise TypeError(f"protocol must be a TrainingProtocol, got {type(protocol).__name__}")
    S = check_integer("repetitions", repetitions, minimum=1)
    n_train = check_integer("n_train", n_train, minimum=1)
    n_test = check_integer("n_test", n_test, minimum=1)
    M = protocol.M
    if M > n_train:
        raise ValueError(
            f"M={M} is larger than the training set (n_train={n_train}); choose M <= n_train"
        )
    seqs = replicate_sequences(S, rng)
    backend = resolve_backend(backend)
    with backend.activate():  # CuPy: kernels run on the current device
        xp = backend.xp
        teacher = ReLUTeacher.random(
            S, config.input_dim, teacher_hidden, delta2=delta2, rng=seqs, backend=backend
        )
        data_gens = replicate_generators(seqs, DATA_STREAM, backend)
        x_tr, y_tr = teacher.sample(n_train, data_gens)
        x_te, y_te = teacher.sample(n_test, data_gens)
        net = ReLUNetwork(config, S, rng=seqs, backend=backend)
        dtype = net.dtype
        X_tr = xp.astype(x_tr, dtype)
        Y_tr = xp.astype(y_tr, dtype)
        has_pn = "population_norm" in config.normalizers
        X_stat = None
        if has_pn:
            X_stat = xp.astype(
                xp.stack(
                    [g.standard_normal((protocol.n_stat, config.input_dim)) for g in data_gens]
                ),
                dtype,
            )
        train_gens = replicate_generators(seqs, TRAINING_STREAM, backend)
        d, H = config.input_dim, config.width
        X_flat = xp.reshape(X_tr, (S * n_train, d))
        Y_flat = xp.reshape(Y_tr, (S * n_train,))
        offsets = xp.arange(S, device=backend.device)[:, None] * n_train
        per_epoch = n_train // M
        order = None
        zetas = [None] * config.depth
        for step in range(protocol.steps):
            if has_pn and step % protocol.stat_every == 0:
                zetas = set_population_statistics(
                    net, X_stat, max(M, 2), curvature=protocol.curvature
                )
            k = step % per_epoch
            if k == 0:
                order = xp.stack([g.permutation(n_train) for g in train_gens]) + offsets
            idx = xp.reshape(order[:, k * M : (k + 1) * M], (-1,))
            xb = xp.reshape(xp.take(X_flat, idx, axis=0), (S, M, d))
            yb = xp.reshape(xp.take(Y_flat, idx, axis=0), (S, M))
            masks = None
            if config.dropout > 0:
                keep = 1.0 - config.dropout
                shape = (M, d) if config.dropout_position == "before" else (M, H)
                masks = []
                for i in range(config.depth):
                    if config.dropout_position == "before" and i > 0:
                        shape = (M, H)
                    m = xp.stack([g.random(shape) < keep for g in train_gens])
                    masks.append(xp.astype(m, dtype))
            f = net.forward(xb, training=True, masks=masks)
            net.backward(2.0 * (f - yb) / M)
            sgd_step(net, protocol.lr, zetas if protocol.gamma_decay else None)
        if has_pn:
            zetas = set_population_statistics(net, X_stat, max(M, 2), curvature=protocol.curvature)
        train = to_numpy(net.loss(X_tr, Y_tr))
        test = to_numpy(net.loss(xp.astype(x_te, dtype), xp.astype(y_te, dtype)))
        gamma2 = [
            None
            if n is None or "gamma" not in n.params
            else to_numpy(xp.mean(net.gamma(i + 1) ** 2, axis=1))
            for i, n in enumerate(net.norms)
        ]
        zeta_out = [None if z is None else to_numpy(xp.mean(z, axis=1)) for z in zetas]
        # on NumPy a non-finite zeta input already raised in the loop (the scalar checks of
        # gamma_decay_coefficient); the device path checks once, here at the edge
        if any(z is not None and not np.all(np.isfinite(z)) for z in zeta_out):
            raise ValueError(
                f"training diverged on backend {backend.spec!r}: the gamma-decay coefficient zeta "
                f"of a population_norm layer is not finite (lr={protocol.lr}); lower lr"
            )
        # an overflow need not raise on the way (NumPy only warns, or not at all): a loss that
        # is not finite is a diverged training, never a result
        if not (np.all(np.isfinite(train)) and np.all(np.isfinite(test))):
            raise ValueError(
                f"training diverged on backend {backend.spec!r}: the train or test loss is not "
                f"finite (lr={protocol.lr}, M={protocol.M}); lower lr"
            )
        settings = {
            "config": config,
            "protocol": protocol,
            "repetitions": S,
            "n_train": n_train,
            "n_test": n_test,
            "teacher_hidden": teacher_hidden,
            "delta2": delta2,
        }
        return TrainingResult(train, test, test - train, gamma2, zeta_out, settings)


def sgd_step(net: ReLUNetwork, lr: float, zetas=None) -> None:
    """One SGD update of every parameter of ``net`` from its last :meth:`~ReLUNetwork.backward`.

    Parameters
    ----------
    net : ReLUNetwork
    lr : float
        Step size.
    zetas : list of (array (S, H) or None), optional
        Per hidden layer, C4's gamma-decay coefficient: the update of that layer's ``gamma``
        then includes the gradient ``2 zeta gamma`` of :math:`\\sum_c \\zeta_c \\gamma_c^2`
        (``zeta`` held fixed between refreshes).
    """
    # new arrays, not in-place updates: a caller's array set into params is never modified
    for k, gk in net.grads.items():
        net.params[k] = net.params[k] - lr * gk
    for i, norm in enumerate(net.norms):
        if norm is None:
            continue
        for k, gk in norm.grads.items():
            if k == "gamma" and zetas is not None and zetas[i] is not None:
                gk = gk + 2.0 * net.xp.reshape(zetas[i], (-1,)) * norm.params["gamma"]
            norm.params[k] = norm.params[k] - lr * gk
