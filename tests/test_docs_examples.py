"""The documentation's examples run, and its API reference covers the public surface.

Every ```python block of ``docs/*.md`` and ``docs/families/*.md`` runs, the blocks of one
page in order in one namespace (as a reader pastes them into a notebook), except a block
whose first line is a comment starting ``# not run:``, which says why (too long for a test,
or it needs a GPU, ...).
"""

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), *(DOCS / "families").glob("*.md")])
NOT_RUN = "# not run:"
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a page's text, in order."""
    return BLOCK.findall(text)


def runnable(block: str) -> bool:
    """Whether a block runs (its first line does not mark it ``# not run: why``)."""
    first = block.lstrip().splitlines()[0] if block.strip() else ""
    if first.startswith(NOT_RUN):
        assert first[len(NOT_RUN) :].strip(), "a block marked not run says why"
        return False
    return True


def test_blocks_are_found_and_a_marked_block_is_skipped():
    page = (
        "text\n```python\nx = 1\n```\n```python\n# not run: minutes\ny = 2\n```\n```bash\nls\n```\n"
    )
    blocks = python_blocks(page)
    assert blocks == ["x = 1\n", "# not run: minutes\ny = 2\n"]
    assert [runnable(b) for b in blocks] == [True, False]
    with pytest.raises(AssertionError, match="says why"):
        runnable("# not run:\nz = 3\n")


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p.read_text())],
    ids=lambda p: p.relative_to(DOCS).as_posix(),
)
def test_python_blocks_of_the_page_run(page, tmp_path, monkeypatch):
    blocks = [b for b in python_blocks(page.read_text()) if runnable(b)]
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": f"__docs_{page.stem}__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page.relative_to(ROOT)}[python block {i}]", "exec"), ns)


# --- the names the pages use ------------------------------------------------------------------

#: A dotted name of ours in a code span (``regnorm.seeding.seed_sequence``, ``figures.NAME.run``).
DOTTED = re.compile(r"`((?:regnorm|simulations|figures|derivations)(?:\.\w+)+)")
#: A path of the repository with a file extension (``tests/regnorm/test_seeding.py``).
REPO_PATH = re.compile(
    r"(?<![\w/])((?:tests|docs|figures|simulations|regnorm|benchmarks|derivations|notebooks)"
    r"/[\w/.*-]*\.\w+)"
)
#: Dotted names on the pages that are not Python objects, each with why.
NOT_OBJECTS = {
    "regnorm.checks",  # the entry-point group the claims checks are declared in
}


def resolves(name: str) -> bool:
    """Whether ``name`` is a module of ours or an attribute path inside one."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def stale_names(text: str) -> list[str]:
    """The dotted names and repository paths of a page that name nothing that exists."""
    names = {m[1] for m in DOTTED.finditer(text)}
    # ``figures.NAME`` is a placeholder, ``figures.py`` a file name
    names = {n for n in names - NOT_OBJECTS if not re.search(r"\.(?:[A-Z]+|py)(?:\.|$)", n)}
    paths = {m[1] for m in REPO_PATH.finditer(text)}
    return sorted([n for n in names if not resolves(n)] + [p for p in paths if not glob(p)])


def glob(path: str) -> list[Path]:
    return list(ROOT.glob(path))


def test_the_scan_finds_stale_names():
    page = (
        "`simulations.batch_noise_claims`, `regnorm.cli`, `simulations._fused` and "
        "`tests/simulations/test_teacher_student.py`; but `figures.NAME.run`, "
        "`regnorm.seeding.seed_sequence` and tests/regnorm/test_seeding.py exist"
    )
    assert stale_names(page) == [
        "regnorm.cli",
        "simulations._fused",
        "simulations.batch_noise_claims",
        "tests/simulations/test_teacher_student.py",
    ]


# the verdict changes are a record of two older runs, in the names of their time
@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if p.name != "verdict_changes.md"],
    ids=lambda p: p.relative_to(DOCS).as_posix(),
)
def test_every_module_function_and_path_a_page_names_exists(page):
    assert not stale_names(page.read_text())


# --- the API reference -------------------------------------------------------------------------

DIRECTIVE = re.compile(r"^\.\. auto(module|function|data|class):: ([\w.]+)", flags=re.M)


def _conf():
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented() -> set[str]:
    """What ``docs/api.md`` documents, its ``package-constants`` expanded as the build does."""
    conf = _conf()
    text = conf.PACKAGE_CONSTANTS.sub(
        lambda m: conf.package_constants(m[1]), (DOCS / "api.md").read_text()
    )
    return {m[2] for m in DIRECTIVE.finditer(text)}


#: The simulation packages, one per claim family.
FAMILIES = [
    f"simulations.{m.name}"
    for m in pkgutil.iter_modules([str(ROOT / "simulations")])
    if m.ispkg and m.name != "checks"
]


def public_surface() -> list[str]:
    """The modules and figure entry points a notebook user touches: every public module of
    ``regnorm`` (its subpackages re-export their modules' names) and the normalizer registry,
    every family package of ``simulations``, the claims checks' packages, the figures' runs."""
    import figures
    import regnorm
    import simulations

    names = ["regnorm", "regnorm.normalizers.registry", "simulations.checks", "derivations.checks"]
    for package in (regnorm, simulations):
        names += [
            f"{package.__name__}.{m.name}"
            for m in pkgutil.iter_modules(package.__path__)
            if not m.name.startswith("_") and m.name != "checks"
        ]
    names += [f"figures.{name}.run" for name in figures.FIGURES]
    return sorted(names)


def test_the_api_reference_names_every_public_module():
    missing = [n for n in public_surface() if n not in _documented()]
    assert not missing, f"docs/api.md does not document {missing}"


def _constants(package: str) -> list[str]:
    """The public names of ``package`` that are neither modules, classes nor functions."""
    mod = importlib.import_module(package)
    return [
        n
        for n in mod.__all__
        if not (inspect.ismodule(v := getattr(mod, n)) or inspect.isclass(v) or callable(v))
    ]


@pytest.mark.parametrize("package", [*FAMILIES, "regnorm.claims"])
def test_the_api_reference_names_every_public_constant(package):
    # autodoc documents a constant where it is defined (its doc comment is there): under the
    # package or one of its modules
    documented = {n.rpartition(".")[2] for n in _documented() if n.startswith(f"{package}.")}
    missing = [n for n in _constants(package) if n not in documented]
    assert not missing, f"docs/api.md documents no constant {missing} of {package}"
