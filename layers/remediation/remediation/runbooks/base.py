"""A runbook: which alarms a handler takes, and which actions it runs for them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from remediation.errors import NotApplicable

if TYPE_CHECKING:
    from remediation.actions.base import Action
    from remediation.runner import Run
    from remediation.signals import Signal

#: What the runner itself calls for every runbook (state table, audit bus, kill switch, verify).
RUNNER_PERMISSIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "events:PutEvents",
    "ssm:GetParameter",
    "cloudwatch:DescribeAlarms",
)


class Runbook(ABC):
    #: The handler's name, as in `functions/<name>/` and the audit event's `handler`.
    name: ClassVar[str]
    signals: ClassVar[frozenset[Signal]]
    #: The actions it may run (their permissions must be granted to its function).
    actions: ClassVar[tuple[type[Action[Any]], ...]]
    #: Reads of its own, beyond the runner's and its actions'.
    permissions: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def required_permissions(cls) -> frozenset[str]:
        return frozenset(RUNNER_PERMISSIONS + cls.permissions + tuple(p for a in cls.actions for p in a.permissions))

    @staticmethod
    def require_state(run: Run, expected: str) -> None:
        if run.alarm.state != expected:
            raise NotApplicable(f"{run.runbook.name} acts on {expected} transitions; this one is {run.alarm.state}")

    @abstractmethod
    def run(self, run: Run) -> None:
        """Decide and act through `run.execute`; raise a `LimitReached` to decide not to act."""
