"""The layout shows the architecture: control flows down, runbooks decide, the engine acts.

Read from the source, so a change that makes a runbook call back into the engine, or closes an
import cycle, fails here.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from printapp_cli import COMMANDS
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


def test_every_tool_module_the_command_line_imports_is_installed_with_it() -> None:
    # Given the modules `printapp-remediation` loads: its commands' modules and what they import
    # from tools/, transitively
    tools = ROOT / "tools"
    local = {path.stem for path in tools.glob("*.py")}
    needed, pending = set(), ["printapp_cli", *(command.module for command in COMMANDS.values())]
    while pending:
        module = pending.pop()
        if module in needed:
            continue
        needed.add(module)
        for node in ast.walk(ast.parse((tools / f"{module}.py").read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            pending += [name for name in names if name in local]

    # Then pip installs each of them with the command line (a new one left out of pyproject.toml
    # passes every test, which put tools/ on sys.path, and breaks the installed command)
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(needed - set(setuptools["py-modules"])) == []
