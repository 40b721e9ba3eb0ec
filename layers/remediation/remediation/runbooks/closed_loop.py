"""The runbook's last step, "monitor and adjust" (SPEC §9): judge a check of an applied change.

Pure, like every runbook: the verifier reads (the target, the alarm and its metric, the guard
signals before and since the change) and hands over a `Check`; `judge` returns a `Verdict`:

- drifted: the target no longer holds what was applied. Someone else changed it: report, don't fight.
- rolled back: a guard signal the change can affect (API 5XX rate, Lambda errors, Lambda throttles;
  for a stage cache the 5XX rate only) rose past its warning level since the change: restore the
  recorded baseline (a database change is never undone
  automatically: escalate instead).
- verified: the alarm is OK, or its metric is back on the right side of the threshold over the
  last evaluation periods.
- ineffective: it holds, the symptom persists: the next step the runbook allows, with its own
  check, or an escalation when none is left (or after VERIFY_MAX_ATTEMPTS rounds: give up).
A check that cannot tell (the alarm is gone; no datapoints and no verdict from the alarm) never
acts on a guess: a human decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from remediation.actions import (
    REGISTRY,
    AddReadReplica,
    InstanceClassStep,
    ReadReplica,
    ReservedConcurrency,
    SetReservedConcurrency,
    SetStageCache,
    StageCache,
    StepUpInstanceClass,
)
from remediation.errors import Limit, Outcome
from remediation.intents import Act, Report
from remediation.runbooks.scale_down import restore
from remediation.settings import ApprovalMode, Settings

_VERDICT_NAMESPACE = uuid.UUID("2d7c1f0e-5b1a-4f7e-9a43-3c0b8e6f2a91")

#: The guard signals, as the verifier measures them over equal windows before and since the change.
API_5XX_RATE = "api5xxRatePercent"
LAMBDA_ERRORS = "lambdaErrors"
LAMBDA_THROTTLES = "lambdaThrottles"


class Symptom(Struct, frozen=True):
    """The alarm's own metric over the check's window."""

    metric: str
    threshold: float | None
    comparison: str | None
    #: How many of the latest datapoints decide (the alarm's evaluation periods).
    periods: int
    #: Oldest first.
    datapoints: tuple[float, ...]
    window: tuple[str, str]


class Check(Struct, frozen=True):
    """What the verifier read about one applied decision."""

    decision_id: str
    action: str
    target: str
    round: int
    applied: Mapping[str, Any]
    current: Mapping[str, Any]
    holds: bool
    #: The alarm's state now; None when it no longer exists.
    alarm_state: str | None
    symptom: Symptom | None
    guards_before: Mapping[str, float | None]
    guards_since: Mapping[str, float | None]
    #: The value before this system's first raise of the target (what a roll-back restores).
    baseline: Mapping[str, Any] | None
    applied_at: float
    now: float
    #: The target holds what a later raise of this system's set (not a person's change).
    superseded: bool = False


class Verdict(Struct, frozen=True):
    """What the check found (`report`), the step it takes (`then`), and what is said when that
    step does not take or there is none (`otherwise`: an escalation)."""

    report: Report | None
    then: Act | None = None
    otherwise: Report | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "report": _report_json(self.report),
            "then": None
            if self.then is None
            else {
                "action": self.then.action.name,
                "params": self.then.params.as_json(),
                "appliesAs": self.then.applies_as.value,
                "because": self.then.because,
            },
            "otherwise": _report_json(self.otherwise),
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        then = data["then"]
        act = None
        if then is not None:
            action = REGISTRY[then["action"]]
            act = Act(action, action.parameters.from_json(then["params"]), Outcome(then["appliesAs"]), then["because"])
        return cls(_report_of(data["report"]), act, _report_of(data["otherwise"]), data["evidence"])


def _report_json(report: Report | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "outcome": report.outcome.value,
        "reason": report.reason,
        "limit": report.limit.value if report.limit else None,
        "before": report.before,
        "evidence": report.evidence,
        "action": list(report.action) if report.action else None,
        "decisionId": report.decision_id,
    }


def _report_of(data: Mapping[str, Any] | None) -> Report | None:
    if data is None:
        return None
    return Report(
        Outcome(data["outcome"]),
        data["reason"],
        Limit(data["limit"]) if data["limit"] else None,
        data["before"],
        data["evidence"],
        (data["action"][0], data["action"][1]) if data["action"] else None,
        data["decisionId"],
    )


def verdict_decision_id(decision_id: str, round_: int, part: str = "verdict") -> str:
    """The verdict on one check (and its escalation) has one decisionId, however often a retry
    reports it: subscribers keep one."""
    return str(uuid.uuid5(_VERDICT_NAMESPACE, f"{decision_id}/{round_}/{part}"))


def judge(check: Check, settings: Settings) -> Verdict:
    verdict = _judge(check, settings)
    if verdict.otherwise is None:
        return verdict
    escalation = replace(
        verdict.otherwise, decision_id=verdict_decision_id(check.decision_id, check.round, "escalation")
    )
    return replace(verdict, otherwise=escalation)


def _judge(check: Check, settings: Settings) -> Verdict:
    evidence = {"check": _evidence(check)}
    if not check.holds and check.superseded:
        reason = (
            f"{check.target} holds {_shown(check.current, check.applied)}: a later raise of this system's replaced "
            f"the {_shown(check.applied)} applied at {_when(check.applied_at)}; that raise is checked on its own"
        )
        return Verdict(_verdict(check, Outcome.SKIPPED, reason, Limit.SUPERSEDED), evidence=evidence)
    if not check.holds:
        reason = (
            f"{check.target} holds {_shown(check.current, check.applied)}, not the {_shown(check.applied)} applied "
            f"at {_when(check.applied_at)}: changed by someone else since; left as it is (not fought)"
        )
        return Verdict(_verdict(check, Outcome.DRIFTED, reason), evidence=evidence)
    worse = _worse(check, settings)
    if worse:
        return replace(_roll_back(check, "; ".join(worse)), evidence=evidence)
    return replace(_symptom(check, settings), evidence=evidence)


def _verdict(check: Check, outcome: Outcome, reason: str, limit: Limit | None = None) -> Report:
    return Report(
        outcome,
        reason,
        limit,
        before=check.current,
        action=(check.action, check.target),
        decision_id=verdict_decision_id(check.decision_id, check.round),
    )


def _roll_back(check: Check, why: str) -> Verdict:
    back = restore(check.action, check.baseline) if check.baseline is not None else None
    escalation = Report(
        Outcome.ESCALATED,
        f"the change applied at {_when(check.applied_at)} made things worse ({why}) and could not be rolled back",
        Limit.ESCALATION,
        action=(check.action, check.target),
    )
    if back is None:
        what = "no recorded baseline" if check.baseline is None else f"{check.action} has no automatic way back"
        return Verdict(None, otherwise=replace(escalation, reason=f"{escalation.reason}: {what}"))
    rolled = Act(back.action, back.params, Outcome.ROLLED_BACK, f"rolled back, made things worse ({why}): ")
    return Verdict(None, then=rolled, otherwise=escalation)


def _symptom(check: Check, settings: Settings) -> Verdict:
    """The value holds and nothing got worse: did the symptom go?"""
    applied = _when(check.applied_at)
    if check.alarm_state is None:
        return Verdict(
            _verdict(
                check,
                Outcome.ESCALATED,
                f"cannot check the change applied at {applied}: its alarm no longer exists",
                Limit.GIVE_UP,
            )
        )
    symptom = check.symptom
    recent = symptom.datapoints[-symptom.periods :] if symptom else ()
    if check.alarm_state == "OK":
        return Verdict(_verdict(check, Outcome.VERIFIED, f"{_shown(check.applied)} holds and helped: the alarm is OK"))
    if symptom and recent and not any(_breaches(value, symptom) for value in recent):
        how = f"{symptom.metric} is back under its threshold over the last {len(recent)} datapoints"
        return Verdict(_verdict(check, Outcome.VERIFIED, f"{_shown(check.applied)} holds and helped: {how}"))
    if not recent and check.alarm_state != "ALARM":
        reason = (
            f"cannot tell whether the change applied at {applied} helped: the alarm is {check.alarm_state} and its "
            "metric has no datapoints since; not acting on a guess"
        )
        return Verdict(_verdict(check, Outcome.ESCALATED, reason, Limit.GIVE_UP))
    latest = f"; latest {symptom.metric} {recent[-1]:g} vs threshold {symptom.threshold}" if symptom and recent else ""
    ineffective = _verdict(
        check,
        Outcome.INEFFECTIVE,
        f"{_shown(check.applied)} holds, but the symptom persists (alarm {check.alarm_state}{latest})",
    )
    return _adjust(check, settings, ineffective)


def _adjust(check: Check, settings: Settings, ineffective: Report) -> Verdict:
    ref = (check.action, check.target)
    if check.round >= settings.verify_max_attempts:
        give_up = Report(
            Outcome.ESCALATED,
            f"still not resolved after {check.round} verify-and-adjust rounds (VERIFY_MAX_ATTEMPTS "
            f"{settings.verify_max_attempts}): giving up, a human decides",
            Limit.GIVE_UP,
            action=ref,
        )
        return Verdict(ineffective, otherwise=give_up)
    step, why_none = next_step(check, settings)
    escalation = Report(
        Outcome.ESCALATED,
        f"{check.action} on {check.target} did not help and the runbook has no further step",
        Limit.INEFFECTIVE,
        action=ref,
    )
    if step is None:
        return Verdict(ineffective, otherwise=replace(escalation, reason=f"{escalation.reason}: {why_none}"))
    return Verdict(ineffective, then=step, otherwise=escalation)


def next_step(check: Check, settings: Settings) -> tuple[Act | None, str]:
    """The runbook's next step for an action that did not help, or None and why there is none."""
    step = _NEXT_STEPS.get(check.action)
    if step is None:
        return None, f"the runbook has no step after {check.action}"
    act, why_none = step(check, settings)
    because = f"next step, the change checked in round {check.round} did not help: "
    return (replace(act, because=because) if act else None), why_none


