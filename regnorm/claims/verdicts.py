"""The verdict rules: how a record judges a measurement against its claim.

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

One builder per kind of record (:data:`~regnorm.claims.KINDS`): :func:`statistical_record` and
:func:`deterministic_record` (``exact``), :func:`asymptotic_record` (a law claimed as ``M`` or
``N`` grows, judged against the exact value), :func:`identity_record` (true by construction:
a check of the code, not evidence for the claim), :func:`ordering_record` (one method better
than another) and :func:`open_record`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..estimates import t_half_width
from ..validation import check_choice, check_integer
from .catalogue import CATALOGUE
from .records import ClaimRecord

__all__ = [
    "ASYMPTOTIC_RTOL",
    "DEFAULT_Z_BOUND",
    "FALSE_ALARM",
    "asymptotic_record",
    "deterministic_record",
    "identity_record",
    "judge_candidates",
    "open_record",
    "ordering_record",
    "statistical_record",
    "t_bound",
]

#: ``|z|`` bound for a statistical "holds" verdict: a correct formula fails it with probability
#: about 6e-7 per record, so a failing record is a finding, not bad luck.
DEFAULT_Z_BOUND = 5.0

#: Two-sided false-alarm rate of a statistical verdict: that of ``|z| <= DEFAULT_Z_BOUND``
#: for a normal ``z``; with few degrees of freedom the bound is the t quantile at this rate.
FALSE_ALARM = math.erfc(DEFAULT_Z_BOUND / math.sqrt(2.0))

#: Relative tolerance within which an asymptotic law "holds" against the exact value at one
#: parameter point. A first-order law is an approximation, so its verdict needs a stated
#: accuracy: 5% is about the width of a plotted marker on the log-log figures the laws are
#: read from, so "holds" means "indistinguishable from the exact curve by eye" and the
#: deterministic boundary (the first M where it holds) does not move with the budget.
ASYMPTOTIC_RTOL = 0.05


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
    half = t_half_width(stderr, dof, level)
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
