"""template.yaml as data, and its intrinsic functions evaluated the way CloudFormation would.

Two parts, used by the Docker-free invoker (tools/invoke.py) and by the template tests:

- `load_template` reads a SAM/CloudFormation template keeping the short-form tags
  (`!Ref X` becomes `{"Ref": "X"}`, `!Sub s` becomes `{"Fn::Sub": s}`, ...), which plain
  YAML loaders reject.
- `Resolver` evaluates the intrinsics this project's template uses (`Ref`, `Fn::Sub`,
  `Fn::GetAtt`, `Fn::If` with the template's `Conditions`, `Fn::Join`) for one stack:
  parameters take their defaults unless overridden, pseudo parameters come from the stack,
  and a resource's `Ref`/`GetAtt` is built from the name the template gives it.

What only a deployment knows (a generated physical name, a layer version number) is not made
up: resolving it raises `TemplateError` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    """The template cannot be evaluated as asked (unknown name, bad override, unsupported intrinsic)."""


# --------------------------------------------------------------------------- loading


# libyaml's loader when PyYAML was built with it: ten times faster on template.yaml.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnLoader(_SafeLoader):  # type: ignore[misc]
    """A safe YAML loader that understands CloudFormation's short-form tags."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # `Ref` and `Condition` keep their names; every other tag is a `Fn::` function.
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            # `!GetAtt Resource.Attribute` is the short form of ["Resource", "Attribute"].
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- SAM globals


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in {"Ref", "Condition"} or key.startswith("Fn::")


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's rules: maps merge key by key, lists are global + local, anything else: local wins.

    An intrinsic is a dict but stands for one value, so it counts as a plain value (as in SAM).
    """
    both_maps = all(isinstance(v, dict) and not _is_intrinsic(v) for v in (global_value, local_value))
    if both_maps:
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's Properties with `Globals.Function` merged in, as `sam build`/`sam deploy` see them."""
    resource = template.get("Resources", {}).get(logical_id)
    if resource is None or resource.get("Type") != "AWS::Serverless::Function":
        functions = sorted(
            name for name, r in template.get("Resources", {}).items() if r.get("Type") == "AWS::Serverless::Function"
        )
        raise TemplateError(
            f"{logical_id!r} is not an AWS::Serverless::Function in the template; functions: {', '.join(functions)}"
        )
    globals_ = template.get("Globals", {}).get("Function", {})
    return _merge_globals(globals_, resource.get("Properties", {}))  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- parameters


def _parameter_value(name: str, declaration: Mapping[str, Any], given: Any) -> str | list[str]:
    """A parameter's value as `Ref` returns it (always text), checked like CloudFormation checks it."""
    text = str(given).lower() if isinstance(given, bool) else str(given)
    kind = declaration.get("Type", "String")
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in text.split(",")]
    allowed = declaration.get("AllowedValues")
    if allowed is not None and text not in {str(a) for a in allowed}:
        raise TemplateError(f"parameter {name}={text!r} is not one of {', '.join(str(a) for a in allowed)}")
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
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"no such parameter in the template: {', '.join(unknown)}")
    values: dict[str, str | list[str]] = {}
    for name, declaration in declared.items():
        if name in overrides:
            values[name] = _parameter_value(name, declaration, overrides[name])
        elif "Default" in declaration:
            values[name] = _parameter_value(name, declaration, declaration["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default: pass it as an override ({name}=...)")
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
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def url_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"


#: `Fn::If` may return `!Ref AWS::NoValue`: the property (or list item) is then left out.
NO_VALUE = object()

#: The property that names a resource of each type this template references.
NAME_PROPERTY = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::EventSchemas::Registry": "RegistryName",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
}

_FUNCTION_ARN = "arn:{partition}:lambda:{region}:{account}:function:{name}"

