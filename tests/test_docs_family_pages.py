"""The family pages quote claim numbers only from tables generated out of the stored records."""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "families"


def _generator():
    path = ROOT / "docs" / "_ext" / "family_tables.py"
    spec = importlib.util.spec_from_file_location("family_tables", path)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ft = _generator()


@pytest.fixture(scope="module")
def records():
    return ft.load()


def test_family_pages_are_what_the_stored_records_give(records):
    stale = ft.stale_pages(records)
    assert not stale, f"stale family pages {[p.name for p in stale]}: run {ft.COMMAND}"
    assert ft.main(["--check"]) == 0


def test_every_table_sits_on_exactly_one_page():
    text = "\n".join(p.read_text() for p in sorted(PAGES.glob("*.md")))
    used = ft.START.findall(text)
    assert sorted(used) == sorted(ft.TABLES), "a table is on no page, or on two"


def _copy_records(tmp_path):
    for name in ("full.json", "full_run.json"):
        shutil.copy(ft.FULL.parent / name, tmp_path / name)
    shutil.copy(ft.QUICK, tmp_path / "quick.json")
    return tmp_path / "full.json", tmp_path / "quick.json", tmp_path / "full_run.json"


def test_a_changed_record_leaves_its_page_stale(tmp_path):
    full, quick, run = _copy_records(tmp_path)
    data = json.loads(full.read_text())
    target = next(
        d
        for d in data
        if d["id"] == "C1"
        and d["kind"] == "exact"
        and d["params"]["M"] == 32
        and d["params"]["convention"] == "inside, ddof=0"
    )
    # a shift of three standard errors moves the z the page prints, not the verdict
    target["numeric"] += 3 * target["stderr"]
    target["z"] += 3
    full.write_text(json.dumps(data))
    stale = ft.stale_pages(ft.load(full, quick, run))
    assert [p.name for p in stale] == ["batch_noise.md"]

    # a verdict counted only at the quick size changes the page as well
    full.write_text(json.dumps(json.loads((ft.FULL).read_text())))
    data = json.loads(quick.read_text())
    flipped = next(d for d in data if d["id"] == "C10" and d["verdict"] == "holds")
    flipped["verdict"] = "deviates"
    quick.write_text(json.dumps(data))
    assert [p.name for p in ft.stale_pages(ft.load(full, quick, run))] == ["regularization.md"]


def test_a_hand_edit_inside_a_generated_block_is_detected(tmp_path, records):
    pages = tmp_path / "families"
    shutil.copytree(PAGES, pages)
    page = pages / "normalizer_family.md"
    text = page.read_text()
    start = text.index("<!-- table:c22_noise -->")
    cell = re.compile(r"\d\.\d+").search(text, start)
    page.write_text(text[: cell.start()] + "9" + text[cell.start() + 1 :])
    assert [p.name for p in ft.stale_pages(records, pages)] == ["normalizer_family.md"]
    assert ft.update(records, pages) == [page]
    assert page.read_text() == text


def test_unknown_or_unclosed_tables_are_refused(records):
    with pytest.raises(ValueError, match="'nonesuch' is not one of"):
        ft.render("<!-- table:nonesuch -->\n<!-- /table:nonesuch -->", records)
    with pytest.raises(ValueError, match="no end marker"):
        ft.render("<!-- table:c1_exact -->\nno end", records)


# --- no hand-copied numbers ----------------------------------------------------------------

#: Numbers in prose that are not results of a claim, each with why.
NOT_RESULTS = {
    # BN's running-average momentum in the regularization protocol, a setting of the method
    ("regularization.md", "0.1"),
    # the teacher-student solvers' convergence test (the two starts agree to 1%)
    ("teacher_student.md", "1%"),
}
#: A result: a decimal or scientific number, or a percentage.
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d*\.?\d+(?:[eE][-+]?\d+)?%?(?![\w.])")
#: A count of verdicts or records.
COUNT = re.compile(r"\b\d+\s*(?:/\s*\d+\s*)?(?:holds?|deviates?|open|not resolved|records?)\b")


def _prose(text: str) -> str:
    """``text`` less generated blocks, comments, fenced code and code spans."""
    text = re.sub(r"<!-- table:(\w+) -->.*?<!-- /table:\1 -->", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"§[\d.–-]+", "", text)  # the article's section numbers
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _parameter_values(records) -> set[float]:
    """Every number a record's parameters hold (values and the numbers in string values)."""
    found: set[float] = set()
    for r in [*records.full, *records.quick]:
        for v in r.params.values():
            if isinstance(v, bool):
                continue
            if isinstance(v, int | float):
                found.add(float(v))
            else:
                found.update(float(x) for x in re.findall(r"\d+\.?\d*(?:e-?\d+)?", str(v)))
    return found


def hand_copied(name: str, text: str, parameters: set[float]) -> list[str]:
    """The result-like numbers of a page's prose: not parameters and not listed as such."""
    prose = _prose(text)
    bad = [m[0] for m in COUNT.finditer(prose)]
    for m in NUMBER.finditer(prose):
        number = m[0].lstrip("+-−")
        if "." not in number and "e" not in number.lower() and not number.endswith("%"):
            continue  # integers: sizes, degrees, section numbers and the counts above
        value = float(number[:-1]) / 100 if number.endswith("%") else float(number)
        if (name, number) not in NOT_RESULTS and value not in parameters:
            bad.append(m[0])
    return bad


def test_the_pages_quote_no_result_outside_generated_blocks(records):
    parameters = _parameter_values(records)
    found = {
        p.name: hand_copied(p.name, p.read_text(), parameters) for p in sorted(PAGES.glob("*.md"))
    }
    assert not {k: v for k, v in found.items() if v}, found


def test_the_scan_finds_results_and_passes_parameters(records):
    parameters = _parameter_values(records)
    page = "At M = 32, alpha = 0.5 and lr 0.05 (`0.0473065` is code):"
    assert hand_copied("x.md", page, parameters) == []
    for result in ("M·error 1.5115 ± 0.0022", "16% above", "gap 2e-15", "C1 58 holds / 26"):
        assert hand_copied("x.md", result, parameters), result
    generated = "<!-- table:c1_exact -->\n1.5115\n<!-- /table:c1_exact -->"
    assert hand_copied("x.md", generated, parameters) == []
