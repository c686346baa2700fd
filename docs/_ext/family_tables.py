"""The tables of the family pages (``docs/families/*.md``), generated from stored claim records.

A page marks each generated block with ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``;
everything between the two markers is rewritten from the records, so every number a page
quotes about a claim comes from them, and the text around the blocks quotes none. The records
are the full-size run stored in ``docs/records/full.json`` (the claims of one
``regnorm reproduce``, with its run facts in ``docs/records/full_run.json``) and the
``--quick`` snapshot ``docs/claims_quick.json`` that the README's findings are built on.

Run ``python docs/_ext/family_tables.py --update`` to rewrite the blocks; ``--check`` exits
with code 1 when one is stale. As a Sphinx extension (``family_tables`` in ``conf.py``) it
warns about a stale page, which fails a build run with ``-W``.

The module reads record files only: the simulations that produce records are not imported,
so a page can be rebuilt from the records wherever the package is installed. Records written
before a parameter or a label was renamed (the stored full-size run) are read through one
explicit table, :data:`RENAMED`, so the pages show the current names whichever code wrote
a record file.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from regnorm.claims import VERDICTS, ClaimRecord
from regnorm.report import claim_sections, findings_table, format_number, read_records

DOCS = Path(__file__).resolve().parents[1]
PAGES = DOCS / "families"
FULL = DOCS / "records" / "full.json"
FULL_RUN = DOCS / "records" / "full_run.json"
QUICK = DOCS / "claims_quick.json"
COMMAND = "python docs/_ext/family_tables.py --update"

START = re.compile(r"<!-- table:([a-z0-9_]+) -->")
#: Parameters that say how a record was judged, not where it was measured.
_JUDGING = ("seed", "z_bound", "dof", "bound", "rtol", "atol", "claimed", "margin", "ci_level")
#: How a verdict is marked in a cell ("holds" unmarked: most cells hold).
MARKS = {"holds": "", "deviates": " ✗", "not resolved": " ?", "open": ""}
LEGEND = "✗ deviates, ? not resolved, unmarked holds; – no record."


@dataclass(frozen=True)
class Records:
    """The records a page's tables are made from.

    Attributes
    ----------
    full : list of ClaimRecord
        The full-size run's records.
    quick : list of ClaimRecord
        The ``--quick`` snapshot's records.
    run : dict
        Facts of the full-size run: ``commit``, ``command``, ``settings`` and per claim
        ``records`` and ``wall_s``.
    """

    full: list[ClaimRecord]
    quick: list[ClaimRecord]
    run: dict[str, Any]


# --- the names of older records ------------------------------------------------------------


def _variance(std: float) -> float:
    return std * std


#: The parameters of records written before the names were unified, and their current names:
#: per claim (``"*"``: every claim), ``old parameter -> (current parameter, values)`` where
#: ``values`` maps old values to current ones (a value it does not name is kept) or converts
#: them (the label noise's standard deviation ``delta`` to its variance ``delta2``).
RENAMED: dict[str, dict[str, tuple[str, Mapping[Any, Any] | Callable[[Any], Any]]]] = {
    "*": {
        "centred": ("center", {}),
        "n_seeds": ("repetitions", {}),
        "reps": ("repetitions", {}),
    },
    "C8": {
        "variant": (
            "variant",
            {
                "bn": "batch_norm",
                "bn_uncentred": "batch_norm_rms",
                "wn_mean_only": "batch_norm_mean",
                "wn_variance_only": "batch_norm_variance",
            },
        ),
    },
    "C9": {"delta": ("delta2", _variance)},
    "C10": {
        "delta": ("delta2", _variance),
        "method": (
            "method",
            {"wn_mean_bn": "batch_norm_mean", "wn_variance_bn": "batch_norm_variance"},
        ),
        "compared_with": ("compared_with", {"bn": "batch_norm", "wn": "weight_norm"}),
    },
    "C11": {"delta": ("delta2", _variance)},
    "C12": {"delta": ("delta2", _variance)},
    "C22": {"normalizer": ("normalizer", {"KernelNorm": "KN"})},
}
#: The same labels where the notes of older records name them, as whole words, per claim
#: (C8's note opens with the variant; C10's names the methods, plain SGD now ``none``).
RENAMED_IN_NOTES: dict[str, dict[str, str]] = {
    "C8": dict(RENAMED["C8"]["variant"][1]),
    "C10": {
        "sgd": "none",
        "wn": "weight_norm",
        "wn_mean_bn": "batch_norm_mean",
        "wn_variance_bn": "batch_norm_variance",
        "bn": "batch_norm",
    },
}


def _note_words(claim: str) -> re.Pattern[str] | None:
    words = RENAMED_IN_NOTES.get(claim)
    if not words:
        return None
    # longest first, and never inside a longer name (``mean_only_bn``, ``BN-var``)
    names = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    return re.compile(rf"(?<![\w-])({names})(?![\w-])")


def current_names(r: ClaimRecord) -> ClaimRecord:
    """``r`` with its parameters under their current names (:data:`RENAMED`), in their order,
    and its note's labels too (:data:`RENAMED_IN_NOTES`).

    Raises
    ------
    ValueError
        If a record holds a parameter under its old and its current name both.
    """
    renames = {**RENAMED["*"], **RENAMED.get(r.id, {})}
    params: dict[str, Any] = {}
    for key, value in r.params.items():
        name, values = renames.get(key, (key, {}))
        if name in params:
            raise ValueError(
                f"a {r.id} record has the parameter {name!r} twice (as {key!r}): {r.params}"
            )
        if callable(values):
            value = values(value)
        elif isinstance(value, str | int | float | bool):
            value = values.get(value, value)
        params[name] = value
    note = r.note
    if (words := _note_words(r.id)) is not None:
        note = words.sub(lambda m: RENAMED_IN_NOTES[r.id][m[1]], note)
    if list(params.items()) == list(r.params.items()) and note == r.note:
        return r
    return replace(r, params=params, note=note)


def read_current(path: Path) -> list[ClaimRecord]:
    """The records of ``path`` under the current names."""
    return [current_names(r) for r in read_records(path)]


def load(full: Path = FULL, quick: Path = QUICK, run: Path = FULL_RUN) -> Records:
    """The stored records under the current names (each path defaults to the repository's)."""
    return Records(read_current(full), read_current(quick), json.loads(Path(run).read_text()))


# --- selection and cells -------------------------------------------------------------------


def select(records: Iterable[ClaimRecord], claim: str, statement: str = "", **params: Any):
    """The records of ``claim`` whose statement starts with ``statement`` and whose
    parameters equal ``params``."""
    return [
        r
        for r in records
        if r.id == claim
        and r.statement.startswith(statement)
        and all(r.params.get(k) == v for k, v in params.items())
    ]


def _truth_over_law(r: ClaimRecord) -> float:
    """The true value over the law's: an asymptotic record judged against an exact value
    holds the law in ``numeric`` and the exact value in ``analytic``; one judged by
    Monte Carlo holds the measurement in ``numeric`` and the law in ``analytic``."""
    if r.stderr == 0:
        return r.analytic / r.numeric
    return r.numeric / r.analytic


def _truth_and_law(r: ClaimRecord) -> tuple[float, float]:
    return (r.analytic, r.numeric) if r.stderr == 0 else (r.numeric, r.analytic)


def ratio_cell(r: ClaimRecord, digits: int = 3) -> str:
    """The true value over the law's, the verdict marked."""
    return f"{_truth_over_law(r):.{digits}f}{MARKS[r.verdict]}"


def _signed(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:+.{digits}f}"


def _interval(r: ClaimRecord, digits: int = 3) -> str:
    if r.low is None or r.high is None:
        return "-"
    return f"[{format_number(r.low, digits)}, {format_number(r.high, digits)}]"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def pivot(
    records: Sequence[ClaimRecord],
    rows: Sequence[str],
    column: str,
    cell: Callable[[ClaimRecord], str],
    name: Callable[[Any], str] = str,
) -> list[str]:
    """A table of one cell per record: a row per value of the ``rows`` parameters (in the
    records' order, each value shown as ``name(value)``), a column per value of ``column``
    (sorted), ``–`` where there is no record."""
    keys = list(dict.fromkeys(tuple(r.params.get(k) for k in rows) for r in records))
    columns = sorted(dict.fromkeys(r.params.get(column) for r in records))
    at = {(tuple(r.params.get(k) for k in rows), r.params.get(column)): r for r in records}
    body = [
        [*map(name, key), *(cell(at[key, c]) if (key, c) in at else "–" for c in columns)]
        for key in keys
    ]
    return _table([*rows, *(f"{column}={c}" for c in columns)], body)


def counts(records: Iterable[ClaimRecord]) -> str:
    """``"58 holds, 26 deviates"`` over the records that are evidence (identities apart)."""
    evidence = [r for r in records if r.evidence]
    parts = [f"{sum(r.verdict == v for r in evidence)} {v}" for v in VERDICTS]
    return ", ".join(p for p in parts if not p.startswith("0 ")) or "none"


def _seconds(s: float) -> str:
    return f"{s:.0f}" if s >= 100 else f"{s:.3g}"


def _max_abs_z(records: Iterable[ClaimRecord]) -> str:
    zs = [abs(r.z) for r in records if r.z is not None and math.isfinite(r.z)]
    return f"{max(zs):.2f}" if zs else "-"


def fixed_params(records: Sequence[ClaimRecord]) -> str:
    """The parameters all ``records`` share (judging settings left out), as ``k=v``."""
    first = records[0].params
    same = {
        k: v
        for k, v in first.items()
        if k not in _JUDGING and all(repr(r.params.get(k)) == repr(v) for r in records)
    }
    return ", ".join(f"{k}={format_number(v, 4)}" for k, v in same.items())


def summary_rows(groups: Sequence[tuple[str, Sequence[ClaimRecord]]]) -> list[str]:
    """One row per group of records: verdict counts and the largest |z|."""
    rows = [[name, str(len(rs)), counts(rs), _max_abs_z(rs)] for name, rs in groups if rs]
    return _table(["records", "n", "verdicts", "max \\|z\\|"], rows)


# --- blocks shared by every page -----------------------------------------------------------


def provenance(rec: Records) -> str:
    """Where the full-size records come from, in one sentence."""
    run = rec.run
    return (
        f"Full-size records: `{FULL.relative_to(DOCS.parent).as_posix()}`, the "
        f"{len(rec.full)} claims records of {run['command']} at commit {run['commit']}."
    )


def verdicts(rec: Records, claims: Sequence[str]) -> str:
    """The family's findings (the summary ``REPORT.md`` opens with) and both sizes' counts."""
    full = [r for r in rec.full if r.id in claims]
    quick = [r for r in rec.quick if r.id in claims]
    seconds = sum(rec.run["claims"][c]["wall_s"] for c in claims)
    rows = [
        [
            c,
            counts(select(full, c)),
            counts(select(quick, c)),
            _seconds(rec.run["claims"][c]["wall_s"]),
        ]
        for c in claims
    ]
    lines = [
        provenance(rec),
        f"These claims took {_seconds(seconds)} s of that run (wall clock).",
        "",
        findings_table(full),
        "",
        f"Verdicts at both sizes (quick: `{QUICK.relative_to(DOCS.parent).as_posix()}`, "
        "the `regnorm verify --quick` snapshot the README's findings are built on); "
        "identities are not counted:",
        "",
        *_table(["claim", "full size", "quick", "full-size run, s"], rows),
    ]
    return "\n".join(lines)


def figure_times(rec: Records, names: Sequence[str]) -> str:
    """How long each figure script took in the full-size run."""
    rows = [[f"`{n}`", _seconds(rec.run["figures"][n]["wall_s"])] for n in names]
    return "\n".join(
        [
            f"Wall clock of the figure scripts in the run at commit {rec.run['commit']} "
            "(default sizes; a shared machine):",
            "",
            *_table(["figure", "s"], rows),
        ]
    )


def sections(
    rec: Records, claims: Sequence[str], keep: Callable[[ClaimRecord], bool] = lambda r: True
) -> str:
    """Every full-size record of ``claims`` (that ``keep`` keeps) in a table, its note below
    (as in ``REPORT.md``)."""
    records = [r for r in rec.full if r.id in claims and keep(r)]
    lines: list[str] = []
    for line in "\n".join(claim_sections(records)).splitlines():
        if line.startswith("### "):
            line = f"### Records of {line[4:]}"
        # a wrapped note's next line can start like a list item ("+ dropout"): keep one item
        # per line so Markdown reads each note as one
        if lines and re.match(r"\d+\. ", lines[-1]) and line and not re.match(r"\d+\. ", line):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "\n".join(lines).rstrip()


# --- batch noise (C1-C4, C13) ----------------------------------------------------------------

BATCH_NOISE = ("C1", "C2", "C3", "C4", "C13")


def c1_exact(rec: Records) -> str:
    rs = select(rec.full, "C1", "exact finite-M")
    exact = pivot(rs, ["convention"], "M", lambda r: f"{r.params['M'] * r.analytic:.4f}")
    z = pivot(rs, ["convention"], "M", lambda r: _signed(r.z) + MARKS[r.verdict])
    return "\n".join(
        [
            "`M·error` of the exact finite-M form (the records' `analytic`; 1.5 is the "
            "`3/(2M)` asymptote):",
            "",
            *exact,
            "",
            f"z of the Monte-Carlo estimate against it ({fixed_params(rs)}):",
            "",
            *z,
            "",
            LEGEND,
        ]
    )


def c1_laws(rec: Records) -> str:
    asym = select(rec.full, "C1", "error ~ 3/(2M)")
    other = select(rec.full, "C1", "error ~ (rho+6)")
    return "\n".join(
        [
            "Exact error over the `3/(2M)` asymptote (deterministic; the verdict is relative "
            "to the exact value):",
            "",
            *pivot(asym, ["convention"], "M", ratio_cell),
            "",
            "Non-Gaussian input: measured error over the first-order `(rho+6)/(4M)` "
            f"({fixed_params(other)}):",
            "",
            *pivot(other, ["distribution"], "M", ratio_cell),
            "",
            LEGEND,
        ]
    )


def c2_laws(rec: Records) -> str:

    def ratio(r: ClaimRecord) -> str:
        return ratio_cell(r, 4)

    blocks = []
    for title, statement in (
        ("`Var(mu_B)` measured over `sigma_P^2/M` (exact for any input)", "Var(mu_B)"),
        ("`E[sigma_B]` (exact for Gaussian input, else measured) over `sigma_P`", "E[sigma_B]"),
        (
            "`Var(sigma_B)` (exact for Gaussian input, else measured) over "
            "`(rho+2) sigma_P^2/(4M)`",
            "Var(sigma_B)",
        ),
    ):
        blocks += [
            f"{title}:",
            "",
            *pivot(select(rec.full, "C2", statement), ["distribution"], "M", ratio),
            "",
        ]
    exact = [
        (
            "Gaussian `E[sigma_B]`, Monte Carlo vs chi moments",
            select(rec.full, "C2", "exact Gaussian std_mean"),
        ),
        (
            "Gaussian `Var(sigma_B)`, Monte Carlo vs chi moments",
            select(rec.full, "C2", "exact Gaussian std_variance"),
        ),
        ("`Var(mu_B)`", select(rec.full, "C2", "Var(mu_B)")),
    ]
    return "\n".join([*blocks, *summary_rows(exact), "", LEGEND])


def c3_first_order(rec: Records) -> str:
    rs = select(rec.full, "C3", "E[(h_hat")

    def cell(r: ClaimRecord) -> str:
        truth, law = _truth_and_law(r)
        m = r.params["M"]
        return f"{m * truth:.2f} / {m * law:.2f}{MARKS[r.verdict]}"

    rows = pivot(rs, ["distribution", "convention", "z"], "M", cell)
    exact = [
        (
            f"exact Gaussian, {side} the batch",
            select(rec.full, "C3", f"exact Gaussian conditional error, x {side}"),
        )
        for side in ("inside", "outside")
    ]
    return "\n".join(
        [
            "`M·error` true / first order (true: exact for Gaussian input, measured "
            "otherwise; – where the estimator refuses, M ≤ 5 outside the batch):",
            "",
            *rows,
            "",
            LEGEND,
            "",
            "The exact Gaussian conditional error against Monte Carlo:",
            "",
            *summary_rows(exact),
        ]
    )


def c4_ratio(rec: Records) -> str:
    rs = select(rec.full, "C4", "BN loss ~ PN loss")
    rows = pivot(
        rs,
        ["loss", "distribution", "center", "gamma"],
        "M",
        ratio_cell,
    )
    exact = [("exact Gaussian GLM gap vs Monte Carlo", select(rec.full, "C4", "exact gap"))]
    return "\n".join(
        [
            "Loss gap `E[BN loss − PN loss]` over `zeta gamma^2` (true: exact for the "
            "identity and squared losses on Gaussian input, measured otherwise):",
            "",
            *rows,
            "",
            LEGEND,
            "",
            *summary_rows(exact),
        ]
    )


# --- teacher-student (C5-C8) -------------------------------------------------------------------

TEACHER_STUDENT = ("C5", "C6", "C7", "C8")
#: C8's candidate effective zetas: each is a multiple of 1/(2M), some grow with alpha.
CANDIDATES = {
    "half_M": ("1/(2M)", lambda alpha, m: 1 / (2 * m)),
    "alpha_half_M": ("α/(2M)", lambda alpha, m: alpha / (2 * m)),
    "three_half_M": ("3/(2M)", lambda alpha, m: 3 / (2 * m)),
    "alpha_three_half_M": ("3α/(2M)", lambda alpha, m: 3 * alpha / (2 * m)),
}


def c8_zeta_eff(rec: Records) -> str:
    rs = select(rec.full, "C8", quantity="zeta_eff (paired ridge match)")

    def cell(r: ClaimRecord) -> str:
        inside = [
            name
            for key, (name, zeta) in CANDIDATES.items()
            if r.low <= zeta(r.params["alpha"], r.params["M"]) <= r.high
        ]
        return f"{format_number(r.numeric, 3)} {_interval(r)} {', '.join(inside) or 'none'}"

    predictions = _table(
        ["alpha", *(name for name, _ in CANDIDATES.values())],
        [
            [str(a), *(format_number(z(a, rs[0].params["M"]), 3) for _, z in CANDIDATES.values())]
            for a in sorted({r.params["alpha"] for r in rs})
        ],
    )
    return "\n".join(
        [
            f"ζ_eff with its 95% t-interval over data sets and the predictions inside it "
            f"({fixed_params(rs)}):",
            "",
            *pivot(rs, ["variant", "inference"], "alpha", cell),
            "",
            "The predictions (ridge scale):",
            "",
            *predictions,
        ]
    )


def c8_tests(rec: Records) -> str:
    rs = [r for r in select(rec.full, "C8") if "candidate" in r.params]

    def cell(r: ClaimRecord) -> str:
        se = format_number(r.stderr, 2)
        return f"{format_number(r.numeric, 4)} ± {se}, z = {_signed(r.z, 1)}{MARKS[r.verdict]}"

    rows = pivot(rs, ["candidate"], "alpha", cell, name=lambda key: CANDIDATES[key][0])
    return "\n".join(
        [
            "The centred BN student (population statistics) against the ridge error at each "
            "predicted ζ, paired on the same data sets (`eps_wn(ζ) + mean(eps_BN − "
            "eps_ridge(ζ))` vs `eps_wn(ζ)`):",
            "",
            *rows,
            "",
            LEGEND,
        ]
    )


def c8_notes(rec: Records) -> str:
    rs = select(rec.full, "C8", variant="batch_norm", quantity="zeta_eff (paired ridge match)")
    rows = [[r.params["inference"], str(r.params["alpha"]), r.note] for r in rs]
    return "\n".join(
        [
            "The centred BN student's records in full:",
            "",
            *_table(["inference", "alpha", "note"], rows),
        ]
    )


# --- the normalizer family (C14, C17-C22) -------------------------------------------------------

NORMALIZER_FAMILY = ("C14", "C17", "C18", "C19", "C20", "C21", "C22")


def c22_noise(rec: Records) -> str:
    rs = select(rec.full, "C22")
    nonzero = [r for r in rs if r.analytic]
    zero = [r for r in rs if not r.analytic]

    def cell(r: ClaimRecord) -> str:
        return f"{format_number(r.numeric, 3)} / {format_number(r.analytic, 3)}{MARKS[r.verdict]}"

    names = list(dict.fromkeys(r.params["normalizer"] for r in zero))
    groups = [(n, [r for r in zero if r.params["normalizer"] == n]) for n in names]
    largest = [
        [n, str(len(g)), counts(g), format_number(max(abs(r.numeric) for r in g), 2)]
        for n, g in groups
    ]
    return "\n".join(
        [
            f"Batch noise measured / law, for the layers whose noise is not 0 "
            f"({fixed_params(rs)}):",
            "",
            *pivot(nonzero, ["normalizer"], "M", cell),
            "",
            LEGEND,
            "",
            "The layers whose noise is 0 by construction (largest measured value):",
            "",
            *_table(["normalizer", "n", "verdicts", "largest"], largest),
        ]
    )


def c18_depth(rec: Records) -> str:
    rs = select(rec.full, "C18")
    per_norm = [r for r in rs if "norm" in r.params]

    def cell(r: ClaimRecord) -> str:
        if not r.evidence:
            return "0 (by construction)"
        return f"{format_number(r.numeric, 3)} ± {format_number(r.stderr, 2)}"

    compared = _table(
        ["comparison", "metric", "value", "note"],
        [
            [r.params["comparison"], r.params["metric"], format_number(r.numeric, 3), r.note]
            for r in rs
            if "comparison" in r.params
        ],
    )
    return "\n".join(
        [
            f"At initialization ({fixed_params(rs)}); mean ± s.e. over the networks:",
            "",
            *pivot(per_norm, ["norm"], "metric", cell),
            "",
            *compared,
        ]
    )


# --- the derivations guide ----------------------------------------------------------------------


def derivation_values(rec: Records) -> str:
    """The closed forms the guide compares, at the points the records evaluate them."""
    c1 = select(rec.full, "C1", "exact finite-M", M=32)
    c3 = select(rec.full, "C3", M=32, z=2.0, distribution="gaussian")
    rows = [[f"C1 error, x {r.params['convention']}", format_number(r.analytic, 5)] for r in c1]
    for r in c3:
        truth, law = _truth_and_law(r)
        what = (
            f"C3 M·error, exact Gaussian, x {r.params['convention'].split(',')[0]} the batch"
            if r.kind == "exact"
            else "C3 M·error, the article's first order"
        )
        rows.append([what, format_number(32 * (r.analytic if r.kind == "exact" else law), 4)])
    rows = list(dict.fromkeys(map(tuple, rows)))
    return "\n".join(
        [
            "At M = 32 (z = 2 for C3), from the records' closed-form values:",
            "",
            *_table(["quantity", "value"], rows),
        ]
    )


# --- the pages ---------------------------------------------------------------------------------

REGULARIZATION = ("C9", "C10", "C11", "C12", "C15", "C16")

TABLES: dict[str, Callable[[Records], str]] = {
    "batch_noise_verdicts": lambda rec: verdicts(rec, BATCH_NOISE),
    "c1_exact": c1_exact,
    "c1_laws": c1_laws,
    "c2_laws": c2_laws,
    "c3_first_order": c3_first_order,
    "c4_ratio": c4_ratio,
    "c13_records": lambda rec: sections(rec, ["C13"]),
    "batch_noise_figures": lambda rec: figure_times(rec, ["bn_noise"]),
    "teacher_student_verdicts": lambda rec: verdicts(rec, TEACHER_STUDENT),
    "c5_c7_records": lambda rec: sections(rec, ["C5", "C6", "C7"]),
    "c8_zeta_eff": c8_zeta_eff,
    "c8_tests": c8_tests,
    "c8_notes": c8_notes,
    "teacher_student_figures": lambda rec: figure_times(rec, ["teacher_student"]),
    "normalizer_family_verdicts": lambda rec: verdicts(rec, NORMALIZER_FAMILY),
    "c22_noise": c22_noise,
    "c18_depth": c18_depth,
    "normalizer_family_figures": lambda rec: figure_times(
        rec, ["batch_dependence", "proxy_norm_depth"]
    ),
    "normalizer_identity_records": lambda rec: sections(rec, ["C14", "C17", "C19", "C20", "C21"]),
    "regularization_verdicts": lambda rec: verdicts(rec, REGULARIZATION),
    "regularization_figures": lambda rec: figure_times(
        rec,
        [
            "regularization_bn_pn",
            "regularization_mean_variance",
            "regularization_batch_size",
            "regularization_dropout",
            "switchable_weights",
        ],
    ),
    "regularization_records": lambda rec: sections(rec, REGULARIZATION),
    "derivation_values": derivation_values,
    "symbolic_records": lambda rec: sections(
        rec, ["C5", "C7"], lambda r: "sympy" in str(r.params.get("method"))
    ),
}


HEADING = re.compile(r"^(#{1,6}) ")


def heading_level(text: str) -> int:
    """The level of the last Markdown heading of ``text`` (0 if none), code fences skipped."""
    level, fenced = 0, False
    for line in text.splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            level = len(m[1])
    return level


def _relevel(content: str, level: int) -> str:
    """``content`` with its headings moved so the highest sits just below ``level``."""
    levels = [len(m[1]) for ln in content.splitlines() if (m := HEADING.match(ln))]
    if not levels:
        return content
    shift = level + 1 - min(levels)
    return "\n".join(
        "#" * (len(m[1]) + shift) + ln[len(m[1]) :] if (m := HEADING.match(ln)) else ln
        for ln in content.splitlines()
    )


def block(name: str, rec: Records, level: int = 1) -> str:
    """The generated block ``name``, markers included, its headings below ``level``."""
    if name not in TABLES:
        raise ValueError(f"table {name!r} is not one of: {', '.join(TABLES)}")
    return "\n".join(
        [
            f"<!-- table:{name} -->",
            f"<!-- generated by `{COMMAND}` from the stored records; do not edit by hand -->",
            "",
            _relevel(TABLES[name](rec), level),
            "",
            f"<!-- /table:{name} -->",
        ]
    )


def render(text: str, rec: Records) -> str:
    """``text`` with every generated block rewritten from ``rec``.

    Raises
    ------
    ValueError
        If a block names an unknown table or lacks its end marker.
    """
    out, pos = [], 0
    for match in START.finditer(text):
        if match.start() < pos:
            continue
        name = match[1]
        end_marker = f"<!-- /table:{name} -->"
        end = text.find(end_marker, match.end())
        if end < 0:
            raise ValueError(f"table {name!r} has no end marker {end_marker!r}")
        level = heading_level(text[: match.start()])
        out += [text[pos : match.start()], block(name, rec, level)]
        pos = end + len(end_marker)
    out.append(text[pos:])
    return "".join(out)


def stale_pages(rec: Records, pages: Path = PAGES) -> list[Path]:
    """The pages whose generated blocks differ from what ``rec`` gives."""
    return [p for p in sorted(pages.glob("*.md")) if render(p.read_text(), rec) != p.read_text()]


def update(rec: Records, pages: Path = PAGES) -> list[Path]:
    """Rewrite the stale pages; the pages rewritten."""
    stale = stale_pages(rec, pages)
    for p in stale:
        p.write_text(render(p.read_text(), rec))
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """``python docs/_ext/family_tables.py (--update | --check)``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python docs/_ext/family_tables.py", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="rewrite the generated blocks")
    mode.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args(argv)
    try:
        rec = load()
        pages = stale_pages(rec) if args.check else update(rec)
    except (OSError, ValueError, KeyError) as exc:
        print(f"family_tables: error: {exc}", file=sys.stderr)
        return 2
    for p in pages:
        print(f"{p.relative_to(DOCS.parent)}: {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and pages else 0


def _check_on_build(app) -> None:
    from sphinx.util import logging

    for page in stale_pages(load()):
        logging.getLogger(__name__).warning(
            f"{page.relative_to(DOCS.parent)}: its generated tables are stale; run {COMMAND}"
        )


def setup(app) -> dict[str, Any]:
    """Sphinx entry point: a stale family page is a warning (an error under ``-W``)."""
    app.connect("builder-inited", _check_on_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