#: What `Ref` (attribute "Ref") and `Fn::GetAtt` return, per type, built from the resource's name.
#: Types not listed return their name for `Ref`.
FORMATS = {
    ("AWS::SNS::Topic", "Ref"): "arn:{partition}:sns:{region}:{account}:{name}",
    ("AWS::SNS::Topic", "TopicArn"): "arn:{partition}:sns:{region}:{account}:{name}",
    ("AWS::SQS::Queue", "Ref"): "https://sqs.{region}.{url_suffix}/{account}/{name}",
    ("AWS::SQS::Queue", "QueueUrl"): "https://sqs.{region}.{url_suffix}/{account}/{name}",
    ("AWS::SQS::Queue", "Arn"): "arn:{partition}:sqs:{region}:{account}:{name}",
    ("AWS::Events::EventBus", "Arn"): "arn:{partition}:events:{region}:{account}:event-bus/{name}",
    ("AWS::Events::Rule", "Arn"): "arn:{partition}:events:{region}:{account}:rule/{name}",
    ("AWS::DynamoDB::Table", "Arn"): "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    ("AWS::Logs::LogGroup", "Arn"): "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
    ("AWS::EventSchemas::Registry", "Ref"): "arn:{partition}:schemas:{region}:{account}:registry/{name}",
    ("AWS::EventSchemas::Registry", "RegistryArn"): "arn:{partition}:schemas:{region}:{account}:registry/{name}",
    ("AWS::Lambda::Function", "Arn"): _FUNCTION_ARN,
    ("AWS::Serverless::Function", "Arn"): _FUNCTION_ARN,
    # A layer's Ref is its version ARN; the version number only exists once it is published, so
    # this is the layer's ARN without it (enough to name it; not to fetch it).
    ("AWS::Serverless::LayerVersion", "Ref"): "arn:{partition}:lambda:{region}:{account}:layer:{name}",
}

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions for one stack: `resolve(value)` returns plain data."""

    def __init__(self, template: Mapping[str, Any], stack: Stack, overrides: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.stack = stack
        self.parameters = parameter_values(template, overrides)
        self._conditions: dict[str, bool] = {}

    # --- the public surface ---------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if _is_intrinsic(value):
                (function, argument), *_ = value.items()
                return self._evaluate(function, argument)
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack.name,
            "AWS::Region": self.stack.region,
            "AWS::AccountId": self.stack.account_id,
            "AWS::Partition": self.stack.partition,
            "AWS::URLSuffix": self.stack.url_suffix,
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._resource_value(name, "Ref")

    def get_att(self, logical_id: str, attribute: str) -> str:
        return self._resource_value(logical_id, attribute)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"no such condition in the template: {name}")
            self._conditions[name] = self._truth(conditions[name])
        return self._conditions[name]

    # --- intrinsic functions --------------------------------------------------------------

    def _evaluate(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, self.resolve(attribute))
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(str(item) for item in self.resolve(items))
        if function in {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}:
            return self._truth({function: argument})
        raise TemplateError(f"{function} is not supported by this resolver (template.yaml does not use it)")

    def _truth(self, expression: Any) -> bool:
        (function, argument), *_ = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(side) for side in argument)
            # CloudFormation compares values as text: !Equals [!Ref Count, 10] with Count=10 holds.
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function == "Fn::And":
            return all(self._truth(item) for item in argument)
        if function == "Fn::Or":
            return any(self._truth(item) for item in argument)
        raise TemplateError(f"{function} is not a condition function")

    def _sub(self, argument: str | list[Any]) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # `${!Literal}` writes `${Literal}` as it is
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            value = self.ref(name)
            if isinstance(value, list):
                raise TemplateError(f"${{{name}}} is a list; Fn::Sub needs a single value")
            return str(value)

        return _SUB_VARIABLE.sub(value_of, text)

    # --- resources ------------------------------------------------------------------------

    def _resource_value(self, logical_id: str, attribute: str) -> str:
        resource = self.template.get("Resources", {}).get(logical_id)
        if resource is None:
            raise TemplateError(f"{logical_id} is neither a parameter nor a resource of the template")
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        name_property = NAME_PROPERTY.get(kind)
        if attribute != "Ref" and (kind, attribute) not in FORMATS and attribute in properties:
            return str(self.resolve(properties[attribute]))
        if name_property is None or name_property not in properties:
            raise TemplateError(
                f"{logical_id} ({kind}) has no name in the template, so its {attribute} is only known "
                "after a deployment (CloudFormation generates the name)"
            )
        template_format = FORMATS.get((kind, attribute), "{name}" if attribute == "Ref" else None)
        if template_format is None:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not supported by this resolver")
        return template_format.format(
            name=self.resolve(properties[name_property]),
            partition=self.stack.partition,
            region=self.stack.region,
            account=self.stack.account_id,
            url_suffix=self.stack.url_suffix,
        )
