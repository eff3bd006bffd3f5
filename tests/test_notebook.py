"""The what-if notebook runs top to bottom (executed with nbclient on the project's kernel)."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from planner.settings import PROJECT_ROOT


@pytest.mark.slow
def test_what_if_notebook_executes() -> None:
    path = PROJECT_ROOT / "notebooks" / "what_if.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "calls had a different response" in text
