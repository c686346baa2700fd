"""The claims registry: every claim of THEORY.md that regnorm checks, and its verdicts.

A *claim* is a numbered statement of ``THEORY.md`` (``C1`` ... ``C22``). A *check* is a
function registered for a claim id that measures it and returns :class:`ClaimRecord` s:
the analytic value, the numerical (Monte-Carlo or exact-numeric) estimate with its standard
error, the z-score, and a verdict:

``holds``
    ``|z| <= z_bound`` (statistical), or agreement within the stated tolerance (deterministic).
``deviates``
    the estimate differs from the analytic value by more than its error allows; the record's
    note gives the measured deviation. A deviation is a *result* (e.g. first-order theory
    failing at small M), never something to tune away.
``open``
    there is no analytic prediction to compare with (the claim is unsettled, and the record
    carries the measurement that bears on it).

Checks live next to the code that measures them (``simulations``, ``derivations``) and
register themselves with :func:`claim` when their module is imported; this module never
imports those packages. The command line imports them (``regnorm verify``).

Example
-------
>>> from regnorm.claims import claim, statistical_record
>>> @claim("C1", source="test")                      # doctest: +SKIP
... def check_c1(ctx):
...     yield statistical_record("C1", {"M": 32}, analytic=0.0469, numeric=0.0470,
...                              stderr=1e-4)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._validation import check_choice, check_integer

__all__ = [
    "CATALOGUE",
    "DEFAULT_Z_BOUND",
    "VERDICTS",
    "CheckContext",
    "Claim",
    "ClaimRecord",
    "claim",
    "deterministic_record",
    "open_record",
    "records_to_frame",
    "registered",
    "resolve_ids",
    "run_claims",
    "statistical_record",
]

#: |z| bound for a statistical "holds" verdict: a correct formula fails it with probability
#: about 6e-7 per record, so a failing record is a finding, not bad luck.
DEFAULT_Z_BOUND = 5.0

VERDICTS = ("holds", "deviates", "open")

#: One-line statements of THEORY.md's claims; the ids are the toolkit's ids.
CATALOGUE: dict[str, str] = {
    "C1": "Batch-standardizing N(0,1) data with its own batch of M gives MSE ~ 3/(2M); "
    "exactly 2 - 2 E[sigma_B] (x inside the batch, biased std).",
    "C2": "mu_B ~ N(mu_P, sigma_P^2/M), sigma_B ~ N(sigma_P, (rho+2) sigma_P^2/(4M)) as M grows.",
    "C3": "E[(h_hat - h_bar)^2] ~ gamma^2[(rho+2)/(4M) z^2 + (1/M)(1 + 3(rho+2)/(4M))].",
    "C4": "BN loss ~ PN loss + zeta(h) gamma^2 with zeta = (rho+2)/(8M) F_gamma + mu_A''/(2M).",
    "C5": "Pseudo-inverse generalization error: 1 - alpha + alpha d^2/(1-alpha) (alpha<1), "
    "d^2/(alpha-1) (alpha>1).",
    "C6": "WN + gamma decay = ridge regression; eps_wn from the Marchenko-Pastur Stieltjes "
    "transform (Krogh & Hertz).",
    "C7": "eps_wn is minimized at zeta = delta^2 for every alpha.",
    "C8": "A BN student follows eps_wn with an effective zeta (which one is open).",
    "C9": "PN + gamma decay generalizes at least as well as BN.",
    "C10": "WN + mean-only BN and WN + variance-only BN lie between WN and BN in "
    "generalization gap.",
    "C11": "The learned gamma^2 of a BN layer and the test error grow with the batch size.",
    "C12": "Dropout after BN restores regularization lost at large batch; WN + dropout "
    "improves WN.",
    "C13": "PN and WN coincide for Gaussian input with covariance a I.",
    "C14": "Switchable Normalization mixes IN/LN/BN statistics with softmax weights; LN and BN "
    "statistics follow from IN's.",
    "C15": "SN learns a smaller BN weight at smaller batch size.",
    "C16": "At small batch SN gives BN's variance a smaller weight than BN's mean.",
    "C17": "BN/LN/IN/GN statistics axes; GN(G=1)=LN, GN(G=C)=IN.",
    "C18": "Batch-independent norms lose channel normalization or expressivity; "
    "LN/GN + Proxy Norm keep both.",
    "C19": "Proxy Norm output with a Gaussian proxy; closed form for ReLU.",
    "C20": "KernelNorm normalizes each kernel window by its (dropped-out) statistics.",
    "C21": "Fused KNConv equals KernelNorm + convolution and is much faster.",
    "C22": "Only BN (and SN with a BN weight) makes a sample's output depend on the batch.",
}


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
        ``holds``, ``deviates`` or ``open``.
    note : str
        What the numbers mean: the measured deviation, the convention used, caveats.
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

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, VERDICTS)
        if self.id not in CATALOGUE:
            raise ValueError(f"claim id {self.id!r} is not in THEORY.md's catalogue (C1..C22)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _float_or_none(x: Any) -> float | None:
    return None if x is None else float(x)


def statistical_record(
    id: str,
    params: Mapping[str, Any],
    *,
    analytic: float,
    numeric: float,
    stderr: float,
    z_bound: float = DEFAULT_Z_BOUND,
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record comparing a Monte-Carlo estimate with a closed form by its z-score.

    ``holds`` if ``|z| <= z_bound``; otherwise ``deviates`` and the note gains the measured
    deviation (absolute and relative). ``stderr`` must be positive: an estimate without an
    error bar is not a statistical comparison (use :func:`deterministic_record`).
    """
    analytic, numeric, stderr = float(analytic), float(numeric), float(stderr)
    if not (stderr > 0 and math.isfinite(stderr)):
        raise ValueError(f"stderr must be a positive finite number, got {stderr!r}")
    z = (numeric - analytic) / stderr
    verdict = "holds" if abs(z) <= z_bound else "deviates"
    deviation = _deviation_note(analytic, numeric)
    note = "; ".join(s for s in (note, deviation if verdict == "deviates" else "") if s)
    return ClaimRecord(
        id=id,
        statement=statement or CATALOGUE.get(id, ""),
        source=source,
        params=dict(params, z_bound=z_bound),
        analytic=analytic,
        numeric=numeric,
        stderr=stderr,
        z=z,
        verdict=verdict,
        note=note,
    )


