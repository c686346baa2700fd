"""The seed rule: every random stream of regnorm derives from one root seed and a key.

A stream is ``seed_sequence(root, *key)``: a :class:`numpy.random.SeedSequence` with the root's
entropy and the root's spawn key extended by the key. An integer key item is appended as is;
a name (a string), a tuple/list or a mapping of parameters is hashed to four 32-bit words
(:func:`stable_key`). So

* ``seed_sequence(s, i)`` is ``SeedSequence(s).spawn(n)[i]`` (a fresh root's ``i``-th child),
* a sweep point's stream is ``seed_sequence(root, params, rep)``,
* a claims check's stream is ``seed_sequence(seed, ("C1", 32))``,

and a stream depends only on the root seed and its key: never on the order streams are made
in, the executor, the number of workers, or which other streams exist. Two computations that
must see the same random numbers (a paired design: the same data set for two normalizers) use
the same key; keys that differ give independent streams.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["canonical", "generator", "seed_sequence", "stable_key", "task_id"]


def _canonical_value(v: Any) -> Any:
    if isinstance(v, bool | str) or v is None:
        return v
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        v = float(v)
        if v.is_integer() and math.isfinite(v):
            # 32.0 and 32 are the same point of a grid
            return int(v)
        return repr(v)
    if isinstance(v, tuple | list):
        return [_canonical_value(x) for x in v]
    raise TypeError(
        f"sweep parameter value {v!r} ({type(v).__name__}) is not allowed; "
        "use int, float, str, bool or None"
    )


def canonical(params: Mapping[str, Any]) -> str:
    """A canonical JSON text of a parameter point (sorted keys, exact float reprs)."""
    return json.dumps({str(k): _canonical_value(v) for k, v in sorted(params.items())})


def stable_key(values: Any) -> tuple[int, ...]:
    """Four 32-bit words hashed from ``values`` (a mapping, or a tuple of ints/strings)."""
    text = (
        canonical(values)
        if isinstance(values, Mapping)
        else json.dumps([_canonical_value(v) for v in values])
    )
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def _key_words(item: Any) -> tuple[int, ...]:
    if isinstance(item, bool):
        raise TypeError(f"a seed key item must be an int, a name or parameters, got {item!r}")
    if isinstance(item, numbers.Integral):
        if item < 0:
            raise ValueError(f"an integer seed key item must be >= 0, got {item!r}")
        return (int(item),)
    if isinstance(item, str):
        return stable_key((item,))
    if isinstance(item, Mapping | tuple | list):
        return stable_key(item)
    raise TypeError(
        f"a seed key item must be an int >= 0, a str, a tuple/list or a mapping, "
        f"got {item!r} ({type(item).__name__})"
    )


def seed_sequence(root: int | np.random.SeedSequence, *key: Any) -> np.random.SeedSequence:
    """The stream of ``key`` under ``root``.

    Parameters
    ----------
    root : int or numpy.random.SeedSequence
        A non-negative root seed, or a ``SeedSequence`` whose entropy, spawn key and pool size
        are kept (its own spawn counter is not used: the result does not depend on what was
        spawned from it before).
    *key : int, str, tuple, list or mapping
        Appended to the spawn key in order: an ``int >= 0`` as one word, anything else as the
        four words of :func:`stable_key`.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(entropy, spawn_key=(*root_spawn_key, *words), pool_size=...)``.

    Examples
    --------
    >>> a = seed_sequence(7, 2)
    >>> b = np.random.SeedSequence(7).spawn(3)[2]
    >>> bool(np.all(a.generate_state(4) == b.generate_state(4)))
    True
    """
    if isinstance(root, np.random.SeedSequence):
        entropy, base, pool = root.entropy, tuple(root.spawn_key), root.pool_size
    elif isinstance(root, numbers.Integral) and not isinstance(root, bool):
        if root < 0:
            raise ValueError(f"root must be a non-negative int seed, got {root!r}")
        entropy, base, pool = int(root), (), None
    else:
        raise TypeError(
            f"root must be a non-negative int seed or a SeedSequence, got {root!r} "
            f"({type(root).__name__})"
        )
    words = tuple(w for item in key for w in _key_words(item))
    if pool is None:
        return np.random.SeedSequence(entropy, spawn_key=(*base, *words))
    return np.random.SeedSequence(entropy, spawn_key=(*base, *words), pool_size=pool)


def generator(root: int | np.random.SeedSequence, *key: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed_sequence(root, *key))``."""
    return np.random.default_rng(seed_sequence(root, *key))


def task_id(params: Mapping[str, Any], rep: int) -> str:
    """A short stable file-name-safe identifier of one (point, repetition) task."""
    return hashlib.sha256(f"{canonical(params)}#{int(rep)}".encode()).hexdigest()[:20]
