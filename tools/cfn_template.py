"""template.yaml as data, and its intrinsic functions evaluated for one stack, by the libraries
that know CloudFormation and SAM.

- `load_template`: cfn-lint's decoder; short-form tags become their long form (`!Ref X` is
  `{"Ref": "X"}`, `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`).
- `function_properties`: a function's Properties with `Globals.Function` merged in by
  aws-sam-translator's own Globals, as `sam build`/`sam deploy` merge them.
- `Resolver`: parameters (defaults, or overrides checked as CloudFormation checks them), pseudo
  parameters and the names the template gives its resources, substituted for `Ref` and `Fn::Sub` by
  aws-sam-translator's IntrinsicsResolver; `Fn::If` is evaluated with the template's Conditions.

What only a deployment knows (a generated name, an ARN, a layer version) is not made up: resolving
it raises `TemplateError` with the reason.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str
from samtranslator.intrinsics.resolver import IntrinsicsResolver
from samtranslator.model.exceptions import ExceptionWithMessage
from samtranslator.plugins.globals.globals import Globals
from samtranslator.translator.arn_generator import ArnGenerator

SAM_FUNCTION = "AWS::Serverless::Function"
#: The resource types whose `Ref` is the name the template gives them, and the property that holds it.
NAME_PROPERTY = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::SSM::Parameter": "Name",
    SAM_FUNCTION: "FunctionName",
}
#: `Fn::If` may give `!Ref AWS::NoValue`: the property (or list item) is then left out.
NO_VALUE = {"Ref": "AWS::NoValue"}
_SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")


class TemplateError(Exception):
    """The template cannot be evaluated as asked (unknown name, bad override, a value only a deployment knows)."""


def load_template(path: Path) -> dict[str, Any]:
    try:
        template, errors = decode_str(path.read_text())
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error.strerror}") from error
    if errors or template is None:
        raise TemplateError(f"{path}: " + "; ".join(error.message for error in errors))
    # cfn-lint's nodes remember their lines; plain dicts and strings are all we need.
    return json.loads(json.dumps(template))  # type: ignore[no-any-return]


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's Properties with `Globals.Function` merged in, as `sam build`/`sam deploy` see them."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    resource = resources.get(logical_id, {})
    if resource.get("Type") != SAM_FUNCTION:
        functions = ", ".join(sorted(name for name, r in resources.items() if r.get("Type") == SAM_FUNCTION))
        raise TemplateError(f"{logical_id!r} is not an {SAM_FUNCTION} in the template; functions: {functions}")
    try:
        globals_ = Globals({"Globals": template.get("Globals", {})})
        merged = globals_.merge(SAM_FUNCTION, resource.get("Properties", {}), logical_id, resource.get("IgnoreGlobals"))
    except ExceptionWithMessage as error:
        raise TemplateError(error.message) from error
    return copy.deepcopy(merged)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- parameters


def _checked(name: str, declaration: Mapping[str, Any], given: Any) -> str | list[str]:
    """A parameter's value as `Ref` returns it (text), refused where CloudFormation would refuse it."""
    text = str(given).lower() if isinstance(given, bool) else str(given)
    kind = declaration.get("Type", "String")
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in text.split(",")]
    allowed = [str(value) for value in declaration.get("AllowedValues", [])]
    if allowed and text not in allowed:
        raise TemplateError(f"parameter {name}={text!r} is not one of {', '.join(allowed)}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, text):
        raise TemplateError(f"parameter {name}={text!r} does not match {pattern}")
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            raise TemplateError(f"parameter {name}={text!r} is not a number") from None
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            raise TemplateError(f"parameter {name}={text} is below its MinValue {declaration['MinValue']}")
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            raise TemplateError(f"parameter {name}={text} is above its MaxValue {declaration['MaxValue']}")
    return text


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str | list[str]]:
    """Every parameter's value: its default, or the override (which must name a declared parameter)."""
    declared: Mapping[str, Any] = template.get("Parameters", {})
    given = dict(overrides or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"no such parameter in the template: {', '.join(unknown)}")
    values: dict[str, str | list[str]] = {}
    for name, declaration in declared.items():
        if name not in given and "Default" not in declaration:
            raise TemplateError(f"parameter {name} has no default: pass it as an override ({name}=...)")
        values[name] = _checked(name, declaration, given.get(name, declaration.get("Default")))
    return values


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Stack:
    """What the pseudo parameters (AWS::StackName, AWS::Region, ...) stand for."""

    name: str
    region: str
    account_id: str

    @property
    def partition(self) -> str:
        return str(ArnGenerator.get_partition_name(self.region))


