"""The checks are found from the lists the entry points name, with nothing imported by hand."""

import ast
import json
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from regnorm import claims as C

ROOT = Path(__file__).resolve().parents[2]


def fresh_interpreter(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_run_claims_works_right_after_import():
    out = fresh_interpreter(
        "import json, sys, regnorm\n"
        "before = sorted(m for m in ('simulations', 'derivations') if m in sys.modules)\n"
        "recs = regnorm.run_claims('C13', quick=True, progress=False)\n"
        "print(json.dumps({'before': before, 'ids': sorted({r.id for r in recs}),\n"
        "                  'registered': list(regnorm.claims.registered())}))\n"
    )
    got = json.loads(out.strip().splitlines()[-1])
    # importing regnorm alone reaches no check module: they load on first use of the registry
    assert got["before"] == []
    assert got["ids"] == ["C13"]
    assert got["registered"] == [f"C{i}" for i in range(1, 23)]


def claimed_functions() -> set[str]:
    """``module.function`` of every function in simulations/ and derivations/ that applies
    the ``claim`` decorator (read from the sources, nothing imported)."""
    found = set()
    for package in ("simulations", "derivations"):
        for f in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            tree = ast.parse(f.read_text(), filename=str(f))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for dec in node.decorator_list:
                        target = dec.func if isinstance(dec, ast.Call) else dec
                        name = getattr(target, "id", getattr(target, "attr", None))
                        if name == "claim":
                            found.add(f"{module}.{node.name}")
    return found


def test_every_check_is_listed():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(meta["project"]["entry-points"][C.CHECKS_GROUP].values())
    assert declared == {"simulations.checks:CHECKS", "derivations.checks:CHECKS"}
    checks = claimed_functions()
    assert checks, "no function applies @claim: the scan is broken"
    assert {c.name for c in C.load_checks()} == checks


NOT_CLAIMS = [len]


@pytest.mark.parametrize(
    "value, error, match",
    [
        ("json:dumps", TypeError, "entry point bad = 'json:dumps' .* is function, not a list"),
        (f"{__name__}:NOT_CLAIMS", TypeError, r"entry point bad = .*: item 0 is builtin_function"),
        ("no_such_module_here:CHECKS", ImportError, "entry point bad = .* cannot be loaded"),
        ("json:CHECKS", TypeError, "entry point bad = 'json:CHECKS' .* names no list of checks"),
    ],
)
def test_an_entry_point_that_is_not_a_list_of_checks_is_refused(monkeypatch, value, error, match):
    bad = EntryPoint(name="bad", value=value, group=C.CHECKS_GROUP)
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [bad])
    with pytest.raises(error, match=match):
        C.load_checks()
