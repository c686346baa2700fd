"""Parameter grids: a product of named axes, or an explicit list of points."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..seeding import canonical

__all__ = ["Grid", "RESERVED_COLUMNS"]

#: Column names the sweep runner adds itself; no parameter or output may use them.
RESERVED_COLUMNS = ("rep",)


@dataclass(frozen=True)
class Grid:
    """An ordered list of parameter points.

    Build it from a mapping of axis name -> sequence of values (the Cartesian product, first
    axis slowest), or from a sequence of mappings (explicit points, all with the same names).

    >>> list(Grid({"M": [2, 4], "dist": ["gaussian"]}))
    [{'M': 2, 'dist': 'gaussian'}, {'M': 4, 'dist': 'gaussian'}]
    """

    names: tuple[str, ...]
    points: tuple[dict[str, Any], ...]

    def __init__(self, spec: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]):
        if isinstance(spec, Grid):
            names, points = spec.names, spec.points
        elif isinstance(spec, Mapping):
            names, points = self._from_axes(spec)
        elif isinstance(spec, Sequence) and not isinstance(spec, str | bytes):
            names, points = self._from_points(spec)
        else:
            raise TypeError(
                f"grid must be a mapping of axis name -> values or a list of points, got "
                f"{type(spec).__name__}"
            )
        seen: set[str] = set()
        for p in points:
            key = canonical(p)  # also validates value types
            if key in seen:
                raise ValueError(f"grid has the point {p} twice")
            seen.add(key)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "points", points)

    @staticmethod
    def _check_names(names: Sequence[Any]) -> tuple[str, ...]:
        for n in names:
            if not isinstance(n, str) or not n.isidentifier():
                raise ValueError(f"grid axis name {n!r} must be a Python identifier string")
            if n in RESERVED_COLUMNS:
                raise ValueError(f"grid axis name {n!r} is reserved for the sweep runner")
        return tuple(names)

    @classmethod
    def _from_axes(cls, axes: Mapping[str, Sequence[Any]]):
        if not axes:
            raise ValueError("grid must have at least one axis")
        names = cls._check_names(list(axes))
        values = []
        for n in names:
            v = axes[n]
            if isinstance(v, str | bytes | Mapping):
                raise TypeError(f"grid axis {n!r} must be a sequence of values, got {v!r}")
            try:
                v = list(v)  # lists, ranges, numpy arrays
            except TypeError:
                msg = f"grid axis {n!r} must be a sequence of values, got {v!r}"
                raise TypeError(msg) from None
            v = [x.item() if hasattr(x, "item") else x for x in v]
            if len(v) == 0:
                raise ValueError(f"grid axis {n!r} has no values")
            values.append(v)
        points = tuple(dict(zip(names, combo, strict=True)) for combo in itertools.product(*values))
        return names, points

    @classmethod
    def _from_points(cls, pts: Sequence[Mapping[str, Any]]):
        if len(pts) == 0:
            raise ValueError("grid must have at least one point")
        if not all(isinstance(p, Mapping) for p in pts):
            raise TypeError("a grid given as a list must be a list of mappings (points)")
        names = cls._check_names(list(pts[0]))
        for p in pts:
            if tuple(p) != names:
                raise ValueError(f"grid point {dict(p)} does not have the axes {names}")
        return names, tuple(dict(p) for p in pts)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(p) for p in self.points)

    def __len__(self) -> int:
        return len(self.points)