def deterministic_record(
    id: str,
    params: Mapping[str, Any],
    *,
    analytic: float,
    numeric: float,
    rtol: float = 1e-10,
    atol: float = 0.0,
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record comparing two deterministic computations (identity, exact vs numeric).

    ``holds`` if ``|numeric - analytic| <= atol + rtol |analytic|``; the tolerance is part
    of the record's params so a reader sees what "holds" meant.
    """
    analytic, numeric = float(analytic), float(numeric)
    ok = abs(numeric - analytic) <= atol + rtol * abs(analytic)
    verdict = "holds" if ok else "deviates"
    deviation = _deviation_note(analytic, numeric)
    note = "; ".join(s for s in (note, deviation if not ok else "") if s)
    return ClaimRecord(
        id=id,
        statement=statement or CATALOGUE.get(id, ""),
        source=source,
        params=dict(params, rtol=rtol, atol=atol),
        analytic=analytic,
        numeric=numeric,
        stderr=0.0,
        z=None,
        verdict=verdict,
        note=note,
    )


def open_record(
    id: str,
    params: Mapping[str, Any],
    *,
    numeric: float | None,
    stderr: float | None = None,
    note: str,
    analytic: float | None = None,
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record for an unsettled claim: the measurement that bears on it, and what it says."""
    z = None
    if analytic is not None and numeric is not None and stderr:
        z = (float(numeric) - float(analytic)) / float(stderr)
    return ClaimRecord(
        id=id,
        statement=statement or CATALOGUE.get(id, ""),
        source=source,
        params=dict(params),
        analytic=_float_or_none(analytic),
        numeric=_float_or_none(numeric),
        stderr=_float_or_none(stderr),
        z=z,
        verdict="open",
        note=note,
    )


def _deviation_note(analytic: float, numeric: float) -> str:
    diff = numeric - analytic
    if analytic != 0:
        return f"measured deviation {diff:+.4g} ({100 * diff / abs(analytic):+.2f}% of analytic)"
    return f"measured deviation {diff:+.4g}"


@dataclass(frozen=True)
class CheckContext:
    """What a check is given: size, seed and executor.

    Attributes
    ----------
    quick : bool
        Small sizes (seconds per claim) instead of full sizes (minutes).
    seed : int
        Root seed; use :meth:`rng` or :meth:`seed_sequence` for a claim's own stream.
    executor : Any
        An executor spec for :func:`regnorm.sweeps.sweep` (None = in-process).
    """

    quick: bool = False
    seed: int = 0
    executor: Any = None
    options: dict[str, Any] = field(default_factory=dict)

    def seed_sequence(self, *key: int | str) -> np.random.SeedSequence:
        """A ``SeedSequence`` derived from the root seed and ``key`` (stable across runs)."""
        from .sweeps.seeding import stable_key

        return np.random.SeedSequence(self.seed, spawn_key=stable_key(key))

    def rng(self, *key: int | str) -> np.random.Generator:
        """A generator derived from the root seed and ``key``, e.g. ``ctx.rng("C1", 32)``."""
        return np.random.default_rng(self.seed_sequence(*key))


@dataclass(frozen=True)
class Claim:
    """A registered check for a claim id."""

    id: str
    name: str
    source: str
    check: Callable[[CheckContext], Iterable[ClaimRecord]]


_REGISTRY: dict[str, list[Claim]] = {}


def claim(id: str, *, source: str = "") -> Callable:
    """Decorator registering ``check(ctx) -> iterable of ClaimRecord`` for claim ``id``.

    Several checks may register for one id (e.g. a Monte-Carlo one and a symbolic one);
    re-registering the same function (module re-import) replaces it.
    """
    if id not in CATALOGUE:
        raise ValueError(f"claim id {id!r} is not in THEORY.md's catalogue (C1..C22)")

    def decorate(func: Callable[[CheckContext], Iterable[ClaimRecord]]) -> Callable:
        name = f"{func.__module__}.{func.__qualname__}"
        entries = [c for c in _REGISTRY.get(id, []) if c.name != name]
        entries.append(Claim(id=id, name=name, source=source, check=func))
        _REGISTRY[id] = entries
        return func

    return decorate


def _claim_sort_key(id: str) -> int:
    return int(id[1:])


def registered() -> dict[str, list[Claim]]:
    """The registered checks by claim id, in claim order."""
    return {k: list(_REGISTRY[k]) for k in sorted(_REGISTRY, key=_claim_sort_key)}


def resolve_ids(ids: str | Sequence[str] | None) -> list[str]:
    """Validate a selection of claim ids (``"C1,C5"`` or a list); None means all registered.

    Raises ``ValueError`` naming the offending id for ids not in THEORY.md, and for ids
    that are in THEORY.md but have no registered check yet.
    """
    if ids is None:
        return list(registered())
    if isinstance(ids, str):
        ids = [s.strip() for s in ids.split(",") if s.strip()]
    if not ids:
        raise ValueError("claims must name at least one claim id, e.g. C1,C5")
    out: list[str] = []
    for raw in ids:
        cid = raw.upper()
        if cid not in CATALOGUE:
            raise ValueError(f"unknown claim id {raw!r}; THEORY.md has C1..C22")
        if cid not in _REGISTRY:
            have = ", ".join(registered()) or "none"
            raise ValueError(
                f"claim {cid} is in THEORY.md but no check is registered for it yet; "
                f"registered: {have}"
            )
        if cid not in out:
            out.append(cid)
    return out


def run_claims(
    ids: str | Sequence[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    executor: Any = None,
    progress: bool | None = None,
) -> list[ClaimRecord]:
    """Run the checks for ``ids`` (all registered if None) and return their records."""
    seed = check_integer("seed", seed, minimum=0)
    selected = resolve_ids(ids) if ids is None or len(ids) else []
    ctx = CheckContext(quick=quick, seed=seed, executor=executor)
    from tqdm.auto import tqdm

    records: list[ClaimRecord] = []
    checks = [c for cid in selected for c in _REGISTRY[cid]]
    for c in tqdm(checks, desc="claims", disable=None if progress is None else not progress):
        for rec in c.check(ctx):
            if not isinstance(rec, ClaimRecord):
                raise TypeError(f"check {c.name} returned {type(rec).__name__}, not ClaimRecord")
            records.append(rec)
    return records


def records_to_frame(records: Iterable[ClaimRecord]):
    """Records as a pandas DataFrame, one row per record, ``params`` as a compact string."""
    import pandas as pd

    rows = []
    for r in records:
        d = r.as_dict()
        d["params"] = ", ".join(f"{k}={_fmt(v)}" for k, v in r.params.items())
        rows.append(d)
    cols = list(ClaimRecord.__dataclass_fields__)
    return pd.DataFrame(rows, columns=cols)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
