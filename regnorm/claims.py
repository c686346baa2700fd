"""The claims registry: every claim of THEORY.md that regnorm checks, and its verdicts.

A *claim* is a numbered statement of ``THEORY.md`` (``C1`` ... ``C22``). A *check* is a
function registered for a claim id that measures it and returns :class:`ClaimRecord` s:
the analytic value, the numerical (Monte-Carlo or exact-numeric) estimate with its standard
error, the z-score, and a verdict:

``holds``
    ``|z| <= bound`` (statistical), or agreement within the stated tolerance (deterministic).
``deviates``
    the estimate differs from the analytic value by more than its error allows; the record's
    note gives the measured deviation. A deviation is a *result* (e.g. first-order theory
    failing at small M), never something to tune away.
``not resolved``
    the measurement cannot decide: several mutually exclusive candidates survive at one point
    (:func:`judge_candidates`), or an ordering's interval straddles its margin
    (:func:`ordering_record`).
``open``
    there is no analytic prediction to compare with (the claim is unsettled, and the record
    carries the measurement that bears on it).

The bound of a statistical verdict is the Student-t quantile with the record's degrees of
freedom at the false-alarm rate :data:`FALSE_ALARM` of ``|z| <= 5`` for a normal ``z``: a mean
over a handful of replicates is a t variable, and judging it as normal makes its verdicts
look sharper than they are. Each record carries its interval (``low``, ``high``) and the
smallest difference it resolves (``resolvable``, the interval's half width).

Every record has a *kind* (:data:`KINDS`): ``exact`` (a closed form claimed exactly),
``asymptotic`` (a law claimed as ``M`` or ``N`` grows: judged against the exact value where
one exists, see :func:`asymptotic_record`), ``identity`` (true by construction: a check of
the code, not evidence for the claim), ``ordering`` (one method better than another) and
``open``.

Checks live next to the code that measures them (``simulations``, ``derivations``) and
register themselves with :func:`claim` when their module is imported. This module never
imports those packages by name: each module that registers checks is declared as an entry
point of the group :data:`CHECKS_GROUP` in ``pyproject.toml``, and :func:`load_checks` (called
on first use by :func:`registered`, :func:`resolve_ids` and :func:`run_claims`) loads them, so
``import regnorm; regnorm.run_claims("C13")`` finds its check in a fresh interpreter.

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .validation import check_choice, check_integer

__all__ = [
    "ASYMPTOTIC_RTOL",
    "CATALOGUE",
    "CHECKS_GROUP",
    "DEFAULT_Z_BOUND",
    "FALSE_ALARM",
    "FRAME_PARAMS",
    "KINDS",
    "VERDICTS",
    "CheckContext",
    "Claim",
    "ClaimRecord",
    "claim",
    "asymptotic_record",
    "deterministic_record",
    "identity_record",
    "judge_candidates",
    "load_checks",
    "open_record",
    "ordering_record",
    "records_to_frame",
    "registered",
    "resolve_ids",
    "run_claims",
    "statistical_record",
    "t_bound",
]

#: ``|z|`` bound for a statistical "holds" verdict: a correct formula fails it with probability
#: about 6e-7 per record, so a failing record is a finding, not bad luck.
DEFAULT_Z_BOUND = 5.0

#: Two-sided false-alarm rate of a statistical verdict: that of ``|z| <= DEFAULT_Z_BOUND``
#: for a normal ``z``; with few degrees of freedom the bound is the t quantile at this rate.
FALSE_ALARM = math.erfc(DEFAULT_Z_BOUND / math.sqrt(2.0))

VERDICTS = ("holds", "deviates", "not resolved", "open")

KINDS = ("exact", "asymptotic", "identity", "ordering", "open")

#: Relative tolerance within which an asymptotic law "holds" against the exact value at one
#: parameter point. A first-order law is an approximation, so its verdict needs a stated
#: accuracy: 5% is about the width of a plotted marker on the log-log figures the laws are
#: read from, so "holds" means "indistinguishable from the exact curve by eye" and the
#: deterministic boundary (the first M where it holds) does not move with the budget.
ASYMPTOTIC_RTOL = 0.05

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


def _float_or_none(x: Any) -> float | None:
    return None if x is None else float(x)


def t_bound(dof: int | None, z_bound: float = DEFAULT_Z_BOUND) -> float:
    r"""The ``|t|`` bound at ``dof`` degrees of freedom, false-alarm rate of ``|z| <= z_bound``.

    .. math:: b = F^{-1}_{t_\nu}\left(1 - \tfrac{\alpha}{2}\right), \quad
              \alpha = 2\,\Phi(-z_\mathrm{bound})

    ``dof=None`` means a normal estimate (a Monte-Carlo mean over many trials): ``z_bound``.
    At ``z_bound = 5`` the bound is 1321 for 2 degrees of freedom, 56.8 for 4, 12.4 for 9 and
    5.03 for 1000.
    """
    z_bound = float(z_bound)
    if not (z_bound > 0 and math.isfinite(z_bound)):
        raise ValueError(f"z_bound must be a positive finite number, got {z_bound!r}")
    if dof is None:
        return z_bound
    dof = check_integer("dof", dof, minimum=1)
    from scipy import stats

    return float(stats.t.isf(math.erfc(z_bound / math.sqrt(2.0)) / 2.0, dof))


def statistical_record(
    id: str,
    params: Mapping[str, Any],
    *,
    analytic: float,
    numeric: float,
    stderr: float,
    dof: int | None = None,
    z_bound: float = DEFAULT_Z_BOUND,
    kind: str = "exact",
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record comparing an estimate with a closed form by its z-score.

    ``holds`` if ``|z| <= t_bound(dof, z_bound)``; otherwise ``deviates`` and the note gains
    the measured deviation (absolute and relative). ``dof`` is the degrees of freedom of
    ``stderr`` (``n - 1`` for a mean over ``n`` replicates; None for a Monte-Carlo mean over
    many trials). The record's interval is ``numeric +- bound * stderr`` and ``resolvable``
    its half width. ``stderr`` must be positive: an estimate without an error bar is not a
    statistical comparison (use :func:`deterministic_record`).

    A ``kind="asymptotic"`` record judged this way (no exact value to judge it against) is a
    verdict at its Monte-Carlo budget: the note says so, since more trials move the boundary
    between "holds" and "deviates".
    """
    analytic, numeric, stderr = float(analytic), float(numeric), float(stderr)
    if not (stderr > 0 and math.isfinite(stderr)):
        raise ValueError(f"stderr must be a positive finite number, got {stderr!r}")
    if not (math.isfinite(analytic) and math.isfinite(numeric)):
        raise ValueError(
            f"analytic and numeric must be finite, got analytic={analytic!r}, numeric={numeric!r}"
        )
    bound = t_bound(dof, z_bound)
    z = (numeric - analytic) / stderr
    verdict = "holds" if abs(z) <= bound else "deviates"
    half = bound * stderr
    parts = [note, f"interval [{numeric - half:.5g}, {numeric + half:.5g}] (|t| <= {bound:.3g})"]
    if verdict == "deviates":
        parts.append(_deviation_note(analytic, numeric))
    if kind == "asymptotic":
        parts.append("verdict at this Monte-Carlo budget (no exact value to judge against)")
    return ClaimRecord(
        id=id,
        statement=statement or CATALOGUE.get(id, ""),
        source=source,
        params=dict(params, z_bound=z_bound, dof=dof, bound=bound),
        analytic=analytic,
        numeric=numeric,
        stderr=stderr,
        z=z,
        verdict=verdict,
        note="; ".join(s for s in parts if s),
        kind=kind,
        low=numeric - half,
        high=numeric + half,
        resolvable=half,
    )


