"""Reading claim records: the per-claim summary, readable tables and the README's findings.

The report of a run (``REPORT.md``) and the README's "Findings at a glance" are built here from
:class:`~regnorm.claims.ClaimRecord` lists, so the two never say different things about the
same records. This module takes records and paths only; the caller supplies anything that
comes from the figure scripts (their captions).

Run ``python -m regnorm.report --update-readme`` to rewrite the README block from the snapshot
of the ``--quick`` records in ``docs/claims_quick.json``; ``--check`` exits with code 1 when
the block is stale.
"""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .claims import CATALOGUE, VERDICTS, ClaimRecord, records_from_json

__all__ = [
    "README_END",
    "README_START",
    "claim_sections",
    "claims_table",
    "figures_section",
    "findings_table",
    "format_number",
    "readme_block",
    "read_records",
    "summary_line",
    "update_readme",
]

README_START = "<!-- findings:start -->"
README_END = "<!-- findings:end -->"
#: The repository's snapshot of ``regnorm verify --quick --json`` (the README is built on it).
SNAPSHOT = Path("docs") / "claims_quick.json"
#: Widest note line in a per-claim section: a page a researcher reads, not a log.
NOTE_WIDTH = 120
#: Parameters that say how a record was computed or judged, not where it was measured.
_SETTINGS = (
    *("seed", "trials", "replicates", "quick", "z_bound", "dof", "bound", "rtol", "atol"),
    *("claimed", "margin", "ci_level"),
)


def read_records(path: str | Path) -> list[ClaimRecord]:
    """The records of a JSON file written by ``regnorm verify --json`` or a run folder.

    Raises
    ------
    ValueError
        If the file is not a JSON list of records.
    """
    try:
        return records_from_json(Path(path).read_bytes())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"path {str(path)!r} holds no claim records: {exc}") from None


def format_number(x: Any, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits; ``-`` for None or NaN, ``str`` for the rest."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def claims_table(records: Sequence[ClaimRecord], markdown: bool = False) -> str:
    """A fixed-width (or Markdown) table of claim records, one row per record."""
    header = ["id", "verdict", "params", "analytic", "numeric", "stderr", "z", "note"]
    rows = []
    for r in records:
        params = ", ".join(f"{k}={format_number(v)}" for k, v in r.params.items())
        rows.append(
            [
                r.id,
                r.verdict,
                params,
                format_number(r.analytic, 6),
                format_number(r.numeric, 6),
                format_number(r.stderr, 2),
                format_number(r.z, 3),
                r.note,
            ]
        )
    if markdown:
        esc = [[c.replace("|", "\\|") for c in row] for row in rows]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in esc]
        return "\n".join(lines)
    widths = [
        max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
        for i in range(len(header) - 1)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + "  note"]
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    return "\n".join(lines)


def summary_line(records: Sequence[ClaimRecord]) -> str:
    """One line: the records, the claims, the verdict counts of the evidence, the identities."""
    evidence = [r for r in records if r.evidence]
    counts = ", ".join(f"{sum(r.verdict == v for r in evidence)} {v}" for v in VERDICTS)
    claims = len({r.id for r in records})
    identities = len(records) - len(evidence)
    return f"{len(records)} records on {claims} claims: {counts}; {identities} identities"


def _fixed(rs: Sequence[ClaimRecord]) -> dict[str, Any]:
    """The parameters every one of ``rs`` has with one value (said once, not per record)."""
    if len(rs) < 2:
        return {}
    first = rs[0].params
    return {
        k: v
        for k, v in first.items()
        if k not in _SETTINGS and all(k in r.params and repr(r.params[k]) == repr(v) for r in rs)
    }


def _params(r: ClaimRecord, among: Sequence[ClaimRecord] = ()) -> str:
    """``r``'s parameters as ``k=v``, less settings and those fixed across ``among``."""
    fixed = _fixed(among)
    return ", ".join(
        f"{k}={format_number(v, 3)}"
        for k, v in r.params.items()
        if k not in _SETTINGS and k not in fixed
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _by_claim(records: Iterable[ClaimRecord]) -> dict[str, list[ClaimRecord]]:
    out: dict[str, list[ClaimRecord]] = {}
    for r in records:
        out.setdefault(r.id, []).append(r)
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][1:])))


def _abs_z(r: ClaimRecord) -> float:
    return abs(r.z) if r.z is not None and math.isfinite(r.z) else -1.0


