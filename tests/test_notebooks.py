"""Execute every notebook under notebooks/ top to bottom in a fresh kernel.

A notebook that raises fails the test. Notebooks are stored without outputs; this test
does not write them back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Notebooks executed by a test of their own, which also checks what they print.
OWN_TEST = {"03_mendelian_randomization.ipynb": "tests/mr/test_notebook.py"}
EXECUTED_HERE = [p for p in NOTEBOOKS if p.name not in OWN_TEST]
# A generous ceiling per cell; the notebooks are written to run in well under a minute.
CELL_TIMEOUT_S = 300


@pytest.mark.slow
@pytest.mark.parametrize("path", EXECUTED_HERE, ids=[p.name for p in EXECUTED_HERE])
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()


def test_every_notebook_is_executed_by_some_test() -> None:
    for name, test_file in OWN_TEST.items():
        assert (NOTEBOOK_DIR / name).exists(), f"{name} listed in OWN_TEST but absent"
        assert name in (NOTEBOOK_DIR.parent / test_file).read_text(), test_file


def test_notebooks_are_stored_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: clear outputs before committing"
