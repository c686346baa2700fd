"""Examples run as tests: the README's Python blocks and the docstring examples."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_with_examples(package: str = "regnorm") -> list[str]:
    """Every module of the library whose source holds a docstring example (``>>>``): found, not
    listed, so a new example cannot be left out of the run."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if ">>> " in path.read_text():
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


DOCTEST_MODULES = [
    m for pkg in ("regnorm", "simulations", "derivations") for m in _modules_with_examples(pkg)
]


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    """Every ```python block of the README runs, in order, in one namespace (a notebook)."""
    blocks = readme_blocks()
    assert blocks, "the README must show a worked example"
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__readme__"}
    for i, block in enumerate(blocks):
        code = compile(block, f"README.md[python block {i}]", "exec")
        exec(code, ns)


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
