"""Checks: what a check is, how the checks are found, and how they run.

A *check* is a :class:`Claim`: a claim id and a function ``check(ctx) -> iterable of
ClaimRecord`` that measures the claim. :func:`claim` makes one from a function; it registers
nothing. The checks are found from explicit lists: each package that has checks declares a
list of them (``CHECKS = [check_c1, check_c2, ...]``) as an entry point of the group
:data:`CHECKS_GROUP` in ``pyproject.toml`` (``simulations = "simulations.checks:CHECKS"``),
and :func:`load_checks` reads those lists. Nothing is found by the side effect of importing a
module, and ``import regnorm; regnorm.run_claims("C13")`` works in a fresh interpreter.
Every function here that looks checks up takes ``checks=`` too: a list of one's own.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..validation import check_integer
from .catalogue import CATALOGUE, claim_order
from .records import ClaimRecord

__all__ = [
    "CHECKS_GROUP",
    "CheckContext",
    "Claim",
    "claim",
    "load_checks",
    "registered",
    "resolve_ids",
    "run_claims",
]

#: The entry-point group whose entry points are lists of checks (``pyproject.toml``).
CHECKS_GROUP = "regnorm.checks"


@dataclass(frozen=True)
class CheckContext:
    """What a check is given: size, seed, executor and backend.

    Attributes
    ----------
    quick : bool
        Small sizes (seconds per claim) instead of full sizes (minutes).
    seed : int
        Root seed; use :meth:`rng` or :meth:`seed_sequence` for a claim's own stream.
    executor : Any
        An executor spec for :func:`regnorm.sweeps.sweep` (None = in-process).
    options : dict
        Further settings a check may read.
    backend : str or None
        The spec of the array backend a backend-generic check runs on
        (:func:`regnorm.backend.resolve_backend`: ``"cupy"``,
        ``"array_api_strict:device1"`` ...); None is NumPy. :func:`run_claims` sets it only
        for the checks that :attr:`Claim.backend_generic` says run on any backend.
    """

    quick: bool = False
    seed: int = 0
    executor: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None

    def __post_init__(self) -> None:
        if self.backend is not None and not isinstance(self.backend, str):
            raise TypeError(
                f"backend must be a backend spec string (e.g. 'cupy') or None, got "
                f"{type(self.backend).__name__} ({self.backend!r})"
            )

    def seed_sequence(self, *key: int | str) -> np.random.SeedSequence:
        """A ``SeedSequence`` derived from the root seed and ``key`` (stable across runs)."""
        from ..seeding import seed_sequence

        return seed_sequence(self.seed, tuple(key))

    def rng(self, *key: int | str) -> np.random.Generator:
        """A generator derived from the root seed and ``key``, e.g. ``ctx.rng("C1", 32)``."""
        return np.random.default_rng(self.seed_sequence(*key))


def _claim_by_name(module: str, qualname: str) -> Claim:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Claim:
    """A check of one claim: ``check(ctx)`` yields the claim's :class:`ClaimRecord` s.

    Calling a ``Claim`` calls its check: ``check_c5(ctx)``. Made by :func:`claim`.

    Attributes
    ----------
    id : str
        The claim id (``"C5"``).
    name : str
        The check's qualified name (``"simulations.checks.teacher_student.check_c5"``),
        unique among the checks that run together.
    source : str
        Where the claim comes from (article and section).
    check : callable
        ``check(ctx: CheckContext) -> iterable of ClaimRecord``.
    """

    id: str
    name: str
    source: str
    check: Callable[[CheckContext], Iterable[ClaimRecord]]

    def __post_init__(self) -> None:
        if self.id not in CATALOGUE:
            raise ValueError(f"claim id {self.id!r} is not in THEORY.md's catalogue (C1..C22)")
        if not callable(self.check):
            raise TypeError(f"check of {self.name} must be callable, got {self.check!r}")

    def __call__(self, ctx: CheckContext) -> Iterable[ClaimRecord]:
        return self.check(ctx)

    @property
    def backend_generic(self) -> bool:
        """Whether this check runs on any array backend (``ctx.backend``), not NumPy only.

        A module of checks declares its backend-generic ones in a module-level list
        ``BACKEND_CHECKS`` beside ``CHECKS``; a check that no such list holds runs on NumPy.
        """
        module = getattr(self.check, "__module__", None)
        try:
            listed = getattr(importlib.import_module(module), "BACKEND_CHECKS", ())
        except (ImportError, TypeError, ValueError):
            return False
        return any(c is self or getattr(c, "name", None) == self.name for c in listed)

    def __reduce__(self):
        # The module attribute named like the check is this Claim (the decorator replaced
        # the function), so pickle's lookup of the function by name finds the Claim and
        # refuses it; a Claim bound to its module's name is sent as that name instead.
        module, _, qualname = self.name.rpartition(".")
        try:
            if module and _claim_by_name(module, qualname) is self:
                return (_claim_by_name, (module, qualname))
        except (ImportError, AttributeError):
            pass
        return (Claim, (self.id, self.name, self.source, self.check))


def claim(id: str, *, source: str = "") -> Callable[[Callable], Claim]:
    """Decorator making a check of claim ``id`` from ``check(ctx) -> iterable of ClaimRecord``.

    It returns a :class:`Claim` (callable like the function) and **registers nothing**: a
    check runs only when it is in a list that is run. A module of checks ends with its list,
    ``CHECKS = [check_c5, check_c6]``, and the package's list (e.g.
    ``simulations.checks.CHECKS``) is declared as an entry point of :data:`CHECKS_GROUP`.

    Parameters
    ----------
    id : str
        A claim id of THEORY.md's catalogue (``"C5"``).
    source : str
        Where the claim comes from (article and section).

    Raises
    ------
    ValueError
        If ``id`` is not in the catalogue.

    Examples
    --------
    >>> from regnorm.claims import claim, run_claims, statistical_record
    >>> @claim("C1", source="test")
    ... def check_c1(ctx):
    ...     yield statistical_record("C1", {"M": 32}, analytic=0.0469, numeric=0.0470,
    ...                              stderr=1e-4)
    >>> [r.verdict for r in run_claims("C1", checks=[check_c1])]
    ['holds']
    """
    if id not in CATALOGUE:
        raise ValueError(f"claim id {id!r} is not in THEORY.md's catalogue (C1..C22)")

    def decorate(func: Callable[[CheckContext], Iterable[ClaimRecord]]) -> Claim:
        name = f"{func.__module__}.{func.__qualname__}"
        return Claim(id=id, name=name, source=source, check=func)

    return decorate


def _checked_list(checks: Any, what: str) -> list[Claim]:
    """``checks`` as a list of :class:`Claim`, else a ``TypeError`` naming ``what``."""
    if isinstance(checks, Claim) or not isinstance(checks, Iterable) or isinstance(checks, str):
        raise TypeError(
            f"{what} must be a list of regnorm.claims.Claim (checks made with @claim), "
            f"got {type(checks).__name__}"
        )
    out = list(checks)
    for i, c in enumerate(out):
        if not isinstance(c, Claim):
            raise TypeError(
                f"{what}: item {i} is {type(c).__name__} ({c!r}), not a regnorm.claims.Claim "
                "(make it with the @claim decorator)"
            )
    seen: dict[str, int] = {}
    for i, c in enumerate(out):
        if c.name in seen:
            raise ValueError(f"{what}: check {c.name} is listed twice (items {seen[c.name]}, {i})")
        seen[c.name] = i
    return out


def load_checks() -> list[Claim]:
    """The checks declared under the entry-point group :data:`CHECKS_GROUP`.

    Each entry point names a list of :class:`Claim` (``"simulations.checks:CHECKS"``);
    the lists are concatenated in the order of the entry points' names (regnorm's own are
    ``1-simulations`` and ``2-derivations``), each list in its own order: the order a
    claim's checks run and its records come in.

    Returns
    -------
    list of Claim
        Empty when regnorm's metadata declares none.

    Raises
    ------
    ImportError
        When an entry point cannot be loaded (an installation that lacks the package it
        names); the message names the entry point.
    TypeError
        When an entry point is not a list of :class:`Claim` (or names nothing); the message
        names it.
    ValueError
        When one check is listed twice.
    """
    from importlib.metadata import entry_points

    out: list[Claim] = []
    # by name: installers write the metadata in an order of their own
    for ep in sorted(entry_points(group=CHECKS_GROUP), key=lambda ep: ep.name):
        what = f"entry point {ep.name} = {ep.value!r} of group {CHECKS_GROUP!r}"
        try:
            value = ep.load()
        except ImportError as exc:
            raise ImportError(
                f"{what} cannot be loaded ({exc}); reinstall regnorm with its packages "
                "(pip install -e .)"
            ) from exc
        except AttributeError as exc:
            raise TypeError(f"{what} names no list of checks ({exc})") from exc
        if not isinstance(value, list | tuple):
            raise TypeError(
                f"{what} is {type(value).__name__}, not a list of regnorm.claims.Claim "
                "(point it at a list: 'package.module:CHECKS')"
            )
        out += _checked_list(value, what)
    return _checked_list(out, f"the checks of group {CHECKS_GROUP!r}")


def registered(checks: Iterable[Claim] | None = None) -> dict[str, list[Claim]]:
    """The checks by claim id, in claim order; ``checks`` None: :func:`load_checks`'s."""
    have = load_checks() if checks is None else _checked_list(checks, "checks")
    out: dict[str, list[Claim]] = {}
    for c in have:
        out.setdefault(c.id, []).append(c)
    return {k: out[k] for k in sorted(out, key=claim_order)}


