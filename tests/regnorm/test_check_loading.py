"""The checks are found through the package's entry points, with nothing imported by hand."""

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

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


def claim_modules() -> set[str]:
    """Modules of simulations/ and derivations/ that apply the ``claim`` decorator."""
    found = set()
    for package in ("simulations", "derivations"):
        for f in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(f.read_text(), filename=str(f))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for dec in node.decorator_list:
                        target = dec.func if isinstance(dec, ast.Call) else dec
                        name = getattr(target, "id", getattr(target, "attr", None))
                        if name == "claim":
                            found.add(f"{package}.{f.stem}")
    return found


def test_every_module_with_checks_is_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(meta["project"]["entry-points"]["regnorm.checks"].values())
    modules = claim_modules()
    assert modules, "no module applies @claim: the scan is broken"
    assert declared == modules
