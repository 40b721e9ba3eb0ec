"""Every way a decision can end, as a type, and the one place that maps it to an audit outcome.

A limit that stops an action is not a failure: it is a decision (`Remediation Skipped`) that
names the limit. Only what we did not expect (an AWS call that kept failing, a bug, a broken
configuration) is a `Remediation Failed`, and that is re-raised so Lambda retries the alarm.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Outcome(StrEnum):
    """The audit event's `outcome` field, and the DetailType that goes with it."""

    APPLIED = "applied"
    PLANNED = "planned"
    SKIPPED = "skipped"
    FAILED = "failed"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    APPROVAL_REQUESTED = "approval-requested"
    #: The verifier's verdicts on an applied change (SPEC §9).
    VERIFIED = "verified"
    INEFFECTIVE = "ineffective"
    DRIFTED = "drifted"
    ROLLED_BACK = "rolled-back"

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
    Outcome.VERIFIED: "Remediation Verified",
    Outcome.INEFFECTIVE: "Remediation Ineffective",
    Outcome.DRIFTED: "Remediation Drifted",
    Outcome.ROLLED_BACK: "Remediation Rolled Back",
}


class Limit(StrEnum):
    """The audit event's `limit`: the rule that decided. One closed list; the schema is generated from it."""

    INPUT = "input"
    TRUST_BOUNDARY = "trust-boundary"
    UNKNOWN_ALARM = "unknown-alarm"
    LIMIT = "limit"
    NOT_APPLICABLE = "not-applicable"
    ALARM_STATE = "alarm-state"
    ONLY_RAISE = "only-raise"
    ONLY_LOWER = "only-lower"
    NO_BASELINE = "no-baseline"
    VALUE_CHANGED = "value-changed"
    CEILING = "ceiling"
    ACCOUNT_HEADROOM = "account-headroom"
    COOLDOWN = "cooldown"
    HYSTERESIS = "hysteresis"
    TRAFFIC_ALARM_ACTIVE = "traffic-alarm-active"
    TARGET_NOT_AVAILABLE = "target-not-available"
    UNKNOWN_INSTANCE_FAMILY = "unknown-instance-family"
    ALREADY_APPLIED = "already-applied"
    LOCK = "lock"
    KILL_SWITCH = "kill-switch"
    ESCALATION = "escalation"
    STORM_BREAKER = "storm-breaker"
    TOP_OF_LADDER = "top-of-ladder"
    TRIAGE = "triage"
    REPORT_ONLY = "report-only"
    NO_AUTOMATIC_SCALE_DOWN = "no-automatic-scale-down"
    APPROVAL_MODE = "approval-mode"
    ALREADY_APPROVED = "already-approved"
    APPROVAL_EXPIRED = "approval-expired"
    CONFIGURATION = "configuration"
    #: The change did not relieve the symptom and the runbook has no further step.
    INEFFECTIVE = "ineffective"
    #: A later raise of this system's replaced the change being checked (that one has its own check).
    SUPERSEDED = "superseded"
    #: The verifier rolled this raise back recently (ROLLBACK_HOLD_SECONDS): not made again.
    ROLLED_BACK = "rolled-back"
    #: VERIFY_MAX_ATTEMPTS verify-and-adjust rounds, or a check that cannot tell: a human decides.
    GIVE_UP = "give-up"


class RemediationError(Exception):
    """Base of everything this package raises on purpose."""

    outcome: ClassVar[Outcome] = Outcome.FAILED
    #: The rule that decided (`cooldown`, `ceiling`, ...), for subscribers.
    limit: ClassVar[Limit | None] = None


# --- Rejected: the notification is not one we may act on. Never a write, never a crash. ---


class AlarmRejected(RemediationError):
    outcome = Outcome.REJECTED
    limit = Limit.INPUT

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

    limit = Limit.TRUST_BOUNDARY


class UnknownAlarm(AlarmRejected):
    """The alarm watches nothing this handler knows (metric identity does not match)."""

    limit = Limit.UNKNOWN_ALARM


# --- Skipped: a limit stopped the action. A decision, not an error. ---


class LimitReached(RemediationError):
    outcome = Outcome.SKIPPED
    limit = Limit.LIMIT


