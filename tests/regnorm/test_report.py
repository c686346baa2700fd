"""The report built from claim records: summary, per-claim tables, README findings block."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from figures import cli
from regnorm import report
from regnorm.claims import CATALOGUE, ClaimRecord, records_to_json, run_claims

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / report.SNAPSHOT
README = ROOT / "README.md"


def _record(M, verdict, *, kind="exact", statement=None, numeric=1.0, z=0.5, note=""):
    return ClaimRecord(
        id="C4",
        statement=statement or CATALOGUE["C4"],
        source="",
        params={"M": M, "gamma": 1.0, "seed": 0},
        analytic=1.0,
        numeric=numeric,
        stderr=0.01,
        z=z,
        verdict=verdict,
        note=note,
        kind=kind,
    )


def _c4():
    # every record at M=4 deviates, none at M=16; one identity that must not count
    return [
        _record(4, "deviates", numeric=1.3, z=30.0, note="zeta = 0.3; far off; more"),
        _record(4, "deviates", numeric=1.1, z=10.0, note="zeta = 0.1"),
        _record(16, "holds", z=-1.5),
        _record(16, "holds", z=0.2),
        _record(16, "holds", kind="identity", z=None),
    ]


def test_summary_counts_evidence_apart_from_identities_and_names_the_worst_deviation():
    table = report.findings_table(_c4())
    row = next(line for line in table.splitlines() if line.startswith("| C4 |"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1] == CATALOGUE["C4"]
    assert cells[2] == "2 holds, 2 deviates" and cells[3] == "1"
    assert cells[4] == "worst deviation: 1.3 vs 1, z = 30.00 at M=4"
    assert "2 of 4 records deviate, all at M=4 (2 of the 2 there)" in cells[5]
    assert cells[5].endswith("worst at M=4: zeta = 0.3.")
    assert "seed=" not in table and "gamma=" not in table  # a setting; the same everywhere


def test_every_failing_value_is_said_when_deviations_spread():
    rs = [*_c4(), _record(8, "deviates", z=7.0), _record(8, "holds")]
    sentence = report.findings_table(rs, statements=False).splitlines()[2]
    assert "every record deviates at M=4 (2 of 2)" in sentence
    assert "M=8" not in sentence.split("every record deviates at")[1].split(";")[0]


def test_a_claim_that_holds_has_its_largest_z_as_headline():
    rs = [_record(16, "holds", z=-1.5), _record(32, "holds", z=0.2)]
    row = report.findings_table(rs, statements=False).splitlines()[2]
    assert "| largest \\|z\\| = 1.50 (M=16) | - |" in row


def test_records_of_another_law_are_told_apart_in_the_sections():
    other = "zeta ~ 3/(2M) asymptote"
    rs = [*_c4(), _record(16, "holds", statement=other, note="x " * 200)]
    lines = report.claim_sections(rs)
    rows = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert rows[0].split(" | ")[1] == "(the claim)" and rows[-1].split(" | ")[1] == other
    assert "In every record: gamma=1." in lines and rows[0].split(" | ")[2] == "M=4"
    assert "1.3 ± 0.01" in rows[0] and rows[4].endswith("holds (identity) |")
    notes = lines[lines.index("Notes:") + 2 :]
    assert notes and all(len(line) <= report.NOTE_WIDTH for n in notes for line in n.split("\n"))
    table = report.findings_table(rs)
    assert f"{other}: " not in table  # the asymptote holds: no deviation sentence for it


def test_figures_are_embedded_with_their_captions():
    assert report.figures_section([("a.png", "the noise")]) == [
        "![the noise](a.png)",
        "",
        "*a.png: the noise*",
        "",
    ]


def test_figure_caption_is_the_first_docstring_line():
    import figures.bn_noise

    first = figures.bn_noise.__doc__.splitlines()[0]
    assert first == "Figure: the noise of batch statistics (claims C1 and C3)."
    assert cli.figure_captions()["bn_noise"] == first.removeprefix("Figure: ")


def test_update_readme_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nstale row\n{report.README_END}\nrest\n")
    assert report.update_readme(readme, _c4())
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{report.README_END}\nrest\n")
    assert "stale row" not in text and "| C4 | 2 holds, 2 deviates | 1 |" in text
    assert not report.update_readme(readme, _c4())
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="needs '<!-- findings:start -->'"):
        report.update_readme(readme, _c4())


def test_readme_findings_block_is_generated_from_the_snapshot():
    records = report.read_records(SNAPSHOT)
    assert report.readme_is_current(README, records), (
        "README.md's findings block is stale: run python -m regnorm.report --update-readme"
    )


def test_check_option_exits_1_on_a_stale_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.README_START}\nold\n{report.README_END}\n")
    args = ["--snapshot", str(SNAPSHOT), "--readme", str(readme)]
    assert report.main(["--check", *args]) == 1
    assert report.main(["--update-readme", *args]) == 0
    assert report.main(["--check", *args]) == 0
    assert report.main(["--check", "--snapshot", str(tmp_path / "none.json")]) == 2
    assert "none.json" in capsys.readouterr().err


@pytest.mark.slow
def test_snapshot_verdicts_are_those_of_the_current_code():
    records = run_claims(None, quick=True, seed=0, progress=False)
    fresh = json.loads(records_to_json(records))
    stored = json.loads(SNAPSHOT.read_bytes())
    got = Counter((d["id"], d["statement"], d["verdict"]) for d in fresh)
    want = Counter((d["id"], d["statement"], d["verdict"]) for d in stored)
    assert got == want, (
        "docs/claims_quick.json is stale: regnorm verify --quick --json > docs/claims_quick.json"
    )


def test_report_reads_summary_then_figures_then_records_then_run_time(tmp_path):
    out = tmp_path / "r"
    args = ["reproduce", "--out", str(out), "--quick", "--figures", "batch_dependence"]
    assert cli.main([*args, "--claims", "C13"]) == 0
    text = (out / "REPORT.md").read_text()
    heads = ["## Summary of the claims", "## Figures", "## Claims, record by record"]
    heads.append("## Run time")
    assert [text.index(h) for h in heads] == sorted(text.index(h) for h in heads)
    caption = cli.figure_captions()["batch_dependence"]
    assert f"![{caption}](batch_dependence.png)" in text
    assert f"| C13 | {CATALOGUE['C13']} | 1 deviates | 4 |" in text
    assert "- claim C13 (" in text.split("## Run time")[1]
    stored = report.read_records(out / "claims.json")
    assert [r.id for r in stored] == ["C13"] * len(stored) and len(stored) == 5
