"""Every way a decision can end, as a type, and the one place that maps it to an audit outcome.

A limit that stops an action is not a failure: it is a decision (`Remediation Skipped`) that
names the limit. Only what we did not expect (an AWS call that kept failing, a bug, a broken
configuration) is a `Remediation Failed`, and that is re-raised so Lambda retries the alarm.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Outcome(StrEnum):
    """The audit event's `outcome` field, and the DetailType that goes with it."""

    APPLIED = "applied"
    PLANNED = "planned"
    SKIPPED = "skipped"
    FAILED = "failed"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    APPROVAL_REQUESTED = "approval-requested"

    @property
    def detail_type(self) -> str:
        return _DETAIL_TYPES[self]


_DETAIL_TYPES = {
    Outcome.APPLIED: "Remediation Applied",
    Outcome.PLANNED: "Remediation Planned",
    Outcome.SKIPPED: "Remediation Skipped",
    Outcome.FAILED: "Remediation Failed",
    Outcome.REJECTED: "Alarm Rejected",
    Outcome.ESCALATED: "Escalation Required",
    Outcome.APPROVAL_REQUESTED: "Approval Requested",
}


class RemediationError(Exception):
    """Base of everything this package raises on purpose."""

    outcome: ClassVar[Outcome] = Outcome.FAILED
    #: Short, stable name of the rule that decided (`cooldown`, `ceiling`, ...), for subscribers.
    limit: ClassVar[str | None] = None


# --- Rejected: the notification is not one we may act on. Never a write, never a crash. ---


class AlarmRejected(RemediationError):
    outcome = Outcome.REJECTED
    limit = "input"

    def __init__(
        self,
        message: str,
        *,
        topic_arn: str | None = None,
        message_id: str | None = None,
        alarm_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.topic_arn = topic_arn
        self.message_id = message_id
        self.alarm_name = alarm_name


class InvalidAlarmNotification(AlarmRejected):
    """Not JSON, wrong shape, missing fields, unknown state, oversized."""


class UntrustedSource(AlarmRejected):
    """Wrong topic or wrong account: the trust boundary of SPEC §4."""

    limit = "trust-boundary"


class UnknownAlarm(AlarmRejected):
    """The alarm watches nothing this handler knows (metric identity does not match)."""

    limit = "unknown-alarm"


# --- Skipped: a limit stopped the action. A decision, not an error. ---


class LimitReached(RemediationError):
    outcome = Outcome.SKIPPED
    limit = "limit"


class NotApplicable(LimitReached):
    """A valid alarm this handler does not act on (wrong state, a composite alarm)."""

    limit = "not-applicable"


class AlarmNoLongerFiring(LimitReached):
    limit = "alarm-state"


class AlreadyAtTarget(LimitReached):
    limit = "only-raise"


class OnlyLowers(LimitReached):
    """A scale-down that would raise something (a lost baseline, a scale-up that never happened)."""

    limit = "only-lower"


class CeilingReached(LimitReached):
    limit = "ceiling"


class AccountHeadroom(LimitReached):
    limit = "account-headroom"


class CooldownActive(LimitReached):
    limit = "cooldown"


class HysteresisActive(LimitReached):
    limit = "hysteresis"


class TrafficAlarmActive(LimitReached):
    limit = "traffic-alarm-active"


class TargetNotAvailable(LimitReached):
    limit = "target-not-available"


class LockHeld(LimitReached):
    limit = "lock"


class RemediationDisabled(LimitReached):
    limit = "kill-switch"


# --- Escalated and approval: a human has to look. ---


class EscalationRequired(RemediationError):
    outcome = Outcome.ESCALATED
    limit = "escalation"


class StormBreakerTripped(EscalationRequired):
    limit = "storm-breaker"


class ApprovalRequired(RemediationError):
    outcome = Outcome.APPROVAL_REQUESTED
    limit = "approval-mode"


# --- Failed: audited, then re-raised so Lambda's retries and the DLQ keep the alarm. ---


class ConfigurationError(RemediationError):
    limit = "configuration"


class AuditDeliveryError(RemediationError):
    """Audit events that could not be delivered after retries (they are in the log in full)."""


def outcome_for(error: BaseException) -> Outcome:
    """The single mapping from what happened to what the audit trail says."""
    if isinstance(error, RemediationError):
        return error.outcome
    return Outcome.FAILED


def limit_for(error: BaseException) -> str | None:
    if isinstance(error, RemediationError):
        return error.limit
    return None