def _more_concurrency(check: Check, settings: Settings) -> tuple[Act | None, str]:
    value = settings.critical_reserved_concurrency_target
    held = check.applied.get("reservedConcurrency") or 0
    if value > held:
        return Act(SetReservedConcurrency, ReservedConcurrency(value=value)), ""
    return None, f"reserved concurrency {held} is already the runbook's critical value {value}"


def _bigger_cache(check: Check, settings: Settings) -> tuple[Act | None, str]:
    size = settings.critical_cache_size_gb
    held = Decimal(check.applied.get("cacheClusterSize") or 0)
    if size > held:
        return Act(SetStageCache, StageCache(size_gb=size)), ""
    return None, f"the stage cache ({held} GB) is already at the runbook's critical size {size} GB"


def _next_class(check: Check, settings: Settings) -> tuple[Act | None, str]:
    if settings.db_approval_mode is ApprovalMode.MANUAL:
        return None, "approval mode is manual: a human decides on another class step (another outage)"
    return Act(StepUpInstanceClass, InstanceClassStep()), ""


def _another_replica(check: Check, settings: Settings) -> tuple[Act | None, str]:
    return Act(AddReadReplica, ReadReplica(max_replicas=settings.db_max_read_replicas)), ""


_NEXT_STEPS = {
    SetReservedConcurrency.name: _more_concurrency,
    SetStageCache.name: _bigger_cache,
    StepUpInstanceClass.name: _next_class,
    AddReadReplica.name: _another_replica,
}


