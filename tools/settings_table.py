"""The README's configuration table, generated from the settings model and the template.

Every setting (`remediation.settings.Settings`: its environment variable and default) is set in
`template.yaml` by a parameter of the same name in CamelCase, with the same default, whose
`Description` says what it does; the few that name a stack resource say so. `make schema`
writes the table between the README's settings markers; a test fails when the README, the
template's parameters and the settings model disagree.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

from msgspec.structs import fields

from cfn_template import load_template
from remediation.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEMPLATE = ROOT / "template.yaml"
START, END = "<!-- settings:start (make schema writes this table) -->", "<!-- settings:end -->"
#: Settings the stack fills in with a resource of its own, not a parameter.
FROM_THE_STACK = {
    "AUDIT_BUS_NAME": "the stack's audit bus",
    "STATE_TABLE_NAME": "the stack's state table",
    "KILL_SWITCH_PARAMETER": "the stack's SSM parameter `/<stack>/remediation-enabled`: `false` = audit-only, "
    "no redeploy",
    "VERIFY_SCHEDULE_GROUP": "the stack's schedule group `<stack>-verify`: one one-time schedule per applied raise",
    "VERIFIER_FUNCTION_ARN": "the stack's verifier function (unset: applied changes are not checked, and say so)",
    "SCHEDULER_ROLE_ARN": "the stack's role that lets the schedules invoke the verifier, and nothing else",
    "SCHEDULER_CONTEXT_ATTRIBUTES": "`true` on AWS: the verifier checks the schedule ARN Scheduler fills in; `false` "
    "only with LocalEmulator=true (the emulator passes the placeholder through: the state-table check decides alone)",
}


def parameter_name(variable: str) -> str:
    return "".join(part.capitalize() for part in variable.lower().split("_"))


def shown(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, tuple):
        value = ",".join(value)
    return f"`{value}`" if str(value) != "" else "(empty)"


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, template parameter, default, what it does) for every setting."""
    template = load_template(TEMPLATE)
    parameters = template["Parameters"]
    found = []
    for field in fields(Settings):
        variable = field.encode_name
        if variable in FROM_THE_STACK:
            found.append((variable, "", "", FROM_THE_STACK[variable]))
            continue
        name = parameter_name(variable)
        description = str(parameters.get(name, {}).get("Description", "")).strip()
        found.append((variable, name, shown(field.default), " ".join(description.split())))
    return found


def table() -> str:
    lines = ["| variable | template parameter | default | what it does |", "| --- | --- | --- | --- |"]
    lines += [
        f"| `{variable}` | {f'`{name}`' if name else '(the stack)'} | {default or '—'} | {text} |"
        for variable, name, default, text in rows()
    ]
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise SystemExit(f"README.md has no {START} marker")
    return f"{before}{START}\n{table()}\n{END}{after}"


def main() -> None:
    README.write_text(readme_with_table(README.read_text()))


if __name__ == "__main__":
    main()