def resolve_ids(
    ids: str | Sequence[str] | None, checks: Iterable[Claim] | None = None
) -> list[str]:
    """Validate a selection of claim ids; None means all that have a check.

    Parameters
    ----------
    ids : str, sequence of str or None
        Comma-separated ids (``"C1,C5"``) or a sequence of single ids (``["C1", "C5"]``).
        Case and white space around an id are ignored (``" c5 "`` is ``C5``).
    checks : iterable of Claim, optional
        The checks to select from (default: :func:`load_checks`).

    Returns
    -------
    list of str
        The canonical ids (``"C5"``) in the order given.

    Raises
    ------
    ValueError
        For an empty selection or an empty item (``"C5,,C7"``), an id named twice
        (``"C5,c5"``), an id not in THEORY.md, and an id of THEORY.md that has no check
        among ``checks``; the message names the offending item.
    TypeError
        For an item that is not a string.
    """
    return _resolve(ids, registered(checks), declared=checks is None)


def _resolve(ids: Any, have: dict[str, list[Claim]], *, declared: bool) -> list[str]:
    if ids is None:
        return list(have)
    given = ids
    if isinstance(ids, str):
        ids = ids.split(",")
    elif not isinstance(ids, Sequence):
        raise TypeError(
            f"claims must be a string of comma-separated ids or a sequence of ids, "
            f"got {type(ids).__name__}"
        )
    if not ids:
        raise ValueError("claims must name at least one claim id, e.g. C1,C5")
    out: list[str] = []
    for position, raw in enumerate(ids, start=1):
        if not isinstance(raw, str):
            raise TypeError(f"claim ids must be strings, got {type(raw).__name__} ({raw!r})")
        cid = raw.strip().upper()
        if not cid:
            raise ValueError(
                f"claims={given!r}: item {position} is empty; give ids separated by single "
                f"commas, e.g. C1,C5"
            )
        if cid not in CATALOGUE:
            raise ValueError(f"unknown claim id {raw.strip()!r}; THEORY.md has C1..C22")
        if cid in out:
            raise ValueError(f"claims={given!r}: {cid} is named more than once")
        out.append(cid)
    missing = [cid for cid in out if cid not in have]
    if missing and not have:
        where = (
            f"and no list of checks is declared under the entry-point group {CHECKS_GROUP!r}; "
            "reinstall regnorm (pip install -e .) so that its entry points exist"
            if declared
            else "and the checks given are none"
        )
        raise ValueError(f"claim {missing[0]}: no check is registered, {where}")
    if missing:
        raise ValueError(
            f"claim {missing[0]} is in THEORY.md but no check is registered for it yet; "
            f"registered: {', '.join(have)}"
        )
    return out


