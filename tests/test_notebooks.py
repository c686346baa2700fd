"""Every notebook of notebooks/ runs top to bottom on a real Jupyter kernel.

The jupytext source (``.py``, percent format) is what is kept and reviewed, so it is the
source converted and executed here: no stale ``.ipynb`` can pass in its place."""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))
#: One family per notebook, as the guide lists them.
FAMILIES = {
    "batch_noise",
    "teacher_student",
    "normalizer_family",
    "regularization",
    "symbolic_derivations",
}


def test_every_family_has_a_notebook():
    assert {p.stem for p in NOTEBOOKS} == FAMILIES


def errors_of(nb) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def execute(nb, folder: Path):
    """Run ``nb`` in place on a fresh python3 kernel started in ``folder``."""
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    # a failing cell raises CellExecutionError, which fails the test with the cell's traceback
    client.execute()


def test_a_failing_cell_fails(tmp_path):
    nb = jupytext.reads("# %%\nx = 1\n\n# %%\nraise ValueError('bad cell')\n", fmt="py:percent")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="bad cell"):
        execute(nb, tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    nb = jupytext.read(path)
    assert any(c.cell_type == "code" for c in nb.cells), "jupytext found no code cell"
    execute(nb, path.parent)
    assert not errors_of(nb)
    figures = [
        o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert figures, f"{path.name} draws no figure inline"