def judge_candidates(records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
    """Verdicts for mutually exclusive candidates measured at one point.

    ``records`` are statistical records of the same measurement against competing closed
    forms (at most one can be right). A candidate whose record deviates is *rejected*; if
    exactly one survives it *holds*; if more than one survives, each survivor is ``not
    resolved`` (the measurement cannot tell them apart). Every note names the rejected and the
    surviving candidates, by the ``candidate`` entry of each record's params.
    """
    records = list(records)
    if not records:
        raise ValueError("judge_candidates needs at least one record, got none")
    names = []
    for r in records:
        if "candidate" not in r.params:
            raise ValueError(f"each record needs a 'candidate' param; {r.id} {r.params} has none")
        if r.verdict not in ("holds", "deviates"):
            raise ValueError(f"candidate records must be judged, got verdict {r.verdict!r}")
        names.append(str(r.params["candidate"]))
    rejected = [n for n, r in zip(names, records, strict=True) if r.verdict == "deviates"]
    survivors = [n for n, r in zip(names, records, strict=True) if r.verdict == "holds"]
    summary = (
        f"candidates rejected: {', '.join(rejected) or 'none'}; supported: "
        f"{', '.join(survivors) or 'none'}"
        + ("; more than one survives: not resolved" if len(survivors) > 1 else "")
    )
    out = []
    for r in records:
        verdict = "not resolved" if r.verdict == "holds" and len(survivors) > 1 else r.verdict
        out.append(replace(r, verdict=verdict, note="; ".join(s for s in (r.note, summary) if s)))
    return out


def ordering_record(
    id: str,
    params: Mapping[str, Any],
    *,
    diff: float,
    stderr: float,
    dof: int,
    claimed: str,
    margin: float = 0.0,
    level: float = 0.95,
    what: str = "difference",
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record for an ordering claim on a paired difference ``diff`` (``a - b``).

    ``claimed`` is ``"negative"`` (``a < b``), ``"positive"`` (``a > b``) or ``"nonpositive"``
    (``a`` at least as good as ``b``: ``a - b <= margin``, with a stated ``margin > 0``: an
    interval that merely contains 0 is no evidence of "as good as"). With the ``level``
    Student-t interval ``[low, high]`` of ``diff`` (``dof`` degrees of freedom):

    * negative: holds if ``high < 0``, deviates if ``low > 0``;
    * positive: holds if ``low > 0``, deviates if ``high < 0``;
    * nonpositive: holds if ``high <= margin``, deviates if ``low > margin``;

    and ``not resolved`` otherwise (the interval straddles 0 or the margin).
    """
    check_choice("claimed", claimed, ("negative", "positive", "nonpositive"))
    diff, stderr, margin = float(diff), float(stderr), float(margin)
    if not (stderr >= 0 and math.isfinite(stderr) and math.isfinite(diff)):
        raise ValueError(f"diff and stderr must be finite, stderr >= 0; got {diff!r}, {stderr!r}")
    if claimed == "nonpositive" and not margin > 0:
        raise ValueError(
            f"margin must be positive for claimed='nonpositive' (at least as good as), "
            f"got {margin!r}"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    dof = check_integer("dof", dof, minimum=1)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, dof)) * stderr
    lo, hi = diff - half, diff + half
    if claimed == "negative":
        verdict = "holds" if hi < 0 else ("deviates" if lo > 0 else "not resolved")
        ref = 0.0
    elif claimed == "positive":
        verdict = "holds" if lo > 0 else ("deviates" if hi < 0 else "not resolved")
        ref = 0.0
    else:
        verdict = "holds" if hi <= margin else ("deviates" if lo > margin else "not resolved")
        ref = margin
    ci = f"{what} = {diff:+.4g}, {100 * level:g}% CI [{lo:+.4g}, {hi:+.4g}] ({dof + 1} pairs)"
    if claimed == "nonpositive":
        ci += f"; margin {margin:.4g}"
    if verdict == "not resolved":
        ci += f" (the interval straddles {'the margin' if claimed == 'nonpositive' else '0'})"
    return ClaimRecord(
        id=id,
        statement=statement or CATALOGUE.get(id, ""),
        source=source,
        params=dict(params, claimed=claimed, margin=margin, ci_level=level, dof=dof),
        analytic=ref,
        numeric=diff,
        stderr=stderr,
        z=(diff - ref) / stderr if stderr > 0 else None,
        verdict=verdict,
        note="; ".join(s for s in (ci, note) if s),
        kind="ordering",
        low=lo,
        high=hi,
        resolvable=half,
    )


def deterministic_record(
    id: str,
    params: Mapping[str, Any],
    *,
    analytic: float,
    numeric: float,
    rtol: float = 1e-10,
    atol: float = 0.0,
    kind: str = "exact",
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """A record comparing two deterministic computations (exact vs numeric).

    ``holds`` if ``|numeric - analytic| <= atol + rtol |analytic|``; the tolerance is part
    of the record's params (and its ``resolvable``) so a reader sees what "holds" meant.
    """
    analytic, numeric = float(analytic), float(numeric)
    if not (math.isfinite(analytic) and math.isfinite(numeric)):
        raise ValueError(
            f"analytic and numeric must be finite, got analytic={analytic!r}, numeric={numeric!r}"
        )
    tol = atol + rtol * abs(analytic)
    ok = abs(numeric - analytic) <= tol
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
        kind=kind,
        resolvable=tol,
    )


def identity_record(id: str, params: Mapping[str, Any], **kw: Any) -> ClaimRecord:
    """A :func:`deterministic_record` of a check true by construction (kind ``identity``).

    It checks that the code computes what it should (e.g. PN = WN when the population and
    the weights are built so they coincide); it is not evidence for the claim, and summaries
    do not count it as such.
    """
    rec = deterministic_record(id, params, kind="identity", **kw)
    return replace(rec, note="; ".join(s for s in (rec.note, "identity: not evidence") if s))


def asymptotic_record(
    id: str,
    params: Mapping[str, Any],
    *,
    asymptote: float,
    exact: float,
    rtol: float = ASYMPTOTIC_RTOL,
    note: str = "",
    statement: str | None = None,
    source: str = "",
) -> ClaimRecord:
    """An asymptotic law judged against the exact value at one point, deterministically.

    ``holds`` if ``|asymptote - exact| <= rtol |exact|`` (default :data:`ASYMPTOTIC_RTOL`),
    else ``deviates`` with the relative error in the note. No Monte-Carlo enters the verdict,
    so where it flips does not depend on the number of trials; the exact value is checked
    against Monte-Carlo in its own (``exact``) record.
    """
    exact, asymptote = float(exact), float(asymptote)
    rec = deterministic_record(
        id,
        params,
        analytic=exact,
        numeric=asymptote,
        rtol=rtol,
        kind="asymptotic",
        note="; ".join(
            s
            for s in (
                note,
                f"asymptote/exact = {asymptote / exact:.4f}" if exact else "",
                f"judged against the exact value, rtol {rtol:g}",
            )
            if s
        ),
        statement=statement,
        source=source,
    )
    return rec


def open_record(
    id: str,
    params: Mapping[str, Any],
    *,
    numeric: float | None,
    stderr: float | None = None,
    note: str,
    analytic: float | None = None,
    low: float | None = None,
    high: float | None = None,
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
        kind="open",
        low=_float_or_none(low),
        high=_float_or_none(high),
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
        from .seeding import seed_sequence

        return seed_sequence(self.seed, tuple(key))

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

#: The entry-point group naming the modules that register checks (``pyproject.toml``).
CHECKS_GROUP = "regnorm.checks"

_checks_loaded = False


def load_checks() -> list[str]:
    """Import every module declared under the entry-point group :data:`CHECKS_GROUP`.

    Importing a module runs its :func:`claim` decorators, which register its checks. The
    modules are imported once per interpreter; later calls return at once.

    Returns
    -------
    list of str
        The names of the modules declared (empty when regnorm's metadata declares none).

    Raises
    ------
    ImportError
        When a declared module cannot be imported (an installation that lacks the package
        named by the entry point); the message names the entry point.
    """
    global _checks_loaded
    from importlib.metadata import entry_points

    points = sorted(entry_points(group=CHECKS_GROUP), key=lambda ep: ep.name)
    if _checks_loaded:
        return [ep.value for ep in points]
    # Set before importing: a check module that asks for the registry while it is being
    # imported must not start the loading again.
    _checks_loaded = True
    for ep in points:
        try:
            ep.load()
        except ImportError as exc:
            _checks_loaded = False
            raise ImportError(
                f"entry point {ep.name} = {ep.value!r} of group {CHECKS_GROUP!r} cannot be "
                f"imported ({exc}); reinstall regnorm with its packages (pip install -e .)"
            ) from exc
    return [ep.value for ep in points]


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
    """The registered checks by claim id, in claim order (declared check modules loaded)."""
    load_checks()
    return {k: list(_REGISTRY[k]) for k in sorted(_REGISTRY, key=_claim_sort_key)}


def resolve_ids(ids: str | Sequence[str] | None) -> list[str]:
    """Validate a selection of claim ids; None means all registered.

    Parameters
    ----------
    ids : str, sequence of str or None
        Comma-separated ids (``"C1,C5"``) or a sequence of single ids (``["C1", "C5"]``).
        Case and white space around an id are ignored (``" c5 "`` is ``C5``).

    Returns
    -------
    list of str
        The canonical ids (``"C5"``) in the order given.

    Raises
    ------
    ValueError
        For an empty selection or an empty item (``"C5,,C7"``), an id named twice
        (``"C5,c5"``), an id not in THEORY.md, and an id of THEORY.md that has no registered
        check yet; the message names the offending item.
    TypeError
        For an item that is not a string.
    """
    if ids is None:
        return list(registered())
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
    have = registered()
    unregistered = [cid for cid in out if cid not in have]
    if unregistered:
        if not have:
            raise ValueError(
                f"claim {unregistered[0]}: no check is registered, and no module is declared "
                f"under the entry-point group {CHECKS_GROUP!r}; reinstall regnorm "
                f"(pip install -e .) so that its entry points exist"
            )
        raise ValueError(
            f"claim {unregistered[0]} is in THEORY.md but no check is registered for it yet; "
            f"registered: {', '.join(have)}"
        )
    return out


def run_claims(
    ids: str | Sequence[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    executor: Any = None,
    progress: bool | None = None,
) -> list[ClaimRecord]:
    """Run the checks for ``ids`` (all registered if None) and return their records.

    Parameters
    ----------
    ids : str, sequence of str or None
        The claims to check, as for :func:`resolve_ids` (``"C13"``, ``"C1,C5"``,
        ``["C1", "C5"]``); None runs every registered check. The check modules are found
        through their entry points, so nothing but ``import regnorm`` is needed first.
    quick : bool
        Run each check at its small, fast size (the size of ``regnorm verify --quick``).
    seed : int
        Root seed; every check derives its streams from it (:meth:`CheckContext.rng`).
    executor : optional
        An executor spec for :func:`regnorm.sweeps.sweep`, used by the checks that run
        sweeps (None: in process).
    progress : bool or None
        Draw a progress bar over the checks (None: on a terminal or in a notebook only).

    Returns
    -------
    list of ClaimRecord
        One or more records per check, with the verdict in ``verdict``; see
        :func:`records_to_frame` for a table.
    """
    seed = check_integer("seed", seed, minimum=0)
    selected = resolve_ids(ids) if ids is None or len(ids) else []
    ctx = CheckContext(quick=quick, seed=seed, executor=executor)
    from .sweeps import progress_bar

    records: list[ClaimRecord] = []
    have = registered()
    checks = [c for cid in selected for c in have[cid]]
    for c in progress_bar(checks, desc="claims", progress=progress):
        for rec in c.check(ctx):
            if not isinstance(rec, ClaimRecord):
                raise TypeError(f"check {c.name} returned {type(rec).__name__}, not ClaimRecord")
            records.append(rec)
    return records


#: Parameters that get a column of their own in :func:`records_to_frame` (where numeric).
FRAME_PARAMS = ("M", "N", "alpha", "z", "gamma", "dof")


def records_to_frame(records: Iterable[ClaimRecord]):
    """Records as a pandas DataFrame, one row per record, parameters as structured data.

    ``params`` is the record's parameter dict as a JSON string (``json.loads`` gives it back
    with its types), and each of :data:`FRAME_PARAMS` gets a float column ``param_<name>``
    (NaN where a record lacks it or has a non-numeric value), so a table can be filtered
    without parsing. ``statement`` and ``kind`` are columns of their own.
    """
    import json

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