def run_claims(
    ids: str | Sequence[str] | None = None,
    *,
    checks: Iterable[Claim] | None = None,
    quick: bool = False,
    seed: int = 0,
    executor: Any = None,
    progress: bool | None = None,
    backend: Any = None,
) -> list[ClaimRecord]:
    """Run the checks for ``ids`` (all if None) and return their records.

    Parameters
    ----------
    ids : str, sequence of str or None
        The claims to check, as for :func:`resolve_ids` (``"C13"``, ``"C1,C5"``,
        ``["C1", "C5"]``); None runs every check.
    checks : iterable of Claim, optional
        The checks to choose from: a list of one's own (made with :func:`claim`), or None
        for the declared ones (:func:`load_checks`: nothing but ``import regnorm`` is
        needed first).
    quick : bool
        Run each check at its small, fast size (the size of ``regnorm verify --quick``).
    seed : int
        Root seed; every check derives its streams from it (:meth:`CheckContext.rng`).
    executor : optional
        An executor spec for :func:`regnorm.sweeps.sweep`, used by the checks that run
        sweeps (None: in process).
    progress : bool or None
        Draw a progress bar over the checks (None: on a terminal or in a notebook only).
    backend : spec, Backend or None
        The array backend (:func:`regnorm.backend.resolve_backend`; None: NumPy) that the
        backend-generic checks (:attr:`Claim.backend_generic`) run on, as
        ``ctx.backend``; the other checks run on NumPy, and their records carry no
        ``backend`` parameter, so a table says where each ran.

    Returns
    -------
    list of ClaimRecord
        One or more records per check, in the order of ``ids`` and, within a claim, of the
        checks' list; see :func:`records_to_frame` for a table.

    Raises
    ------
    TypeError
        If a check yields something that is not a :class:`ClaimRecord`.
    ValueError, regnorm.backend.BackendUnavailableError
        ``backend`` names no backend, or one this machine lacks (before any check runs).
    """
    from ..backend import resolve_backend

    seed = check_integer("seed", seed, minimum=0)
    b = resolve_backend(backend)
    spec = None if b.name == "numpy" else b.spec
    have = registered(checks)
    # an empty selection ("" or []) runs nothing, as a loop over no ids would
    selected = _resolve(ids, have, declared=checks is None) if ids is None or len(ids) else []
    ctx = CheckContext(quick=quick, seed=seed, executor=executor)
    on_device = dataclasses.replace(ctx, backend=spec)
    from ..sweeps import progress_bar

    records: list[ClaimRecord] = []
    to_run = [c for cid in selected for c in have[cid]]
    for c in progress_bar(to_run, desc="claims", progress=progress):
        for rec in c.check(on_device if spec is not None and c.backend_generic else ctx):
            if not isinstance(rec, ClaimRecord):
                raise TypeError(f"check {c.name} returned {type(rec).__name__}, not ClaimRecord")
            records.append(rec)
    return records
