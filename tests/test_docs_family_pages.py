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


# --- the names of older and newer records ------------------------------------------------------

#: The renames of the records' labels as the redesign decided them, written out here apart
#: from the generator's table: (claims, old parameter, current parameter, old -> new values).
DECIDED = [
    (("C4",), "centred", "center", {}),
    (("C5", "C6", "C7", "C8"), "reps", "repetitions", {}),
    (("C9", "C10", "C11", "C12", "C15", "C16"), "n_seeds", "repetitions", {}),
    (("C9", "C10", "C11", "C12"), "delta", "delta2", {0.5: 0.25}),
    (("C8",), "variant", "variant", {"bn": "batch_norm", "bn_uncentred": "batch_norm_rms"}),
    (("C8",), "variant", "variant", {"wn_mean_only": "batch_norm_mean"}),
    (("C8",), "variant", "variant", {"wn_variance_only": "batch_norm_variance"}),
    (("C10",), "method", "method", {"wn_mean_bn": "batch_norm_mean"}),
    (("C10",), "method", "method", {"wn_variance_bn": "batch_norm_variance"}),
    (("C10",), "compared_with", "compared_with", {"bn": "batch_norm", "wn": "weight_norm"}),
    (("C22",), "normalizer", "normalizer", {"KernelNorm": "KN"}),
]
OLD_NAMES = {old for _, old, new, _ in DECIDED if old != new}
OLD_VALUES = {v for *_, values in DECIDED for v in values if isinstance(v, str)}


def _values(claim: str, param: str) -> dict:
    return {
        k: v
        for claims, old, _, values in DECIDED
        if claim in claims and old == param
        for k, v in values.items()
    }


#: The labels inside the notes: C8's note opens with the variant, C10's names the methods
#: (plain SGD is now "none").
NOTE_LABELS = {
    "C8": _values("C8", "variant"),
    "C10": {"sgd": "none", **_values("C10", "method"), **_values("C10", "compared_with")},
}


def _rename(claim: str, key: str, value):
    for claims, old, new, values in DECIDED:
        if claim in claims and key == old:
            return new, values.get(value, value) if isinstance(value, str | float) else value
    return key, value


def _renamed_by_hand(path: Path, out: Path) -> Path:
    """The record file ``path`` as the current code writes it: every decided rename applied."""
    data = json.loads(path.read_text())
    for d in data:
        labels = NOTE_LABELS.get(d["id"], {})
        d["note"] = re.sub(r"[\w-]+", lambda m, labels=labels: labels.get(m[0], m[0]), d["note"])
        d["params"] = dict(_rename(d["id"], k, v) for k, v in d["params"].items())
    out.write_text(json.dumps(data))
    return out


def test_the_stored_records_have_old_names_and_the_pages_show_the_new(records):
    raw = json.loads(ft.FULL.read_text())
    assert OLD_NAMES <= {k for d in raw for k in d["params"]}, "the stored run has old names"
    for r in [*records.full, *records.quick]:
        assert not OLD_NAMES & set(r.params), (r.id, r.params)
        assert not OLD_VALUES & {v for v in r.params.values() if isinstance(v, str)}, r.params
    text = "\n".join(p.read_text() for p in sorted(PAGES.glob("*.md")))
    for name in ("center=True", "variant=batch_norm", "method=batch_norm_mean", "delta2=0.25"):
        assert name in text, name
    for name in ("centred=", "n_seeds", "reps=", "delta=", "wn_mean_bn", "bn_uncentred"):
        assert name not in text, name


def test_records_under_the_new_names_give_the_same_pages(tmp_path, records):
    full, quick, run = _copy_records(tmp_path)
    new = ft.load(
        _renamed_by_hand(full, tmp_path / "new_full.json"),
        _renamed_by_hand(quick, tmp_path / "new_quick.json"),
        run,
    )
    assert [r.params for r in new.full] == [r.params for r in records.full]
    for page in sorted(PAGES.glob("*.md")):
        assert ft.render(page.read_text(), new) == page.read_text(), page.name


def test_a_record_with_a_parameter_under_both_names_is_refused(tmp_path):
    full, quick, run = _copy_records(tmp_path)
    data = json.loads(full.read_text())
    target = next(d for d in data if d["id"] == "C4")
    target["params"]["center"] = target["params"]["centred"]
    full.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="'center' twice"):
        ft.load(full, quick, run)


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
