"""What runbooks and the engine say to each other: pure data, no AWS.

A runbook declares what it needs read (`Need`), is handed what was read (`Facts`, inside a
`Situation`) and returns what it decided (`Decided`): intents to act (`Act`: an action and its
parameters) and to report (`Report`: an escalation, an advisory, a limit that stops everything).
The engine reads, then runs every `Act` through its guards. Control flows down, never back up.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field
from msgspec.structs import force_setattr

from remediation.errors import Limit, Outcome, RemediationError

if TYPE_CHECKING:
    from remediation.actions.base import Action, ActionParameters
    from remediation.alarm import AlarmConfig, AlarmNotification
    from remediation.settings import Settings
    from remediation.signals import Recognised
    from remediation.state import RaiseRecord


class Need(StrEnum):
    """A read a runbook asks the engine for before it decides."""

    #: The alarm as CloudWatch has it now (DescribeAlarms): state, threshold, comparison, metrics.
    ALARM = "alarm"
    #: Runbook step 1: API requests per minute over the last hour.
    TRAFFIC = "traffic"
    #: The component metrics of the alarm's evaluation window (error-rate triage).
    TRIAGE_COMPONENTS = "triage-components"
    #: Traffic alarms on the app's resources still in ALARM, whoever created them.
    FIRING_TRAFFIC_ALARMS = "firing-traffic-alarms"
    #: When the traffic actions last raised their targets, and the baselines they recorded.
    SCALE_HISTORY = "scale-history"
    #: The app's database instance, and the class it had before the first step up.
    DATABASE = "database"


class History(Struct, frozen=True):
    """What the state table remembers of one action on one target."""

    last_raise: float | None = None
    baseline: Mapping[str, Any] | None = None


class Facts(Struct, frozen=True):
    """What the engine read for a runbook. A field is set only when its `Need` was asked for."""

    read: frozenset[Need] = frozenset()
    #: None with `Need.ALARM` read: the alarm no longer exists.
    alarm: AlarmConfig | None = None
    traffic: Mapping[str, Any] | None = None
    triage_window: tuple[str, str] | None = None
    components: Mapping[str, float | None] | None = None
    firing_traffic_alarms: tuple[str, ...] = ()
    #: Action name → its history on the action's target.
    history: Mapping[str, History] = field(default_factory=dict)
    #: For the engine, not the runbook: the raise records `history` was read from, by (action,
    #: target). Before it acts on a decision made from them, it confirms them unchanged under
    #: its locks (a scale-up landing meanwhile would make a scale-down's hysteresis stale).
    raises: Mapping[tuple[str, str], RaiseRecord | None] = field(default_factory=dict)
    database: Mapping[str, Any] | None = None


class Situation(Struct, frozen=True):
    """Everything a runbook decides from."""

    alarm: AlarmNotification
    recognised: Recognised
    settings: Settings
    facts: Facts
    #: Seconds since the epoch, from the engine's clock (a virtual one in a replay).
    now: float


class Act(Struct, frozen=True):
    """Run `action` with `params` through the engine's guards."""

    action: type[Action[Any]]
    params: ActionParameters
    #: What the change is called once applied: the verifier's roll-back is `rolled-back`.
    applies_as: Outcome = Outcome.APPLIED
    #: Said before the change's own summary in the audit reason (why this step was taken).
    because: str = ""

    def __post_init__(self) -> None:
        # A runbook's parameters are checked as they are decided, bounds included, so no guard
        # ever sees parameters their own type would refuse (a Struct's constructor checks nothing).
        force_setattr(self, "params", self.params.checked())


class Report(Struct, frozen=True):
    """A decision without a change: a limit that stops the runbook, an escalation, an advisory."""

    outcome: Outcome
    reason: str
    limit: Limit | None = None
    before: Mapping[str, Any] | None = None
    evidence: Mapping[str, Any] | None = None
    #: The action and target the report is about, when it is about one (e.g. nothing to undo).
    action: tuple[str, str] | None = None
    #: Set when the same decision may be reported again by a retry (subscribers keep one).
    decision_id: str | None = None

    @classmethod
    def of(
        cls,
        error: RemediationError,
        *,
        before: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Any] | None = None,
        action: tuple[str, str] | None = None,
    ) -> Report:
        return cls(error.outcome, str(error), error.limit, before, evidence, action)


Intent = Act | Report


class Decided(Struct, frozen=True):
    """A runbook's answer: intents in the order they run, and what it read (the audit `evidence`)."""

    intents: tuple[Intent, ...]
    evidence: Mapping[str, Any] = field(default_factory=dict)
