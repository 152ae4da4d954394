"""Imports point one way: cli -> api -> runtime -> agents/scheduler/graph; slurm and config
at the bottom, importing nothing above them."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hpcflow"

ALLOWED = {
    "graph": {"errors", "graph"},
    "scheduler": {"errors", "graph", "scheduler"},
    "slurm": {"errors", "slurm"},
    "config": {"errors", "config"},
    "agents": {"errors", "graph", "scheduler", "agents", "slurm", "config"},
    "observe": {"errors", "observe"},
    "runtime": {"errors", "graph", "scheduler", "agents", "runtime", "slurm", "config",
                "observe"},
    "api": {"errors", "graph", "scheduler", "agents", "runtime", "api", "slurm", "config",
            "observe"},
}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hpcflow" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_below(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = imported_layers(path) - ALLOWED[layer]
        assert not bad, f"{path.relative_to(PACKAGE)} imports hpcflow.{sorted(bad)}"