class NotApplicable(LimitReached):
    """A valid alarm this handler does not act on (wrong state, a composite alarm)."""

    limit = Limit.NOT_APPLICABLE


class AlarmNoLongerFiring(LimitReached):
    limit = Limit.ALARM_STATE


class AlreadyAtTarget(LimitReached):
    limit = Limit.ONLY_RAISE


class NoBaseline(LimitReached):
    """A scale-down with nothing of ours to undo: no scale-up recorded its baseline."""

    limit = Limit.NO_BASELINE


class AlreadyApproved(LimitReached):
    limit = Limit.ALREADY_APPROVED


class ApprovalExpired(LimitReached):
    """No request with that id: never made, expired, or already cleaned up."""

    limit = Limit.APPROVAL_EXPIRED


class ValueChanged(LimitReached):
    """The target no longer holds what this system raised it to: someone else changed it."""

    limit = Limit.VALUE_CHANGED


class OnlyLowers(LimitReached):
    """A scale-down that would raise something (a lost baseline, a scale-up that never happened)."""

    limit = Limit.ONLY_LOWER


class CeilingReached(LimitReached):
    limit = Limit.CEILING


class AccountHeadroom(LimitReached):
    limit = Limit.ACCOUNT_HEADROOM


class CooldownActive(LimitReached):
    limit = Limit.COOLDOWN


class HysteresisActive(LimitReached):
    limit = Limit.HYSTERESIS


class TrafficAlarmActive(LimitReached):
    limit = Limit.TRAFFIC_ALARM_ACTIVE


class TargetNotAvailable(LimitReached):
    limit = Limit.TARGET_NOT_AVAILABLE


class AlreadyApplied(LimitReached):
    """A retry of a state change whose change an earlier attempt made: done, nothing to repeat."""

    limit = Limit.ALREADY_APPLIED


class RemediationDisabled(LimitReached):
    limit = Limit.KILL_SWITCH


# --- Escalated and approval: a human has to look. ---


class EscalationRequired(RemediationError):
    outcome = Outcome.ESCALATED
    limit = Limit.ESCALATION


class StormBreakerTripped(EscalationRequired):
    limit = Limit.STORM_BREAKER


class RolledBackHold(EscalationRequired):
    """The raise was rolled back by the verifier recently: asking again escalates instead."""

    limit = Limit.ROLLED_BACK


# --- Failed: audited, then re-raised so Lambda's retries and the DLQ keep the alarm. ---


class ConfigurationError(RemediationError):
    limit = Limit.CONFIGURATION


class AuditDeliveryError(RemediationError):
    """Audit events that could not be delivered after retries (they are in the log in full)."""

    def __init__(self, message: str, undelivered: list[Any] | None = None) -> None:
        super().__init__(message)
        #: The PutEvents entries that did not get through, for the next attempt to send.
        self.undelivered = undelivered or []


class LockHeld(RemediationError):
    """Another remediation is acting on the target. Not a decision: the invocation fails, so
    Lambda delivers the alarm again later, when the other one is done (never a dropped alarm)."""

    limit = Limit.LOCK


class NotRecorded(RemediationError):
    """A change was made but the state table did not take its record: the retry completes it."""


class LockNotReleased(RemediationError):
    """The change stands; the lease did not go. The invocation fails so a retry, which re-enters
    the lease as the same alarm state change, releases it."""

    limit = Limit.LOCK


class KillSwitchUnreadable(RemediationError):
    """Not knowing whether someone pulled the switch: neither act nor drop the alarm; retry."""

    limit = Limit.KILL_SWITCH


_AUDITED = "__remediation_audited__"


def mark_audited(error: BaseException) -> None:
    """Note that a `Remediation Failed` event already tells of this error."""
    setattr(error, _AUDITED, True)


def was_audited(error: BaseException) -> bool:
    return bool(getattr(error, _AUDITED, False))


def outcome_for(error: BaseException) -> Outcome:
    """The single mapping from what happened to what the audit trail says."""
    if isinstance(error, RemediationError):
        return error.outcome
    return Outcome.FAILED


def limit_for(error: BaseException) -> Limit | None:
    if isinstance(error, RemediationError):
        return error.limit
    return None
