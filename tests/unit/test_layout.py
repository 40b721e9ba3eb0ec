"""The layout shows the architecture: control flows down, runbooks decide, the engine acts.

Read from the source, so a change that makes a runbook call back into the engine, or closes an
import cycle, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support.app import ROOT

PACKAGE = ROOT / "layers" / "remediation" / "remediation"
#: What only the engine touches: runbooks decide from facts and return intents.
ENGINE = {"runner", "pipeline", "observe", "runtime", "state", "audit", "clients"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """`remediation.*` modules a module imports, type-checking imports included: a cycle of
    types is a cycle of design too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "remediation":
            found.update(f"remediation.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("remediation."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("remediation."))
    return found


GRAPH = {_module(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def test_runbooks_import_nothing_of_the_engine() -> None:
    offending = {
        module: sorted(i for i in imports if i.removeprefix("remediation.") in ENGINE)
        for module, imports in GRAPH.items()
        if module.startswith("remediation.runbooks")
    }
    assert {m: i for m, i in offending.items() if i} == {}


def test_the_layer_has_no_import_cycle() -> None:
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            module, path = stack.pop()
            for imported in GRAPH.get(module, ()):
                if imported == start:
                    return [*path, imported]
                if imported not in path:
                    stack.append((imported, [*path, imported]))
        return None

    cycles = [cycle for module in GRAPH if (cycle := cycle_from(module))]
    assert cycles == []


def test_no_module_is_a_grab_bag() -> None:
    assert not [p.name for p in PACKAGE.rglob("*.py") if p.stem in {"utils", "helpers", "common", "misc"}]
