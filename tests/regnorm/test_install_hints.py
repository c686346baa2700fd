"""Install hints name what installs from here: ``regnorm`` on PyPI is an unrelated project."""

import sys
from pathlib import Path

import pytest

from regnorm.backend import BackendUnavailableError, get_namespace
from regnorm.sweeps import DaskExecutor

ROOT = Path(__file__).resolve().parents[2]


def test_dask_executor_without_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError) as info, DaskExecutor(workers=1):
        pass
    msg = str(info.value)
    assert 'pip install ".[dask]"' in msg and "dask[distributed]" in msg
    assert "regnorm[" not in msg


def test_cupy_backend_without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(BackendUnavailableError) as info:
        get_namespace("cupy")
    assert 'pip install ".[gpu]"' in str(info.value) and "regnorm[" not in str(info.value)


def test_no_hint_names_the_pypi_project():
    sources = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for package in ("regnorm", "simulations", "derivations", "figures", "docs"):
        sources += (ROOT / package).rglob("*.py")
        sources += (ROOT / package).rglob("*.md")
    offenders = [str(p.relative_to(ROOT)) for p in sources if "regnorm[" in p.read_text()]
    assert offenders == []
