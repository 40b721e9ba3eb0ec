"""template.yaml as data (short-form tags in their long form, by tools/cfn_template.py), and what tests read in it."""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cfn_template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def handler_module(name: str) -> ModuleType:
    """functions/<name>/app.py, imported as Lambda imports it (the layer is on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"handler_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    found = template()["Resources"]
    return {name: r for name, r in found.items() if kind is None or r["Type"] == kind}


def function_for_handler(handler_dir: str) -> tuple[str, dict[str, Any]]:
    for name, resource in resources("AWS::Serverless::Function").items():
        if resource["Properties"]["CodeUri"].rstrip("/") == f"functions/{handler_dir}":
            return name, resource
    raise LookupError(f"no function in template.yaml runs functions/{handler_dir}")


def statements_of(function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every IAM statement a function gets, through inline statements and managed policies."""
    statements: list[dict[str, Any]] = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Ref" in policy:
            document = resources()[policy["Ref"]]["Properties"]["PolicyDocument"]
            statements.extend(document["Statement"])
        elif isinstance(policy, dict) and "Statement" in policy:
            statements.extend(policy["Statement"])
    return statements


def granted(statement: dict[str, Any], permission: str) -> bool:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    return any(re.fullmatch(a.replace("*", ".*"), permission, flags=re.IGNORECASE) for a in actions)


def audit_schema_in_template() -> dict[str, Any]:
    content = resources()["AuditEventSchema"]["Properties"]["Content"]
    return json.loads(content)  # type: ignore[no-any-return]
