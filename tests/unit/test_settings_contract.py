"""One source per contract: the settings model, the template's parameters and the README agree."""

from __future__ import annotations

from enum import Enum
from typing import Any

from msgspec.structs import fields

from remediation.settings import Settings
from settings_table import FROM_THE_STACK, README, parameter_name, readme_with_table
from support.template import template

VARIABLES = {field.encode_name: field for field in fields(Settings)}


def _as_parameter_default(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def test_every_setting_is_set_by_its_template_parameter_with_the_same_default() -> None:
    environment = template()["Globals"]["Function"]["Environment"]["Variables"]
    parameters = template()["Parameters"]
    problems = []
    for variable, field in VARIABLES.items():
        if variable not in environment:
            problems.append(f"{variable}: not set in Globals.Function.Environment")
        elif variable not in FROM_THE_STACK:
            name = parameter_name(variable)
            if environment[variable] != {"Ref": name}:
                problems.append(f"{variable}: set from {environment[variable]}, not the parameter {name}")
            elif str(parameters[name].get("Default")) != _as_parameter_default(field.default):
                problems.append(f"{name}: default {parameters[name].get('Default')!r}, the code's is {field.default!r}")
            elif not parameters[name].get("Description"):
                problems.append(f"{name}: no Description (the README table shows it)")
    assert problems == []


def test_the_template_sets_no_variable_the_code_does_not_read() -> None:
    environment = template()["Globals"]["Function"]["Environment"]["Variables"]
    unknown = [name for name in environment if name not in VARIABLES and not name.startswith("POWERTOOLS_")]
    assert unknown == []


def test_the_readme_table_is_generated_from_the_code_and_the_template() -> None:
    readme = README.read_text()
    assert readme_with_table(readme) == readme, "run `make schema`"
