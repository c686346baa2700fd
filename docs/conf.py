"""Sphinx configuration of regnorm's documentation site (MyST markdown, notebooks, API)."""

import regnorm

project = "regnorm"
author = "regnorm contributors"
release = version = regnorm.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

# The notebooks are kept as jupytext percent-format scripts (docs/notebooks links to them).
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# The test suite executes every notebook already; the site renders their source only.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "conf.py", "notebooks/__pycache__"]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}

html_theme = "alabaster"
html_title = "regnorm"
