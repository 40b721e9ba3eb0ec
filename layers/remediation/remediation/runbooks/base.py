"""A runbook: which alarms a handler takes, what it needs read, and what it decides.

Runbooks are pure: they import no client, state store, audit trail or runner. The engine reads
what `needs` asks for, hands it over in a `Situation`, and acts on the intents `decide` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from remediation.errors import AlarmNoLongerFiring, NotApplicable
from remediation.intents import Decided, Need, Report

if TYPE_CHECKING:
    from remediation.actions.base import Action
    from remediation.alarm import AlarmNotification
    from remediation.intents import Situation
    from remediation.signals import Recognised, Signal

#: What the engine itself calls for every runbook (state table, audit bus, kill switch, re-read).
ENGINE_PERMISSIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "events:PutEvents",
    "ssm:GetParameter",
    "cloudwatch:DescribeAlarms",
)
#: What a function that may apply a raise calls to schedule its check (SPEC §9).
VERIFY_PERMISSIONS = ("scheduler:CreateSchedule", "iam:PassRole")


class Runbook(ABC):
    #: The handler's name, as in `functions/<name>/` and the audit event's `handler`.
    name: ClassVar[str]
    signals: ClassVar[frozenset[Signal]]
    #: The alarm states it handles; a notification of another state is not applicable.
    states: ClassVar[frozenset[str]] = frozenset({"ALARM"})
    #: The actions it may run (their permissions must be granted to its function).
    actions: ClassVar[tuple[type[Action[Any]], ...]]
    #: What it reads before deciding (beyond the alarm re-read, which every runbook gets).
    reads: ClassVar[frozenset[Need]] = frozenset()
    #: Reads of its own, beyond the engine's and its actions'.
    permissions: ClassVar[tuple[str, ...]] = ()
    #: It may apply a raise, and so schedules that raise's check.
    raises: ClassVar[bool] = True

    @classmethod
    def required_permissions(cls) -> frozenset[str]:
        verify = VERIFY_PERMISSIONS if cls.raises else ()
        return frozenset(
            ENGINE_PERMISSIONS + verify + cls.permissions + tuple(p for a in cls.actions for p in a.permissions)
        )

    def handles(self, alarm: AlarmNotification) -> Report | None:
        """None when this runbook takes the notification; otherwise why not (read nothing)."""
        if alarm.state not in self.states:
            handled = " and ".join(sorted(self.states))
            return Report.of(NotApplicable(f"{self.name} acts on {handled} transitions; this one is {alarm.state}"))
        return None

    def needs(self, alarm: AlarmNotification, recognised: Recognised) -> frozenset[Need]:
        return self.reads | {Need.ALARM}

    def decide(self, situation: Situation) -> Decided:
        """Verify first (the alarm is still in the state it announced), then the runbook's own rules."""
        facts = situation.facts
        if Need.ALARM in facts.read:
            name, announced = situation.alarm.name, situation.alarm.state
            if facts.alarm is None:
                return Decided((Report.of(AlarmNoLongerFiring(f"alarm {name} no longer exists")),))
            if facts.alarm.state != announced:
                return Decided(
                    (
                        Report.of(
                            AlarmNoLongerFiring(
                                f"alarm {name} is {facts.alarm.state} now, no longer {announced}: nothing to do"
                            )
                        ),
                    )
                )
        return self.decide_verified(situation)

    @abstractmethod
    def decide_verified(self, situation: Situation) -> Decided:
        """The runbook's own rules, on an alarm known to be still in the state it announced."""