def _counts(rs: Sequence[ClaimRecord]) -> str:
    evidence = [r for r in rs if r.evidence]
    parts = [f"{sum(r.verdict == v for r in evidence)} {v}" for v in VERDICTS]
    return ", ".join(p for p in parts if not p.startswith("0 ")) or "none"


def _measured(r: ClaimRecord, among: Sequence[ClaimRecord]) -> str:
    z = f", z = {r.z:.2f}" if _abs_z(r) >= 0 else ""
    where = _params(r, among) or "its one point"
    return f"{format_number(r.numeric)} vs {format_number(r.analytic)}{z} at {where}"


def _headline(rs: Sequence[ClaimRecord]) -> str:
    """The number that sums a claim up: its worst deviation, else its largest |z|."""
    evidence = [r for r in rs if r.evidence]
    deviating = [r for r in evidence if r.verdict == "deviates"]
    if deviating:
        worst = max(deviating, key=_abs_z)
        return f"worst deviation: {_measured(worst, rs)}"
    judged = [r for r in evidence if _abs_z(r) >= 0]
    if judged:
        worst = max(judged, key=_abs_z)
        return f"largest |z| = {abs(worst.z):.2f} ({_params(worst, rs) or 'its one point'})"
    opened = [r for r in evidence if r.verdict in ("open", "not resolved")]
    if opened:
        return f"{opened[0].verdict}: {_first_clause(opened[0].note)}"
    return "exact to the comparison's tolerance" if evidence else "identities only"


def _first_clause(note: str, width: int = 160) -> str:
    clause = note.split("; ")[0].strip()
    return textwrap.shorten(clause, width=width, placeholder=" ...") if clause else "no note"


def _deviations(rs: Sequence[ClaimRecord]) -> str:
    """One sentence on a claim's deviations, from the deviating records' own notes.

    Records are grouped by their statement, since one claim's records often test different
    laws (an exact value and its asymptote); a parameter value that all of a group's
    deviations share, and not all its records, is said: that is where the law fails.
    """
    parts = []
    for statement in dict.fromkeys(r.statement for r in rs if r.evidence):
        group = [r for r in rs if r.evidence and r.statement == statement]
        deviating = [r for r in group if r.verdict == "deviates"]
        if not deviating:
            continue
        worst = max(deviating, key=_abs_z)
        shared = {
            k: v
            for k, v in worst.params.items()
            if k not in _SETTINGS
            and all(r.params.get(k) == v for r in deviating)
            and any(r.params.get(k) != v for r in group)
        }
        there, failing = "", ""
        if shared:
            at = [r for r in group if all(r.params.get(k) == v for k, v in shared.items())]
            values = ", ".join(f"{k}={format_number(v, 3)}" for k, v in shared.items())
            there = f", all at {values} ({len(deviating)} of the {len(at)} there)"
        if len(deviating) < len(group) and not (shared and len(at) == len(deviating)):
            failing = _all_deviate(group)
        if failing:
            there += f"; every record deviates at {failing}"
        label = "" if statement == CATALOGUE[worst.id] else f"{statement}: "
        parts.append(
            f"{label}{len(deviating)} of {len(group)} records deviate{there}; worst at "
            f"{_params(worst, rs) or 'its one point'}: {_first_clause(worst.note)}"
        )
    return ". ".join(parts) + "." if parts else ""


def _all_deviate(group: Sequence[ClaimRecord], most: int = 3) -> str:
    """The parameter values (``M=4``) at which every one of two or more records deviates."""
    found = []
    for k in dict.fromkeys(k for r in group for k in r.params if k not in _SETTINGS):
        values = dict.fromkeys(repr(r.params.get(k)) for r in group)
        if len(values) < 2:
            continue
        for v in values:
            at = [r for r in group if repr(r.params.get(k)) == v]
            if len(at) >= 2 and all(r.verdict == "deviates" for r in at):
                found.append(
                    f"{k}={format_number(at[0].params.get(k), 3)} ({len(at)} of {len(at)})"
                )
    return ", ".join(found[:most]) + (", ..." if len(found) > most else "")


