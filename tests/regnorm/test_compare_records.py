"""``python -m regnorm.report --compare``: two runs' records matched claim by claim."""

import dataclasses

from regnorm.claims import statistical_record
from regnorm.report import compare_records, main


def _records():
    return [
        statistical_record(
            "C1", {"M": 4, "law": "gaussian"}, analytic=1.0, numeric=1.01, stderr=0.01
        ),
        statistical_record(
            "C1", {"M": 8, "law": "gaussian"}, analytic=0.5, numeric=0.5, stderr=0.01
        ),
    ]


def test_identical_runs_compare_clean():
    diff = compare_records(_records(), _records())
    assert diff == {"numbers": [], "verdicts": [], "labels": [], "missing": []}


def test_each_kind_of_difference_is_found():
    new = _records()
    new[0] = dataclasses.replace(new[0], numeric=1.0100001)
    new[1] = dataclasses.replace(new[1], params=dict(new[1].params, law="normal"))
    diff = compare_records(_records(), new)
    assert [line.split(":")[0] for line in diff["numbers"]] == ["C1[0] numeric"]
    # a key renamed with its value kept is a label; a number that changes or goes is a number
    renamed = [
        _records()[0],
        dataclasses.replace(
            _records()[1],
            params={("batch_size" if k == "M" else k): v for k, v in _records()[1].params.items()},
        ),
    ]
    d = compare_records(_records(), renamed)
    assert d["labels"] == ["C1[1] params key 'M' -> 'batch_size'"] and not d["numbers"]
    gone = [_records()[0], dataclasses.replace(_records()[1], params={"law": "gaussian"})]
    assert any("params['M']: 8 -> None" in x for x in compare_records(_records(), gone)["numbers"])
    assert diff["labels"] == ["C1[1] params['law']: 'gaussian' -> 'normal'"]
    far = [dataclasses.replace(_records()[0], numeric=2.0, verdict="deviates")]
    diff = compare_records(_records(), far)
    assert diff["verdicts"] == ["C1[0]: holds -> deviates"]
    assert diff["missing"] == ["C1: 2 records before, 1 after"]


def test_command_exit_codes(tmp_path, capsys):
    import json

    def write(path, recs):
        path.write_text(json.dumps([dataclasses.asdict(r) for r in recs]))

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write(a, _records())
    write(b, _records()[:1])
    assert main(["--compare", str(a), str(a)]) == 0
    assert main(["--compare", str(a), str(b)]) == 1
    assert "missing: 1" in capsys.readouterr().out
    assert json.loads(a.read_text())[0]["id"] == "C1"


def test_module_runs_without_a_warning(tmp_path):
    """``python -m regnorm.report`` must not be imported by the package first (runpy warns)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "regnorm.report", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0 and "Warning" not in out.stderr, out.stderr
