"""The dependency arrows: regnorm <- simulations, derivations <- figures and the CLI.

Checked on the source (imports anywhere in a module, including inside functions), so a
violation fails here before it becomes a cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "regnorm": {"simulations", "derivations", "figures"},
    "simulations": {"figures", "derivations"},
    "derivations": {"figures", "simulations"},
}
ALLOWED_UP = {ROOT / "regnorm" / "cli.py"}  # the command line reaches up, lazily


def imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    bad = []
    for f in sorted((ROOT / package).rglob("*.py")):
        if f in ALLOWED_UP:
            continue
        hit = imported_tops(f) & FORBIDDEN[package]
        if hit:
            bad.append(f"{f.relative_to(ROOT)} imports {sorted(hit)}")
    assert not bad, "\n".join(bad)


def test_cli_reaches_up_only_lazily():
    tree = ast.parse((ROOT / "regnorm" / "cli.py").read_text())
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top_level.add(node.module.split(".")[0])
    assert not top_level & FORBIDDEN["regnorm"]