def findings_table(records: Iterable[ClaimRecord], statements: bool = True) -> str:
    """The per-claim summary as a Markdown table.

    Parameters
    ----------
    records : iterable of ClaimRecord
        Any claims' records; identities are counted apart from the evidence.
    statements : bool
        Whether to include the catalogue's statement of each claim.

    Returns
    -------
    str
        One row per claim: its verdict counts, identities, headline number and, where records
        deviate, one sentence from their notes.
    """
    header = ["claim", *(["statement"] if statements else []), "verdicts", "identities"]
    header += ["headline", "deviations"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cid, rs in _by_claim(records).items():
        row = [cid, *([CATALOGUE[cid]] if statements else []), _counts(rs)]
        row += [str(sum(not r.evidence for r in rs)), _headline(rs), _deviations(rs) or "-"]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def claim_sections(records: Iterable[ClaimRecord], note_width: int = NOTE_WIDTH) -> list[str]:
    """Per-claim Markdown sections: statement, a table of the records, their notes below.

    A record's note is wrapped to ``note_width`` characters under the table, keyed by the
    record's row number, so the table stays a few columns wide.
    """
    lines: list[str] = []
    header = "| # | statement | params | analytic | numeric ± stderr | interval | verdict |"
    for cid, rs in _by_claim(records).items():
        lines += [f"### {cid}", "", CATALOGUE[cid], "", f"Verdicts: {_counts(rs)}."]
        identities = sum(not r.evidence for r in rs)
        if identities:
            lines[-1] += f" Identities (checks of the code, not evidence): {identities}."
        fixed = _fixed(rs)
        if fixed:
            values = ", ".join(f"{k}={format_number(v, 3)}" for k, v in fixed.items())
            lines += ["", f"In every record: {values}."]
        lines += ["", header, "|---|---|---|---|---|---|---|"]
        notes = []
        for i, r in enumerate(rs, 1):
            statement = "(the claim)" if r.statement == CATALOGUE[cid] else r.statement
            se = f" ± {format_number(r.stderr, 2)}" if r.stderr else ""
            interval = (
                f"[{format_number(r.low)}, {format_number(r.high)}]" if r.low is not None else "-"
            )
            verdict = r.verdict if r.evidence else f"{r.verdict} (identity)"
            row = [str(i), statement, _params(r, rs) or "-", format_number(r.analytic, 6)]
            row += [f"{format_number(r.numeric, 6)}{se}", interval, verdict]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
            if r.note:
                notes.append(textwrap.fill(f"{i}. {r.note}", width=note_width))
        if notes:
            lines += ["", "Notes:", "", *notes]
        lines.append("")
    return lines


def figures_section(figures: Sequence[tuple[str, str]]) -> list[str]:
    """Markdown lines embedding each ``(file name, caption)`` image with its caption."""
    lines: list[str] = []
    for name, caption in figures:
        lines += [f"![{_cell(caption)}]({name})", "", f"*{name}: {caption}*", ""]
    return lines


def readme_block(records: Iterable[ClaimRecord]) -> str:
    """The README's "Findings at a glance" block, markers included."""
    records = list(records)
    evidence = [r for r in records if r.evidence]
    total = ", ".join(f"{sum(r.verdict == v for r in evidence)} {v}" for v in VERDICTS)
    return "\n".join(
        [
            README_START,
            "<!-- generated by `python -m regnorm.report --update-readme` from "
            f"{SNAPSHOT.as_posix()}; do not edit by hand -->",
            "",
            f"From the `--quick` records ({len(records)} on {len(_by_claim(records))} claims: "
            f"{total}; {len(records) - len(evidence)} identities, which check the code and "
            "are not evidence):",
            "",
            findings_table(records, statements=False),
            README_END,
        ]
    )


def update_readme(readme: str | Path, records: Iterable[ClaimRecord]) -> bool:
    """Replace the block between the markers of ``readme``; True if it changed.

    Raises
    ------
    ValueError
        If ``readme`` lacks either marker or has them out of order.
    """
    path = Path(readme)
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"readme {str(path)!r} needs {README_START!r} followed by {README_END!r}")
    new = text[:start] + readme_block(records) + text[end + len(README_END) :]
    if new != text:
        path.write_text(new)
    return new != text


def readme_is_current(readme: str | Path, records: Iterable[ClaimRecord]) -> bool:
    """Whether the README's block is the one :func:`readme_block` builds from ``records``."""
    return readme_block(records) in Path(readme).read_text()


#: The numeric fields of a record that two runs of the same computation must reproduce.
COMPARED_NUMBERS = ("analytic", "numeric", "stderr", "z", "low", "high", "resolvable")


