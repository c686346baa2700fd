"""The chunked Monte-Carlo engine of the batch-noise estimators: blocks, chunks, power sums.

An estimator simulates ``trials`` independent batches with a **kernel**
``kernel(generator, n, *args) -> array`` that draws ``n`` batches from ``generator`` and
returns their power sums (:func:`power_sums`). The batches are cut into **blocks** of a fixed
number (a function of ``M`` and the estimator only, :func:`block_size`); block ``j`` draws
from its own stream, ``regnorm.seeding.generator(root, j)``, i.e.
``SeedSequence(root.entropy, spawn_key=(*root.spawn_key, j))``. Blocks are grouped into
chunks of ``chunk_blocks`` blocks, one task each on a :mod:`regnorm.sweeps` executor, and the
per-block sums are added in block order, so a given seed gives bit-identical results whatever
the chunking or the executor, and memory is bounded by one block whatever ``trials`` is.

Why not :func:`regnorm.sweeps.sweep`: a sweep task returns a row of scalars for one parameter
point and repetition, with the stream ``seed_sequence(seed, params, rep)`` under an integer
root. Here one task returns the arrays of power sums of several blocks, each block with its
own stream under a ``SeedSequence`` root (a claim's ``ctx.seed_sequence(...)``), and the
estimate is their ordered sum. The engine shares the sweep's executors and seed rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regnorm.backend import Backend, array_namespace, device_of, random_generator, resolve_backend
from regnorm.estimates import Estimate
from regnorm.seeding import generator, seed_sequence
from regnorm.sweeps import InProcessExecutor, resolve_executor
from regnorm.validation import check_integer

__all__ = [
    "BLOCK_DRAWS",
    "GAUSSIAN_BLOCK",
    "block_size",
    "device_backend",
    "mean_from_sums",
    "power_sums",
    "root_seed",
    "simulate",
    "variance_from_sums",
]

#: Random values per block for the full-batch estimators (8 MB of float64).
BLOCK_DRAWS = 2**20
#: Batches per block for the two-draw Gaussian estimator of C1.
GAUSSIAN_BLOCK = 2**18


def root_seed(rng: Any) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of the block streams.

    Parameters
    ----------
    rng : None, int, list of int, SeedSequence or Generator
        None or int seed(s) as given; a ``SeedSequence`` as is; a ``Generator`` spawns a child
        (so two calls with one generator simulate different batches).
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.seed_seq.spawn(1)[0]
    ints = rng if isinstance(rng, list | tuple) else [rng]
    if rng is None or all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in ints
    ):
        if rng is not None and (len(ints) == 0 or min(ints) < 0):
            raise ValueError(
                f"rng must be a non-negative int seed (or a list of them), got {rng!r}"
            )
        if isinstance(rng, int | np.integer):
            return seed_sequence(int(rng))
        # a list of seeds is one entropy pool; seed_sequence takes a single root integer
        return np.random.SeedSequence(rng)
    raise TypeError(
        "rng must be None, a non-negative int seed (or a list of them), a SeedSequence or a "
        f"Generator, got {rng!r}"
    )


def block_size(M: int, *, gaussian_two_draw: bool = False) -> int:
    """Batches per block: fixed by ``M`` (and the estimator), never by the chunking."""
    if gaussian_two_draw:
        return GAUSSIAN_BLOCK
    return max(1, BLOCK_DRAWS // M)


def device_backend(backend: Any, executor: Any = None) -> Backend | None:
    """The backend an estimator's ``backend`` names, or None for the NumPy path.

    Parameters
    ----------
    backend : anything :func:`regnorm.backend.resolve_backend` accepts
        None and ``"numpy"`` mean the NumPy path (its kernels, any executor).
    executor : None or executor spec
        Where the chunks run; a device backend runs its blocks in this process, so only
        None, ``"inprocess"`` / ``"serial"`` or an in-process executor go with it.

    Raises
    ------
    ValueError, TypeError, regnorm.backend.BackendUnavailableError
        A backend that cannot be resolved (as :func:`regnorm.backend.resolve_backend`), or
        a device backend with an executor that runs tasks elsewhere.
    """
    b = resolve_backend(backend)
    if b.name == "numpy":
        return None
    if executor is not None and not isinstance(resolve_executor(executor), InProcessExecutor):
        raise ValueError(
            f"executor={executor!r} with backend={b.spec!r}: on a device backend the blocks "
            "run in this process, where their sums stay on the device; allowed: "
            "executor=None or 'inprocess' (or backend=None for NumPy on any executor)"
        )
    return b


@dataclass(frozen=True)
class _Chunk:
    """One executor task: the blocks ``(j, batches)`` of a chunk, under the ``root`` seed."""

    kernel: Callable
    args: tuple
    root: np.random.SeedSequence
    blocks: tuple[tuple[int, int], ...]


def _run_chunk(chunk: _Chunk) -> list[np.ndarray]:
    """The kernel's arrays for each block of a chunk (module level: picklable)."""
    return [chunk.kernel(generator(chunk.root, j), n, *chunk.args) for j, n in chunk.blocks]


