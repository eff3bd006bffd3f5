"""The package layout is the architecture: layers point one way and nothing imports in a circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

from planner.settings import PROJECT_ROOT


def test_import_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml (layers, no HTTP or SQL in the core)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_import_cycles() -> None:
    """No module reaches itself through imports, not even through imports inside functions."""
    graph = grimp.build_graph("planner", "api")
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            # A package's __init__ re-exporting its children is not a cycle of concepts.
            if not imported.startswith(module + "."):
                edges.add_edge(module, imported)
    cycles = [sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1]
    assert cycles == []


def test_planner_top_level_is_subpackages_and_a_few_helpers() -> None:
    top = sorted(p.stem for p in (PROJECT_ROOT / "planner").glob("*.py"))
    packages = sorted(
        p.name for p in (PROJECT_ROOT / "planner").iterdir() if (p / "__init__.py").exists()
    )
    assert packages == ["centre", "cli", "dispatch", "log", "network", "review", "sim"]
    assert len([m for m in top if m not in {"__init__", "__main__"}]) <= 8, top
