"""`make schema`: the audit event's JSON Schema, generated from the code's typed contract.

`remediation.contract` holds the detail's models; this wraps them in EventBridge's envelope,
writes JSON Schema draft-04 (what the EventBridge schema registry takes, `JSONSchemaDraft4`) to
schemas/audit-event.schema.json and copies it into template.yaml's AuditEventSchema `Content`.
A test fails when either file differs from what this generates.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec

from remediation import contract
from remediation.contract import SOURCE, DecisionDetail
from remediation.errors import Limit, Outcome

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "schemas" / "audit-event.schema.json"
TEMPLATE = ROOT / "template.yaml"
_INDENT = " " * 8
_CONTENT = re.compile(r"(  AuditEventSchema:\n(?:.*\n)*?      Content: \|\n)((?:        .*\n)+)")

#: EventBridge's own envelope, as it delivers our events.
_ENVELOPE: dict[str, Any] = {
    "version": {"description": 'EventBridge envelope version; always "0".', "type": "string", "enum": ["0"]},
    "id": {
        "description": "EventBridge's id of this event. To recognise the same decision delivered twice, use "
        "detail.decisionId.",
        "type": "string",
    },
    "detail-type": {
        "description": "What was decided, in words; always the same as detail.outcome ("
        + ", ".join(f"{o.value} = {o.detail_type}" for o in Outcome)
        + "). Match on it in a rule's event pattern to page on Remediation Failed, Escalation Required and "
        "Approval Requested only.",
        "type": "string",
        "enum": [o.detail_type for o in Outcome],
    },
    "source": {"description": f"Always {SOURCE}.", "type": "string", "enum": [SOURCE]},
    "account": {
        "description": "The AWS account the handler runs in (and, for everything but a rejected notification, the "
        "account of the alarm).",
        "type": "string",
        "pattern": "^[0-9]{12}$",
    },
    "time": {
        "description": "When EventBridge received the event. detail.timestamp is when the decision was made.",
        "type": "string",
        "format": "date-time",
    },
    "region": {"description": "The region of the audit bus and of the handler.", "type": "string"},
    "resources": {
        "description": "The ARN of the CloudWatch alarm the decision is about; empty when a notification was "
        "rejected before its alarm was known.",
        "type": "array",
        "items": {"type": "string"},
    },
}


#: The contract's closed lists, whose order (the lifecycle of a decision) the schema keeps.
_ENUMS: dict[str, type[Enum]] = {"Outcome": Outcome, "Limit": Limit}

#: The schema's names for the contract's models (subscribers' code generators use them).
_NAMES = {"AlarmDetail": "Alarm", "ActionDetail": "Action", "ApprovalDetail": "Approval", "VerifiesDetail": "Verifies"}


def _draft4(node: Any, definitions: dict[str, Any]) -> Any:
    """msgspec's JSON Schema (2020-12) as draft-04: nullable unions as type lists, `const` as a
    one-value enum, enums inlined, no titles or defaults, docstrings on one line."""
    if isinstance(node, list):
        return [_draft4(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: value for key, value in node.items() if key not in {"title", "default"}}
    if isinstance(node.get("description"), str):
        node["description"] = " ".join(node["description"].split())
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        if "enum" in definitions.get(name, {}):
            enum = {key: value for key, value in definitions[name].items() if key != "description"}
            if name in _ENUMS:  # msgspec sorts an enum's values; readers get the code's order
                enum["enum"] = [member.value for member in _ENUMS[name]]
            return _draft4({**enum, **node}, definitions)
        return {"$ref": f"#/definitions/{_NAMES.get(name, name)}"}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "enum" in node and "type" not in node and all(isinstance(value, str) for value in node["enum"]):
        node["type"] = "string"  # a Literal of strings
    if "anyOf" in node:
        options = node.pop("anyOf")
        nullable = {"type": "null"} in options
        (only,) = [option for option in options if option != {"type": "null"}]
        node = {**_draft4(only, definitions), **_draft4(node, definitions)}
        if nullable and "$ref" not in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return node
    return {key: _draft4(value, definitions) for key, value in node.items()}


def audit_event_schema() -> dict[str, Any]:
    models = msgspec.json.schema(DecisionDetail)["$defs"]
    for name, model in models.items():
        # What the contract's types do with fields they do not know: DecisionDetail lets new ones pass.
        config = getattr(getattr(contract, name, None), "__struct_config__", None)  # None for an enum
        if config is not None:
            model["additionalProperties"] = not config.forbid_unknown_fields
    generated = models.pop("DecisionDetail")
    definitions = {_NAMES[name]: _draft4(model, models) for name, model in models.items() if name in _NAMES}
    # Alarm, action and approval may be null as a whole (a rejected event, a decision about the alarm).
    for definition in definitions.values():
        definition["type"] = ["object", "null"]
    definitions = {"RemediationDecision": _draft4(generated, models), **definitions}
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "PrintAppRemediationAuditEvent",
        "description": "One decision of the PrintApp remediation handlers, as EventBridge delivers it from the "
        "audit bus (AUDIT_BUS_NAME). Every decision is one event: applied, planned (dry run), skipped (a limit "
        "stopped it), failed, rejected, escalated or approval requested. An alarm that leads to two actions "
        "(concurrency and cache) gives one event per action; events of the same alarm state change share "
        "detail.correlationId. Generated from remediation/contract.py by `make schema`; JSON Schema draft-04 "
        "because that is what the EventBridge schema registry accepts (Type: JSONSchemaDraft4).",
        "x-amazon-events-source": SOURCE,
        "type": "object",
        "required": [*_ENVELOPE, "detail"],
        "properties": {**_ENVELOPE, "detail": {"$ref": "#/definitions/RemediationDecision"}},
        "definitions": definitions,
    }


def schema_text() -> str:
    return json.dumps(audit_event_schema(), indent=2, ensure_ascii=False) + "\n"


def template_with_schema(template: str, schema: dict[str, Any]) -> str:
    body = "\n".join(_INDENT + line for line in json.dumps(schema, indent=2).splitlines())
    updated, count = _CONTENT.subn(lambda m: m.group(1) + body + "\n", template, count=1)
    if count != 1:
        raise SystemExit("AuditEventSchema Content block not found in template.yaml")
    return updated


def main() -> None:
    SCHEMA_FILE.write_text(schema_text())
    TEMPLATE.write_text(template_with_schema(TEMPLATE.read_text(), audit_event_schema()))


if __name__ == "__main__":
    main()
