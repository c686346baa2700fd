"""The registry of derivations, ``regnorm derive``, and the generated docs page."""

import subprocess
import sys
from pathlib import Path

import pytest

from derivations import catalogue, docs
from figures import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", catalogue.available())
def test_every_result_is_explained(name):
    results = catalogue.derive(name)
    assert results and list(results) == list(catalogue.explanations(name))


def test_derive_prints_plain_and_latex(capsys):
    rc = cli.main(["derive", "proxy_norm"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "mean_standard = sqrt(2)/(2*sqrt(pi))" in out
    rc = cli.main(["derive", "proxy_norm", "--latex"])
    out, _ = capsys.readouterr()
    assert rc == 0 and r"\frac{\sqrt{2}}{2 \sqrt{\pi}}" in out


def test_derive_lists_names(capsys):
    rc = cli.main(["derive"])
    out, _ = capsys.readouterr()
    assert rc == 0 and all(n in out for n in catalogue.available())


def test_derive_unknown_name_one_line_exit_2(capsys):
    rc = cli.main(["derive", "nope"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "'nope'" in err and "krogh_hertz" in err


def test_importing_runs_no_derivation():
    """The CLI imports every derivations module (claims registration): no sympy work then.

    Checked structurally in a fresh interpreter, not by timing: after importing all modules
    (and loading the claims checks), no ``derive()`` has been computed.
    """
    code = (
        "from regnorm.claims import load_checks; load_checks();"
        "from derivations import catalogue;"
        "print(sum(catalogue.module(n).derive.cache_info().currsize "
        "for n in catalogue.available()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.stdout.strip() == "0"


def test_docs_page_is_current():
    committed = (ROOT / "docs" / "derivations.md").read_text()
    assert committed == docs.render_markdown(), (
        "docs/derivations.md is stale: run python -m derivations.docs"
    )
