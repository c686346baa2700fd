"""The two-layer ReLU teacher and the per-replicate random streams of the family.

Every replicate ``s`` (one teacher, its data, one student's initialization, minibatch order
and dropout masks) has its own :class:`numpy.random.SeedSequence`; each use draws from its own
stream of it, ``seed_sequence(ss, stream)`` (:mod:`regnorm.seeding`), so a replicate's numbers
do not depend on how many replicates are trained with it, nor on its configuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
    sequences: Sequence[np.random.SeedSequence], stream: int
) -> list[np.random.Generator]:
    """One generator per replicate for ``stream`` (e.g. :data:`DATA_STREAM`)."""
    return [generator(ss, stream) for ss in sequences]


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
    weights : ndarray, shape (S, K, d)
    signs : ndarray, shape (S, K)
    delta2 : float
        Variance of the label noise.
    """

    weights: np.ndarray
    signs: np.ndarray
    delta2: float

    @classmethod
    def random(cls, repetitions, input_dim, hidden, *, delta2=0.25, rng=None) -> ReLUTeacher:
        """Draw ``repetitions`` teachers (``rng``: see :func:`replicate_sequences`)."""
        repetitions = check_integer("repetitions", repetitions, minimum=1)
        input_dim = check_integer("input_dim", input_dim, minimum=1)
        hidden = check_integer("hidden", hidden, minimum=1)
        delta2 = check_real("delta2", delta2, minimum=0.0)
        gens = replicate_generators(replicate_sequences(repetitions, rng), TEACHER_STREAM)
        w, a = [], []
        for g in gens:
            wk = g.standard_normal((hidden, input_dim))
            w.append(wk / np.linalg.norm(wk, axis=1, keepdims=True))
            a.append(np.where(np.arange(hidden) % 2 == 0, 1.0, -1.0))
        return cls(np.stack(w), np.stack(a), delta2)

    @property
    def repetitions(self) -> int:
        return self.weights.shape[0]

    def clean(self, x: np.ndarray) -> np.ndarray:
        """Noise-free labels, ``x`` of shape (S, N, d) -> (S, N)."""
        pre = np.einsum("snd,skd->snk", x, self.weights)
        hidden = (np.maximum(pre, 0.0) - _RELU_MEAN) / math.sqrt(_RELU_VAR)
        return np.einsum("snk,sk->sn", hidden, self.signs) / math.sqrt(self.signs.shape[1])

    def sample(self, n, gens) -> tuple[np.ndarray, np.ndarray]:
        """``n`` labelled samples per replicate from per-replicate generators: (S, n, d), (S, n)."""
        x = np.stack([g.standard_normal((n, self.weights.shape[2])) for g in gens])
        noise = np.stack([g.standard_normal(n) for g in gens])
        return x, self.clean(x) + math.sqrt(self.delta2) * noise