class Resolver:
    """Evaluates intrinsic functions for one stack: `resolve(value)` returns plain data."""

    def __init__(self, template: Mapping[str, Any], stack: Stack, overrides: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.stack = stack
        self.parameters = parameter_values(template, overrides)
        self._values: dict[str, Any] = {
            **self.parameters,
            "AWS::StackName": stack.name,
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account_id,
            "AWS::Partition": stack.partition,
        }
        for logical_id, resource in template.get("Resources", {}).items():
            name = resource.get("Properties", {}).get(NAME_PROPERTY.get(resource.get("Type"), ""))
            # A name built from what only a deployment knows leaves the resource's Ref unknown.
            with contextlib.suppress(TemplateError):
                if name is not None:
                    self._values[logical_id] = self.resolve(name)

    def resolve(self, value: Any) -> Any:
        return self._evaluate(self._substitute(value))

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"no such condition in the template: {name}")
        return self._truth(self._substitute(conditions[name]))

    def _substitute(self, value: Any) -> Any:
        """`Ref` and `Fn::Sub` of every known value replaced (aws-sam-translator); the rest is left as it is."""
        try:
            return IntrinsicsResolver(self._values).resolve_parameter_refs(copy.deepcopy(value))
        except ExceptionWithMessage as error:
            raise TemplateError(error.message) from error

    def _evaluate(self, value: Any) -> Any:
        """What substitution left: `Fn::If`, finished `Fn::Sub`s, AWS::NoValue; anything else is unknown here."""
        if isinstance(value, list):
            return [item for item in map(self._evaluate, value) if item != NO_VALUE]
        if not isinstance(value, dict):
            return value
        function = next(iter(value), "")
        if len(value) != 1 or not (function in {"Ref", "Condition"} or function.startswith("Fn::")):
            return {key: item for key, item in ((k, self._evaluate(v)) for k, v in value.items()) if item != NO_VALUE}
        argument = value[function]
        if value == NO_VALUE:
            return value
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self._evaluate(when_true if self.condition(name) else when_false)
        if function == "Fn::Sub" and isinstance(argument, str) and not _SUB_NAME.search(argument):
            return argument.replace("${!", "${")  # `${!Literal}` writes `${Literal}` as it is
        raise self._unknown(function, argument)

    def _truth(self, expression: Mapping[str, Any]) -> bool:
        [(function, argument)] = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            # CloudFormation compares as text: !Equals [!Ref Count, 10] with Count=10 holds.
            left, right = (self._evaluate(side) for side in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function in {"Fn::And", "Fn::Or"}:
            return (all if function == "Fn::And" else any)(self._truth(item) for item in argument)
        raise TemplateError(f"{function} is not a condition function")

    def _unknown(self, function: str, argument: Any) -> TemplateError:
        if function == "Ref":
            names = [argument]
        elif function == "Fn::GetAtt":
            names = [".".join(argument) if isinstance(argument, list) else argument]
        elif function == "Fn::Sub" and isinstance(argument, str):
            names = _SUB_NAME.findall(argument)
        else:
            return TemplateError(f"{function} is not evaluated here (template.yaml's functions do not need it)")
        resources = self.template.get("Resources", {})
        for name in names:
            logical_id = name.split(".", 1)[0]
            if logical_id not in resources:
                return TemplateError(f"{function}: {logical_id} is neither a parameter nor a resource of the template")
        kinds = ", ".join(sorted({resources[name.split(".", 1)[0]]["Type"] for name in names}))
        return TemplateError(
            f"{function} {', '.join(names)} ({kinds}) is not evaluated before a deployment: generated names, ARNs "
            "and versions come from the deployed stack (only parameters and the names the template gives are known)"
        )
