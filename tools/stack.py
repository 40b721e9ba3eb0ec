"""A deployed stack's outputs, as the tools read them (one DescribeStacks)."""

from __future__ import annotations

from typing import Any


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """`{OutputKey: OutputValue}` of `stack`; DescribeStacks' errors (no such stack) propagate."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