def simulate(
    kernel: Callable,
    args: tuple,
    trials: int,
    block: int,
    *,
    rng: Any = None,
    chunk_blocks: int = 4,
    executor: Any = None,
    backend: Backend | None = None,
) -> np.ndarray:
    """Sum of ``kernel(generator_j, n_j, *args)`` over the blocks of ``trials`` batches.

    Parameters
    ----------
    kernel : callable
        Module-level function (the executor may pickle it) returning an array of sums.
    args : tuple
        Its arguments after the generator and the number of batches.
    trials : int
        Batches in all; block ``j`` has ``min(block, trials - j block)`` of them.
    block : int
        Batches per block (:func:`block_size`).
    rng : see :func:`root_seed`
    chunk_blocks : int
        Blocks per executor task, ``>= 1``; changes nothing in the result.
    executor : None or executor spec
        See :func:`regnorm.sweeps.resolve_executor` (None: in this process).
    backend : Backend or None
        None: the NumPy path. A device backend (from :func:`device_backend`, which also
        checks the executor): the kernel gets the block's
        :class:`regnorm.backend.ArrayGenerator` and returns its sums on the device.

    Returns
    -------
    numpy.ndarray
        The per-block arrays added in block order.
    """
    chunk_blocks = check_integer("chunk_blocks", chunk_blocks, minimum=1)
    root = root_seed(rng)
    n_blocks = -(-trials // block)
    blocks = [(j, min(block, trials - j * block)) for j in range(n_blocks)]
    if backend is not None:
        return _simulate_on_device(kernel, args, root, blocks, backend)
    tasks = [
        _Chunk(kernel, args, root, tuple(blocks[i : i + chunk_blocks]))
        for i in range(0, n_blocks, chunk_blocks)
    ]
    results: list[list[np.ndarray] | None] = [None] * len(tasks)
    with resolve_executor(executor) as ex:
        for i, res in ex.imap_unordered(_run_chunk, tasks):
            results[i] = res
    # added in block order, not in the order tasks finish: the same bits on every executor
    total = None
    for chunk in results:
        for arr in chunk:
            total = arr.copy() if total is None else total + arr
    return total


def _simulate_on_device(
    kernel: Callable, args: tuple, root: np.random.SeedSequence, blocks: list, backend: Backend
) -> np.ndarray:
    # The running total stays on the device: one transfer of the sums, after the last block.
    total = None
    with backend.activate():
        for j, n in blocks:
            arr = kernel(random_generator(backend, seed_sequence(root, j)), n, *args)
            total = arr if total is None else total + arr
    return backend.to_numpy(total)


def power_sums(d: Any, order: int) -> Any:
    """``[n, sum d, sum d^2, ..., sum d^order]`` over the last axis, in ``d``'s namespace
    and on its device.

    ``d`` is the values minus a shift close to their mean, so that the variance from the sums
    does not cancel catastrophically.
    """
    xp = array_namespace(d)
    out = [xp.full(d.shape[:-1], float(d.shape[-1]), dtype=d.dtype, device=device_of(d))]
    p = xp.ones_like(d)
    for _ in range(order):
        p = p * d
        out.append(xp.sum(p, axis=-1))
    return xp.stack(out, axis=-1)


def mean_from_sums(ps: np.ndarray, shift: float | np.ndarray) -> Estimate:
    """The mean of the values and its standard error ``s/sqrt(n)`` from their power sums.

    .. math::

        \\bar x = c + \\frac{S_1}{n}, \\qquad
        \\mathrm{se} = \\sqrt{\\frac{S_2 - S_1^2/n}{n (n - 1)}}

    with ``S_k`` the sums of ``(x - c)^k`` and ``c`` the ``shift``. Arrays broadcast over the
    leading axes of ``ps`` (a grid of ``z`` or ``gamma``). ``dof`` is None: the mean of
    thousands to millions of batches is a large-sample normal estimate.
    """
    n, s1, s2 = ps[..., 0], ps[..., 1], ps[..., 2]
    mean_d = s1 / n
    var = np.maximum(s2 - s1 * mean_d, 0.0) / (n - 1)
    return Estimate(shift + mean_d, np.sqrt(var / n), None)


def variance_from_sums(ps: np.ndarray) -> Estimate:
    """The sample variance (``n - 1`` denominator) and its delta-method standard error.

    .. math::

        \\hat v = \\frac{n}{n - 1} m_2, \\qquad \\mathrm{se} = \\sqrt{\\frac{m_4 - m_2^2}{n}}

    with ``m_k`` the central moments from the power sums of order 4; large-sample normal,
    so ``dof`` is None.
    """
    n, s1, s2, s3, s4 = (ps[..., k] for k in range(5))
    a = s1 / n
    m2 = s2 / n - a * a
    m4 = s4 / n - 4 * a * s3 / n + 6 * a * a * s2 / n - 3 * a**4
    return Estimate(m2 * n / (n - 1), np.sqrt(np.maximum(m4 - m2 * m2, 0.0) / n), None)
