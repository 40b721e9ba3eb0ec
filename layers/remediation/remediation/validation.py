"""How outside data becomes typed: msgspec's conversion into the edge's Structs, and its errors in words.

msgspec, not pydantic, because a cold start pays for the import: msgspec's is a few milliseconds
(a compiled core), where pydantic's, to its first model class, cost about half of `import boto3`
(docs/BENCHMARKS-NOTES.md, "Cold start vs boto3"). A Struct's constructor does
not check its fields; everything that comes from outside goes through `validated`, which does.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

ValidationError = msgspec.ValidationError

_WHERE = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)


def validated(data: object, into: type[T], *, from_text: bool = False) -> T:
    """`data` as an `into`, every field checked (types, bounds, patterns, the type's own checks).

    Strict by default: a number written as text is malformed input, not a number to guess.
    `from_text` is for sources that only have text (the environment): "300" is then 300.
    Raises `ValidationError`, saying what is wrong and where.
    """
    return msgspec.convert(data, into, strict=not from_text)


def as_json(value: object) -> Any:
    """A Struct (or anything holding Structs) as JSON-ready builtins: Decimals and enums as their
    text, tuples as lists; what `validated` reads back."""
    return msgspec.to_builtins(value)


def camel(name: str) -> str:
    """size_gb → sizeGb: parameters are snake_case in Python, camelCase in the audit event."""
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def describe_validation(error: ValidationError) -> str:
    """What is wrong with invalid input, and where, for the log and the audit: `Trigger.Period:
    Expected `int` >= 1`. msgspec stops at the first problem, so this names one."""
    match = _WHERE.match(str(error))
    if match is None:
        return str(error)
    path = match["path"].lstrip(".")
    # $.Records[0].Sns → Records.0.Sns, as the notification's own keys read.
    path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
    return f"{path or '(root)'}: {match['problem']}"
