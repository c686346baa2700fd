"""Sphinx configuration of regnorm's documentation site (MyST markdown, notebooks, API)."""

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import regnorm

# the family pages' table generator, also a small extension that fails a -W build on a stale page
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "regnorm"
author = "regnorm contributors"
release = version = regnorm.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "family_tables",
]

# The notebooks are kept as jupytext percent-format scripts (docs/notebooks links to them).
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# The test suite executes every notebook already; the site renders their source only.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "_ext", "records", "conf.py", "notebooks/__pycache__"]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}

html_theme = "alabaster"
html_title = "regnorm"


#: ``.. package-constants:: PACKAGE`` in a page: one ``autodata`` per public constant of the
#: package (its ``__all__`` less modules, classes and functions), from the module that defines
#: it, where its doc comment is; the reference then follows the package's ``__all__``.
PACKAGE_CONSTANTS = re.compile(r"^\.\. package-constants:: ([\w.]+)[ \t]*$", re.M)


def _defines(module, name: str) -> bool:
    return re.search(rf"^{name}\s*[:=]", inspect.getsource(module), re.M) is not None


def package_constants(package: str) -> str:
    """The ``autodata`` directives of ``package``'s public constants."""
    mod = importlib.import_module(package)
    modules = [
        importlib.import_module(f"{package}.{m.name}") for m in pkgutil.iter_modules(mod.__path__)
    ]
    out = []
    for name in mod.__all__:
        value = getattr(mod, name)
        if inspect.ismodule(value) or inspect.isclass(value) or callable(value):
            continue
        home = next(
            (m.__name__ for m in modules if getattr(m, name, None) is value and _defines(m, name)),
            package,
        )
        # a long container's repr would bury its description
        scalar = isinstance(value, int | float | str) and not isinstance(value, bool)
        out.append(f".. autodata:: {home}.{name}" + ("" if scalar else "\n   :no-value:"))
    return "\n\n".join(out)


def _expand_package_constants(app, docname, source):
    source[0] = PACKAGE_CONSTANTS.sub(lambda m: package_constants(m[1]), source[0])


def _no_type_docstrings(app, what, name, obj, options, lines):
    """A constant without a doc comment gets no docstring, not its type's (``tuple``'s)."""
    own = getattr(type(obj), "__doc__", None)
    if what == "data" and own and "\n".join(lines).strip() == inspect.cleandoc(own).strip():
        lines.clear()


#: The descriptions of named-tuple fields taken out of their class's ``Attributes`` section,
#: by the field's full name, for the field's own entry.
_FIELD_DOCS: dict[str, list[str]] = {}
ALIAS = re.compile(r"Alias for field number \d+")


def _one_entry_per_field(app, what, name, obj, options, lines):
    """A named tuple's field is documented by autodoc as a member ("Alias for field number
    0") and by napoleon from the class's ``Attributes`` section: the section's description
    goes to the member's entry, so each field has one."""
    if what == "class" and isinstance(getattr(obj, "_fields", None), tuple):
        kept, field = [], None
        for line in lines:
            m = re.match(r"\.\. attribute:: (\w+)$", line)
            if m and m[1] in obj._fields:
                field = f"{name}.{m[1]}"
                _FIELD_DOCS[field] = []
            elif field and (not line or line.startswith("   ")):
                _FIELD_DOCS[field].append(line[3:])
            else:
                field = None
                kept.append(line)
        lines[:] = kept
    elif what == "attribute" and len(lines) <= 2 and ALIAS.fullmatch("".join(lines).strip()):
        if name in _FIELD_DOCS:
            lines[:] = _FIELD_DOCS[name]


def setup(app):
    app.connect("source-read", _expand_package_constants)
    app.connect("autodoc-process-docstring", _no_type_docstrings)
    app.connect("autodoc-process-docstring", _one_entry_per_field)
