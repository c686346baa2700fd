"""The two-layer ReLU teacher and the per-replicate random streams of the family.

Every replicate ``s`` (one teacher, its data, one student's initialization, minibatch order
and dropout masks) has its own :class:`numpy.random.SeedSequence`; each use draws from its own
stream of it, ``seed_sequence(ss, stream)`` (:mod:`regnorm.seeding`), so a replicate's numbers
do not depend on how many replicates are trained with it, nor on its configuration.

The teacher lives on a backend (``backend=``: anything :func:`regnorm.backend.resolve_backend`
accepts; NumPy by default) and its draws are made on that backend's device through
:func:`regnorm.backend.random_generator`, which on NumPy and array-api-strict gives NumPy's own
numbers for the same stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regnorm.backend import ArrayGenerator, Backend, random_generator, resolve_backend
from regnorm.seeding import generator, seed_sequence
from regnorm.validation import check_integer, check_real, normalize_rng

__all__ = ["ReLUTeacher", "replicate_generators", "replicate_sequences"]

#: Stream numbers of one replicate's SeedSequence. They start at 1000 so that they never
#: coincide with the replicates' own spawn keys (0, 1, ...) under a common root.
TEACHER_STREAM, DATA_STREAM, INIT_STREAM, TRAINING_STREAM = 1000, 1001, 1002, 1003

# Mean and variance of relu(z), z ~ N(0, 1): the teacher's hidden units are centred and
# scaled with them so that the clean label has unit variance.
_RELU_MEAN = 1.0 / math.sqrt(2.0 * math.pi)
_RELU_VAR = 0.5 - 1.0 / (2.0 * math.pi)


def replicate_sequences(repetitions: int, rng) -> list[np.random.SeedSequence]:
    """One SeedSequence per replicate.

    Parameters
    ----------
    repetitions : int
        Number of replicates ``S``.
    rng : int, Generator, SeedSequence or sequence of ``S`` SeedSequences
        A list is used as is (replicate ``s`` gets ``rng[s]``: paired designs pass the same
        list to every configuration); a SeedSequence ``ss`` gives ``seed_sequence(ss, s)``
        (its first ``S`` children, whatever it spawned before); a seed or Generator first
        draws a root seed from :func:`regnorm.validation.normalize_rng`.
    """
    if isinstance(rng, list | tuple):
        if len(rng) != repetitions or not all(isinstance(s, np.random.SeedSequence) for s in rng):
            raise TypeError(
                f"rng must be a seed, a Generator, a SeedSequence or {repetitions} "
                f"SeedSequences (one per replicate), got {type(rng).__name__} of {len(rng)}"
            )
        return list(rng)
    if not isinstance(rng, np.random.SeedSequence):
        rng = int(normalize_rng(rng).integers(2**63))
    return [seed_sequence(rng, s) for s in range(repetitions)]


def replicate_generators(
    sequences: Sequence[np.random.SeedSequence], stream: int, backend: Any = None
) -> list[np.random.Generator] | list[ArrayGenerator]:
    """One generator per replicate for ``stream`` (e.g. :data:`DATA_STREAM`).

    NumPy generators when ``backend`` is None; otherwise generators of that backend
    (:func:`regnorm.backend.random_generator` of the same stream), drawing on its device.
    """
    if backend is None:
        return [generator(ss, stream) for ss in sequences]
    backend = resolve_backend(backend)
    return [random_generator(backend, seed_sequence(ss, stream)) for ss in sequences]


@dataclass(frozen=True)
class ReLUTeacher:
    """A two-layer ReLU teacher, one per replicate.

    .. math::

        y = \\frac{1}{\\sqrt{K}} \\sum_{k=1}^K a_k
            \\frac{\\mathrm{ReLU}(w_k^T x) - m}{s} + \\sqrt{\\delta^2}\\,\\varepsilon,\\qquad
        x \\sim N(0, I_d),\\ \\lVert w_k \\rVert = 1,\\ a_k = \\pm 1,

    with ``m, s`` the mean and standard deviation of ReLU of a standard normal, so the clean
    label has mean 0 and variance close to 1 (exactly 1 for orthogonal ``w_k``), and label
    noise of variance ``delta2`` (the floor of the test loss).

    Attributes
    ----------
    weights : array, shape (S, K, d)
    signs : array, shape (S, K)
    delta2 : float
        Variance of the label noise.
    backend : Backend
        Where ``weights`` and ``signs`` live (NumPy when built without one).
    """

    weights: Any
    signs: Any
    delta2: float
    backend: Backend = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "backend", resolve_backend(self.backend))

    @classmethod
    def random(
        cls, repetitions, input_dim, hidden, *, delta2=0.25, rng=None, backend=None
    ) -> ReLUTeacher:
        """Draw ``repetitions`` teachers (``rng``: see :func:`replicate_sequences`) on
        ``backend`` (anything :func:`regnorm.backend.resolve_backend` accepts; None: NumPy)."""
        repetitions = check_integer("repetitions", repetitions, minimum=1)
        input_dim = check_integer("input_dim", input_dim, minimum=1)
        hidden = check_integer("hidden", hidden, minimum=1)
        delta2 = check_real("delta2", delta2, minimum=0.0)
        backend = resolve_backend(backend)
        xp = backend.xp
        seqs = replicate_sequences(repetitions, rng)
        gens = replicate_generators(seqs, TEACHER_STREAM, backend)
        w = []
        for g in gens:
            wk = g.standard_normal((hidden, input_dim))
            # sqrt of the sum of squares: the reduction numpy.linalg.norm makes on NumPy
            w.append(wk / xp.sqrt(xp.sum(wk * wk, axis=1, keepdims=True)))
        signs = np.where(np.arange(hidden) % 2 == 0, 1.0, -1.0)
        a = backend.asarray(np.tile(signs, (repetitions, 1)), dtype=xp.float64)
        return cls(xp.stack(w), a, delta2, backend)

    @property
    def repetitions(self) -> int:
        return self.weights.shape[0]

    def clean(self, x):
        """Noise-free labels, ``x`` of shape (S, N, d) -> (S, N), on the teacher's backend."""
        xp = self.backend.xp
        if self.backend.name == "numpy":
            # NumPy keeps its einsum contractions (their rounding is NumPy's recorded numbers)
            pre = np.einsum("snd,skd->snk", x, self.weights)
        else:
            pre = xp.matmul(x, xp.permute_dims(self.weights, (0, 2, 1)))
        hidden = (xp.maximum(pre, 0.0) - _RELU_MEAN) / math.sqrt(_RELU_VAR)
        scale = math.sqrt(self.signs.shape[1])
        if self.backend.name == "numpy":
            return np.einsum("snk,sk->sn", hidden, self.signs) / scale
        return xp.sum(hidden * self.signs[:, None, :], axis=2) / scale

    def sample(self, n, gens) -> tuple[Any, Any]:
        """``n`` labelled samples per replicate from per-replicate generators: (S, n, d), (S, n).

        ``gens``: one generator per replicate, NumPy's or of the teacher's backend
        (:func:`replicate_generators`); a NumPy generator is drawn from on the host and its
        numbers moved to the backend's device.
        """
        xp = self.backend.xp
        gens = [random_generator(self.backend, g) for g in gens]
        x = xp.stack([g.standard_normal((n, self.weights.shape[2])) for g in gens])
        noise = xp.stack([g.standard_normal(n) for g in gens])
        return x, self.clean(x) + math.sqrt(self.delta2) * noise
