"""Stable seeds: every sweep point gets its own stream from one root seed.

A point's stream is ``SeedSequence(root_seed, spawn_key=stable_key(params) + (rep,))``: it
depends only on the root seed, the point's parameter values and its repetition index, never on
the order points run in, the executor, the number of workers, or which other points the grid
holds. Adding values to an axis therefore leaves existing points' numbers unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["canonical", "point_seed", "stable_key", "task_id"]


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


def point_seed(root_seed: int, params: Mapping[str, Any], rep: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of repetition ``rep`` of point ``params`` under ``root_seed``."""
    return np.random.SeedSequence(root_seed, spawn_key=(*stable_key(params), int(rep)))


def task_id(params: Mapping[str, Any], rep: int) -> str:
    """A short stable file-name-safe identifier of one (point, repetition) task."""
    return hashlib.sha256(f"{canonical(params)}#{int(rep)}".encode()).hexdigest()[:20]
