"""Sphinx configuration of regnorm's documentation site (MyST markdown, notebooks, API)."""

import inspect
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


def _no_type_docstrings(app, what, name, obj, options, lines):
    """A constant without a doc comment gets no docstring, not its type's (``tuple``'s)."""
    own = getattr(type(obj), "__doc__", None)
    if what == "data" and own and "\n".join(lines).strip() == inspect.cleandoc(own).strip():
        lines.clear()


def setup(app):
    app.connect("autodoc-process-docstring", _no_type_docstrings)