def _worse(check: Check, settings: Settings) -> list[str]:
    """Guard signals that rose past their warning level since the change."""
    levels = {
        API_5XX_RATE: ("API 5XX rate", settings.rollback_5xx_rate_percent, " %"),
        LAMBDA_ERRORS: ("Lambda errors", settings.triage_function_errors_min, ""),
        LAMBDA_THROTTLES: ("Lambda throttles", settings.triage_throttles_min, ""),
    }
    worse = []
    for key, (label, warning, unit) in levels.items():
        if key not in _GUARDS_OF.get(check.action, levels):
            continue
        since, before = check.guards_since.get(key), check.guards_before.get(key)
        if since is not None and since > warning and since > (before or 0):
            shown_before = "none" if before is None else f"{before:g}{unit}"
            worse.append(f"{label} {shown_before} → {since:g}{unit}, past its warning level {warning:g}{unit}")
    return worse


#: The guard signals a change can make worse. A stage cache serves responses instead of the
#: function: it can raise the API's 5XX rate (cached errors), never the function's errors.
_GUARDS_OF: dict[str, frozenset[str]] = {SetStageCache.name: frozenset({API_5XX_RATE})}


def _breaches(value: float, symptom: Symptom | None) -> bool:
    if symptom is None or symptom.threshold is None:
        return False
    comparison, threshold = symptom.comparison or "GreaterThanThreshold", symptom.threshold
    return {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(comparison, value > threshold)


def _evidence(check: Check) -> dict[str, Any]:
    symptom = check.symptom
    return {
        "round": check.round,
        "appliedAt": _when(check.applied_at),
        "secondsSinceApplied": round(check.now - check.applied_at),
        "applied": dict(check.applied),
        "alarmState": check.alarm_state,
        "symptom": None
        if symptom is None
        else {
            "metric": symptom.metric,
            "threshold": symptom.threshold,
            "comparison": symptom.comparison,
            "evaluationPeriods": symptom.periods,
            "datapoints": list(symptom.datapoints[-10:]),
            "window": list(symptom.window),
        },
        "guards": {"before": dict(check.guards_before), "since": dict(check.guards_since)},
    }


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _shown(value: Mapping[str, Any], keys: Mapping[str, Any] | None = None) -> str:
    return ", ".join(f"{key} {value.get(key)}" for key in (keys or value))
