"""The documentation site builds with Sphinx, warnings as errors, and holds every part."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_notebook_has_a_page(site):
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        page = site / "notebooks" / f"{nb.stem}.html"
        assert page.is_file(), f"no page for {nb.name}"
        # the first markdown heading of the notebook is the page's title
        title = next(ln[4:] for ln in nb.read_text().splitlines() if ln.startswith("# # "))
        assert title.split(" (")[0] in page.read_text()


def test_generated_and_kept_pages_are_in_the_site(site):
    for name in ("derivations", "conventions", "guarantees", "notebooks", "api"):
        assert (site / f"{name}.html").is_file(), name
    for family in sorted((ROOT / "docs" / "families").glob("*.md")):
        assert (site / "families" / f"{family.stem}.html").is_file(), family.name


def test_api_reference_documents_the_public_surface(site):
    from regnorm import claims

    api = (site / "api.html").read_text()
    for name in ("regnorm.claims.run_claims", "regnorm.sweeps.sweep", "regnorm.claims.load_checks"):
        assert f'id="{name}"' in api, name
    # autodoc documents module constants only where they carry a doc comment
    for name in (n for n in claims.__all__ if callable(getattr(claims, n))):
        assert f'id="regnorm.claims.{name}"' in api, name
    index = (site / "index.html").read_text()
    # a newcomer reaches the notebooks and the API reference from the guide's first page
    assert 'href="notebooks.html"' in index and 'href="api.html"' in index