def _same_number(a: Any, b: Any, rtol: float) -> bool:
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def compare_records(
    old: Iterable[ClaimRecord], new: Iterable[ClaimRecord], *, rtol: float = 1e-12
) -> dict[str, list[str]]:
    """What differs between two runs' records, matched by claim id and order within the id.

    Returns ``{"numbers": [...], "verdicts": [...], "labels": [...], "missing": [...]}``, one
    line per difference: ``numbers`` for a numeric field or a numeric parameter that differs by
    more than ``rtol`` (relative), ``verdicts`` for a changed verdict, ``labels`` for a changed
    text parameter or a parameter renamed with its value kept (the numbers may still be the
    same computation), and
    ``missing`` for claims whose number of records differs.
    """
    out: dict[str, list[str]] = {"numbers": [], "verdicts": [], "labels": [], "missing": []}
    by_id: dict[str, tuple[list, list]] = {}
    for side, recs in enumerate((old, new)):
        for r in recs:
            by_id.setdefault(r.id, ([], []))[side].append(r)
    for cid, (a_list, b_list) in by_id.items():
        if len(a_list) != len(b_list):
            out["missing"].append(f"{cid}: {len(a_list)} records before, {len(b_list)} after")
        for k, (a, b) in enumerate(zip(a_list, b_list, strict=False)):
            where = f"{cid}[{k}]"
            if a.verdict != b.verdict:
                out["verdicts"].append(f"{where}: {a.verdict} -> {b.verdict}")
            for f in COMPARED_NUMBERS:
                x, y = getattr(a, f, None), getattr(b, f, None)
                if not _same_number(x, y, rtol):
                    out["numbers"].append(f"{where} {f}: {x!r} -> {y!r}")
            gone = {k: a.params[k] for k in a.params.keys() - b.params.keys()}
            came = {k: b.params[k] for k in b.params.keys() - a.params.keys()}
            renamed = set()
            for old_key, value in sorted(gone.items()):
                # a parameter renamed with its value unchanged is a label change
                twins = [k for k, v in came.items() if v == value and k not in renamed]
                if len(twins) == 1:
                    renamed |= {old_key, twins[0]}
                    out["labels"].append(f"{where} params key {old_key!r} -> {twins[0]!r}")
            for key in sorted((set(a.params) | set(b.params)) - renamed):
                x, y = a.params.get(key), b.params.get(key)
                if x == y:
                    continue
                numbers = [isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)]
                if all(numbers) and _same_number(x, y, rtol):
                    continue
                numeric = any(numbers)
                kind = "numbers" if numeric else "labels"
                out[kind].append(f"{where} params[{key!r}]: {x!r} -> {y!r}")
    return out


def _print_comparison(diff: dict[str, list[str]]) -> None:
    """Each kind's count, then its differences with the same change folded into one line
    (``C4[*] params['center']: None -> True  (96 records)``)."""
    import re
    from collections import Counter

    for kind in ("missing", "verdicts", "numbers", "labels"):
        lines = diff[kind]
        print(f"{kind}: {len(lines)}")
        folded = Counter(re.sub(r"^(C\d+)\[\d+\]", r"\1[*]", line) for line in lines)
        for line, n in list(folded.items())[:200]:
            print(f"  {line}" + (f"  ({n} records)" if n > 1 else ""))
        if len(folded) > 200:
            print(f"  ... and {len(folded) - 200} more")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m regnorm.report [--update-readme | --check | --compare OLD NEW]``.

    ``--compare OLD NEW`` prints what differs between two records files (see
    :func:`compare_records`) and exits 1 if a verdict, a number or the number of records
    differs (changed text labels alone exit 0).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m regnorm.report", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update-readme", action="store_true", help="rewrite the block")
    mode.add_argument("--check", action="store_true", help="exit 1 if the block is stale")
    mode.add_argument(
        "--compare",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="compare two records JSON files (exit 1 if verdicts or numbers differ)",
    )
    parser.add_argument("--snapshot", default=str(SNAPSHOT), help="records JSON")
    parser.add_argument("--readme", default="README.md", help="README with the markers")
    args = parser.parse_args(argv)
    try:
        if args.compare:
            diff = compare_records(*(read_records(f) for f in args.compare))
            _print_comparison(diff)
            return 1 if diff["missing"] or diff["verdicts"] or diff["numbers"] else 0
        records = read_records(args.snapshot)
        if args.check:
            current = readme_is_current(args.readme, records)
            if not current:
                print(f"{args.readme}: findings block is stale", file=sys.stderr)
            return 0 if current else 1
        changed = update_readme(args.readme, records)
    except (OSError, ValueError) as exc:
        print(f"regnorm.report: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.readme}: {'rewritten' if changed else 'already current'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
