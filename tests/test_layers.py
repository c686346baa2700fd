"""The floors and the privacy of names, checked on the sources (imports anywhere in a module,
inside functions too, and ``importlib.import_module`` of a literal name).

1. ``regnorm`` imports nothing of ours;
2. ``simulations`` and ``derivations`` import ``regnorm`` and themselves only, and nothing in
   ``simulations`` outside ``simulations/checks/`` imports ``simulations.checks``;
3. ``figures`` (with the command line) and ``benchmarks`` on top.

No module imports a ``_private`` name (a module or an attribute) of a package it is not in:
``regnorm._validation`` from a simulation, ``teacher_student._fused`` from a check, a test
importing ``relu_network._sgd_step``. Each rule is a function of a source tree, so that the
tests below can also plant a violation in a tree of their own and see the rule catch it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Our top-level folders of Python code.
OURS = ("regnorm", "simulations", "derivations", "figures", "benchmarks", "tests", "notebooks")
#: What each lower floor may import of ours (besides itself).
MAY_IMPORT = {"regnorm": set(), "simulations": {"regnorm"}, "derivations": {"regnorm"}}
#: Where private names may not be imported from outside their package: everywhere.
SCANNED = (*OURS, "docs")


@dataclass(frozen=True)
class Import:
    """One imported name: the module ``module`` and, for ``from M import n``, the name."""

    file: Path
    line: int
    module: str
    name: str | None = None

    def where(self, root: Path) -> str:
        what = self.module + (f":{self.name}" if self.name else "")
        return f"{self.file.relative_to(root)}:{self.line} imports {what}"


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(root: Path, file: Path) -> str:
    """The dotted package a source file belongs to (its folder)."""
    return ".".join(file.relative_to(root).parent.parts)


def imports(root: Path, file: Path) -> Iterator[Import]:
    tree = ast.parse(file.read_text(), filename=str(file))
    package = package_of(root, file)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield Import(file, node.lineno, a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for a in node.names:
                yield Import(file, node.lineno, module, a.name)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
        ):
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr) and arg.values:
                arg = arg.values[0]  # f"simulations.{name}": its literal head
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Import(file, node.lineno, arg.value.rstrip("."))


def sources(root: Path, *folders: str) -> Iterator[Path]:
    for folder in folders:
        for f in sorted((root / folder).rglob("*.py")):
            if "__pycache__" not in f.parts and "_build" not in f.parts:
                yield f


def floor_violations(root: Path) -> list[str]:
    """Imports of ours that a lower floor may not make."""
    bad = []
    for floor, allowed in MAY_IMPORT.items():
        forbidden = set(OURS) - allowed - {floor}
        for f in sources(root, floor):
            for imp in imports(root, f):
                if imp.module.split(".")[0] in forbidden:
                    bad.append(imp.where(root))
    return bad


def checks_floor_violations(root: Path) -> list[str]:
    """Imports of ``simulations.checks`` from simulations outside ``simulations/checks/``."""
    bad = []
    checks = root / "simulations" / "checks"
    for f in sources(root, "simulations"):
        if checks in f.parents:
            continue
        for imp in imports(root, f):
            target = imp.module if imp.name is None else f"{imp.module}.{imp.name}"
            if target == "simulations.checks" or target.startswith("simulations.checks."):
                bad.append(imp.where(root))
    return bad


def _private_owner(root: Path, imp: Import) -> str | None:
    """The package whose private name ``imp`` imports (None for a public import).

    A private module ``a.b._c`` belongs to ``a.b``; a private attribute ``_x`` of a package
    ``a.b`` belongs to ``a.b``, and of a module ``a.b.m`` to ``a.b``.
    """
    parts = imp.module.split(".") + ([imp.name] if imp.name else [])
    for i, part in enumerate(parts):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            owner = parts[:i]
            if owner and not (root.joinpath(*owner) / "__init__.py").is_file():
                owner = owner[:-1]  # a module's private name is its package's
            return ".".join(owner)
    return None


def private_violations(root: Path) -> list[str]:
    """Imports of a private name by a module outside the package that owns the name."""
    bad = []
    for f in sources(root, *SCANNED):
        mine = package_of(root, f)
        for imp in imports(root, f):
            if imp.module.split(".")[0] not in OURS:
                continue
            owner = _private_owner(root, imp)
            if owner is not None and not (mine == owner or mine.startswith(owner + ".")):
                bad.append(imp.where(root))
    return bad


RULES = {
    "floors": floor_violations,
    "checks floor": checks_floor_violations,
    "private names": private_violations,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_tree_keeps_the_rule(rule):
    bad = RULES[rule](ROOT)
    assert not bad, "\n".join(bad)


def plant(root: Path, files: dict[str, str]) -> Path:
    """A source tree of packages: ``{"regnorm/x.py": "import figures"}``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


PLANTED = [
    ("floors", {"regnorm/a.py": "def f():\n    import figures.cli\n"}),
    ("floors", {"regnorm/a.py": "import importlib\nimportlib.import_module('simulations.x')\n"}),
    ("floors", {"regnorm/a.py": "def f(n):\n    __import__(f'derivations.{n}')\n"}),
    ("floors", {"simulations/a.py": "from derivations import krogh_hertz\n"}),
    ("floors", {"simulations/a/b.py": "from figures.cli import main\n"}),
    ("floors", {"derivations/a.py": "import simulations\n"}),
    ("floors", {"derivations/a.py": "from benchmarks.timing import x\n"}),
    ("checks floor", {"simulations/fam/a.py": "from simulations.checks import fam\n"}),
    ("checks floor", {"simulations/a.py": "from simulations import checks\n"}),
    ("checks floor", {"simulations/fam/a.py": "from ..checks.fam import CHECKS\n"}),
    ("private names", {"simulations/a.py": "from regnorm._validation import check\n"}),
    ("private names", {"tests/t.py": "from regnorm.validation import _check\n"}),
    ("private names", {"regnorm/n/__init__.py": "", "figures/f.py": "from regnorm.n import _x\n"}),
    ("private names", {"tests/t.py": "from simulations.relu import _sgd_step\n"}),
    (
        "private names",
        {
            "simulations/fam/_fused.py": "",
            "simulations/checks/a.py": "from ..fam._fused import f\n",
        },
    ),
    ("private names", {"figures/a.py": "import simulations.fam._fused\n"}),
    ("private names", {"notebooks/nb.py": "from simulations.fam.sgd import _step\n"}),
]


@pytest.mark.parametrize("rule, files", PLANTED)
def test_a_planted_violation_is_caught(tmp_path, rule, files):
    root = plant(tmp_path, {"regnorm/ok.py": "import numpy\n", **files})
    assert len(RULES[rule](root)) == 1
    assert all(not RULES[other](root) for other in RULES if other != rule)


def test_allowed_imports_pass(tmp_path):
    root = plant(
        tmp_path,
        {
            "regnorm/a.py": "from . import _b\nfrom ._b import _x\n",
            "regnorm/sub/c.py": "from .._b import _x\nfrom regnorm import __version__\n",
            "simulations/fam/a.py": "from ._fused import loop\nfrom regnorm import claims\n",
            "simulations/checks/fam.py": "from simulations.fam import loop\n",
            "simulations/checks/__init__.py": "from . import fam\nfrom ._shared import z\n",
            "figures/cli.py": "from figures import _common\nimport simulations.checks\n",
            "tests/t.py": "from tests.tolerances import x\nfrom . import _helpers\n",
        },
    )
    assert {rule: fn(root) for rule, fn in RULES.items()} == {rule: [] for rule in RULES}
