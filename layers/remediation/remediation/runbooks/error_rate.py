"""Runbook: error rate (API 5XX / Count × 100) — investigate first, then route — and S3 requests.

For the alarm's window, read the component metrics in one call (Lambda errors, throttles,
duration; API 5XX and requests; database CPU and connections) and classify the cause with the
configured thresholds, most specific first:

    throttling           Lambda Throttles ≥ TRIAGE_THROTTLES_MIN
    database saturation  RDS CPU ≥ TRIAGE_DB_CPU_PERCENT (or connections ≥ TRIAGE_DB_CONNECTIONS_MAX, if set)
    function errors      Lambda Errors ≥ TRIAGE_FUNCTION_ERRORS_MIN
    unknown              none of these

Warning level classifies and reports. Critical level routes: throttling → the reserved
concurrency action (the very same action, cooldown and lock as the spike handler: one shared
decision, never two); database saturation → the database actions; function errors and
unknown → Escalation Required with the evidence.

S3 request-rate alarms are advisory only: the runbook's fix is an access-pattern change, so
they become an Escalation Required event naming the bucket and the rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from remediation.actions import (
    AddReadReplica,
    EnableStorageAutoscaling,
    ReservedConcurrency,
    SetReservedConcurrency,
    StepUpInstanceClass,
)
from remediation.alarm import AlarmNotification
from remediation.errors import EscalationRequired, Limit, Outcome
from remediation.intents import Act, Decided, Need, Report, Situation
from remediation.runbooks.base import Runbook
from remediation.runbooks.db_cpu import relieve_database
from remediation.settings import Settings
from remediation.signals import Level, Recognised, Signal


class Cause(StrEnum):
    THROTTLING = "throttling"
    DATABASE_SATURATION = "database-saturation"
    FUNCTION_ERRORS = "function-errors"
    UNKNOWN = "unknown"


class NeedsAHuman(EscalationRequired):
    limit = Limit.TRIAGE


def classify(figures: Mapping[str, float | None], settings: Settings) -> tuple[Cause, str]:
    """The cause, and the comparison that decided it (in words, for the audit event)."""
    throttles = figures.get("lambdaThrottles") or 0.0
    if throttles >= settings.triage_throttles_min > 0:
        return Cause.THROTTLING, f"Lambda Throttles {throttles:g} ≥ {settings.triage_throttles_min:g}"
    cpu = figures.get("dbCpuPercent") or 0.0
    if cpu >= settings.triage_db_cpu_percent:
        return Cause.DATABASE_SATURATION, f"database CPU {cpu:g} % ≥ {settings.triage_db_cpu_percent:g} %"
    connections = figures.get("dbConnections") or 0.0
    if settings.triage_db_connections_max and connections >= settings.triage_db_connections_max:
        return (
            Cause.DATABASE_SATURATION,
            f"database connections {connections:g} ≥ {settings.triage_db_connections_max:g}",
        )
    errors = figures.get("lambdaErrors") or 0.0
    if errors >= settings.triage_function_errors_min > 0:
        return Cause.FUNCTION_ERRORS, f"Lambda Errors {errors:g} ≥ {settings.triage_function_errors_min:g}"
    return Cause.UNKNOWN, "no component crossed its triage threshold"


class ErrorRateTriageRunbook(Runbook):
    name = "error_rate_triager"
    signals = frozenset({Signal.API_ERROR_RATE, Signal.S3_REQUEST_RATE})
    actions = (SetReservedConcurrency, EnableStorageAutoscaling, AddReadReplica, StepUpInstanceClass)
    permissions = ("cloudwatch:GetMetricData",)

    def needs(self, alarm: AlarmNotification, recognised: Recognised) -> frozenset[Need]:
        if recognised.signal is Signal.S3_REQUEST_RATE:
            return frozenset()  # an advisory: nothing to verify before asking a human
        return super().needs(alarm, recognised) | {Need.TRIAGE_COMPONENTS}

    def decide_verified(self, situation: Situation) -> Decided:
        if situation.recognised.signal is Signal.S3_REQUEST_RATE:
            return self._advise_on_s3(situation)
        settings = situation.settings
        figures = situation.facts.components or {}
        cause, decided_by = classify(figures, settings)
        window = situation.facts.triage_window
        evidence = {
            "triage": {
                "cause": cause.value,
                "decidedBy": decided_by,
                "window": {"start": window[0], "end": window[1]} if window else None,
                "figures": dict(figures),
                "thresholds": {
                    "throttlesMin": settings.triage_throttles_min,
                    "dbCpuPercent": settings.triage_db_cpu_percent,
                    "dbConnectionsMax": settings.triage_db_connections_max,
                    "functionErrorsMin": settings.triage_function_errors_min,
                },
            }
        }
        if situation.recognised.level is not Level.CRITICAL:
            reason = f"error rate warning, classified as {cause}: {decided_by}. Warning level reports only."
            return Decided((Report(Outcome.SKIPPED, reason, Limit.REPORT_ONLY),), evidence)
        if cause is Cause.THROTTLING:
            act = Act(SetReservedConcurrency, ReservedConcurrency(value=settings.reserved_concurrency_target))
            return Decided((act,), evidence)
        if cause is Cause.DATABASE_SATURATION:
            # The database's own CPU decides how far to go, as the DB CPU runbook would.
            db_cpu = figures.get("dbCpuPercent") or 0.0
            return Decided(relieve_database(settings, critical=db_cpu >= settings.db_cpu_critical_percent), evidence)
        escalation = NeedsAHuman(
            f"error rate critical, classified as {cause}: {decided_by}. No automated fix for this cause"
        )
        return Decided((Report.of(escalation),), evidence)

    @staticmethod
    def _advise_on_s3(situation: Situation) -> Decided:
        bucket = situation.recognised.resource
        threshold = situation.alarm.threshold or 0.0
        evidence: dict[str, Any] = {
            "s3": {"bucket": bucket, "threshold": threshold, "stateReason": situation.alarm.NewStateReason}
        }
        advisory = NeedsAHuman(
            f"S3 request rate on {bucket} above {threshold:g} req/s ({situation.recognised.level}): advisory only. "
            "The runbook's fix is an access-pattern change (CloudFront caching, key prefixes), not an automated one"
        )
        return Decided((Report.of(advisory),), evidence)
