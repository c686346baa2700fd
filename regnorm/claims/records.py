"""A claim record: one measurement of one claim at one parameter point, and its files.

:class:`ClaimRecord` is what every check returns; :func:`records_to_frame` makes a table of
records and :func:`records_to_json` / :func:`records_from_json` a file that reads back
exactly (tuples stay tuples, NumPy scalars become Python numbers).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..validation import check_choice
from .catalogue import CATALOGUE, KINDS, VERDICTS

__all__ = [
    "FRAME_PARAMS",
    "ClaimRecord",
    "records_from_json",
    "records_to_frame",
    "records_to_json",
]


@dataclass(frozen=True)
class ClaimRecord:
    """One measurement of one claim at one parameter point.

    Attributes
    ----------
    id : str
        Claim id (``"C1"``).
    statement : str
        What is claimed (from :data:`CATALOGUE` unless the check says more precisely).
    source : str
        Where the claim comes from (article and section).
    params : dict
        The parameter point (``{"M": 32, "dist": "gaussian"}``) and settings (seed, trials).
    analytic : float or None
        The closed-form prediction (None for an open claim).
    numeric : float or None
        The measured value.
    stderr : float or None
        Standard error of ``numeric`` (0 for a deterministic computation).
    z : float or None
        ``(numeric - analytic) / stderr`` (None where undefined).
    verdict : str
        One of :data:`VERDICTS`.
    note : str
        What the numbers mean: the measured deviation, the convention used, caveats.
    kind : str
        One of :data:`KINDS`; an ``identity`` is not evidence for the claim.
    low, high : float or None
        The interval the verdict was judged on (None where there is none).
    resolvable : float or None
        The smallest difference from ``analytic`` (or from the margin) the measurement
        resolves: the interval's half width, or the tolerance of a deterministic comparison.
    """

    id: str
    statement: str
    source: str
    params: dict[str, Any]
    analytic: float | None
    numeric: float | None
    stderr: float | None
    z: float | None
    verdict: str
    note: str = ""
    kind: str = "exact"
    low: float | None = None
    high: float | None = None
    resolvable: float | None = None

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, VERDICTS)
        check_choice("kind", self.kind, KINDS)
        if self.id not in CATALOGUE:
            raise ValueError(f"claim id {self.id!r} is not in THEORY.md's catalogue (C1..C22)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def evidence(self) -> bool:
        """Whether the record bears on the claim (an identity checks the code only)."""
        return self.kind != "identity"


#: Parameters that get a column of their own in :func:`records_to_frame` (where numeric).
FRAME_PARAMS = ("M", "N", "alpha", "z", "gamma", "dof")


def records_to_frame(records: Iterable[ClaimRecord]):
    """Records as a pandas DataFrame, one row per record, parameters as structured data.

    ``params`` is the record's parameter dict as a JSON string (``json.loads`` gives it back
    with its types), and each of :data:`FRAME_PARAMS` gets a float column ``param_<name>``
    (NaN where a record lacks it or has a non-numeric value), so a table can be filtered
    without parsing. ``statement`` and ``kind`` are columns of their own.
    """
    import pandas as pd

    rows = []
    for r in records:
        d = r.as_dict()
        d["params"] = json.dumps(r.params, sort_keys=True, default=_json_value)
        for k in FRAME_PARAMS:
            v = r.params.get(k)
            numeric = isinstance(v, int | float | np.integer | np.floating)
            d[f"param_{k}"] = float(v) if numeric and not isinstance(v, bool) else math.nan
        rows.append(d)
    cols = list(ClaimRecord.__dataclass_fields__) + [f"param_{k}" for k in FRAME_PARAMS]
    return pd.DataFrame(rows, columns=cols)


def _json_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def _encode(x: Any) -> Any:
    # JSON has no tuple and no NumPy scalar; a tagged list keeps ``(2, 3)`` a tuple, so a
    # record read back prints (and compares) exactly like the one the check returned.
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v) for v in x]}
    if isinstance(x, list):
        return [_encode(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _encode(v) for k, v in x.items()}
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x


def _decode(x: Any) -> Any:
    if isinstance(x, dict):
        if set(x) == {"__tuple__"}:
            return tuple(_decode(v) for v in x["__tuple__"])
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return x


def records_to_json(records: Iterable[ClaimRecord]) -> bytes:
    """Claim records as JSON bytes that :func:`records_from_json` reads back exactly."""
    return json.dumps([_encode(r.as_dict()) for r in records], indent=1).encode()


def records_from_json(data: bytes | str) -> list[ClaimRecord]:
    """The records of :func:`records_to_json`'s bytes (or ``regnorm verify --json``'s text).

    Raises
    ------
    ValueError
        If ``data`` is not JSON, or not a list of records (``TypeError`` from a record's
        fields is reported as a ``ValueError`` naming the item).
    """
    items = json.loads(data)
    if not isinstance(items, list):
        raise ValueError(f"a list of records expected, got {type(items).__name__}")
    out = []
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise ValueError(f"item {i} is a {type(d).__name__}, not a record")
        try:
            out.append(ClaimRecord(**_decode(d)))
        except TypeError as exc:
            raise ValueError(f"item {i} is not a record ({exc})") from None
    return out
