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

from datetime import timedelta
from enum import StrEnum
from typing import Any

from remediation import guardrails
from remediation.actions import (
    AddReadReplica,
    EnableStorageAutoscaling,
    ReservedConcurrency,
    SetReservedConcurrency,
    StepUpInstanceClass,
)
from remediation.audit import Decision
from remediation.errors import EscalationRequired, Outcome
from remediation.evidence import read_components
from remediation.runbooks.base import Runbook
from remediation.runbooks.db_cpu import relieve_database
from remediation.runner import Run
from remediation.settings import Settings
from remediation.signals import Signal

#: Shortest window read when the alarm's own is shorter (CloudWatch's 1-minute resolution).
_MIN_WINDOW = timedelta(minutes=5)


class Cause(StrEnum):
    THROTTLING = "throttling"
    DATABASE_SATURATION = "database-saturation"
    FUNCTION_ERRORS = "function-errors"
    UNKNOWN = "unknown"


class NeedsAHuman(EscalationRequired):
    limit = "triage"


def classify(figures: dict[str, float | None], settings: Settings) -> tuple[Cause, str]:
    """The cause, and the comparison that decided it (in words, for the audit event)."""
    throttles = figures["lambdaThrottles"] or 0.0
    if throttles >= settings.triage_throttles_min > 0:
        return Cause.THROTTLING, f"Lambda Throttles {throttles:g} ≥ {settings.triage_throttles_min:g}"
    cpu = figures["dbCpuPercent"] or 0.0
    if cpu >= settings.triage_db_cpu_percent:
        return Cause.DATABASE_SATURATION, f"database CPU {cpu:g} % ≥ {settings.triage_db_cpu_percent:g} %"
    connections = figures["dbConnections"] or 0.0
    if settings.triage_db_connections_max and connections >= settings.triage_db_connections_max:
        return (
            Cause.DATABASE_SATURATION,
            f"database connections {connections:g} ≥ {settings.triage_db_connections_max:g}",
        )
    errors = figures["lambdaErrors"] or 0.0
    if errors >= settings.triage_function_errors_min > 0:
        return Cause.FUNCTION_ERRORS, f"Lambda Errors {errors:g} ≥ {settings.triage_function_errors_min:g}"
    return Cause.UNKNOWN, "no component crossed its triage threshold"


class ErrorRateTriageRunbook(Runbook):
    name = "error_rate_triager"
    signals = frozenset({Signal.API_ERROR_RATE, Signal.S3_REQUEST_RATE})
    actions = (SetReservedConcurrency, EnableStorageAutoscaling, AddReadReplica, StepUpInstanceClass)
    permissions = ("cloudwatch:GetMetricData",)

    def run(self, run: Run) -> None:
        self.require_state(run, "ALARM")
        if run.recognised.signal is Signal.S3_REQUEST_RATE:
            self._advise_on_s3(run)
            return
        guardrails.verify_alarm_state(run.clients.cloudwatch, run.alarm, "ALARM")
        cause, decided_by, figures = self._triage(run)
        if not run.critical:
            run.decide(
                Decision(
                    Outcome.SKIPPED,
                    f"error rate warning, classified as {cause}: {decided_by}. Warning level reports only.",
                    limit="report-only",
                )
            )
            return
        if cause is Cause.THROTTLING:
            run.execute(SetReservedConcurrency, ReservedConcurrency(value=run.settings.reserved_concurrency_target))
        elif cause is Cause.DATABASE_SATURATION:
            # The database's own CPU decides how far to go, as the DB CPU runbook would.
            db_cpu = figures["dbCpuPercent"] or 0.0
            relieve_database(run, critical=db_cpu >= run.settings.db_cpu_critical_percent)
        else:
            raise NeedsAHuman(
                f"error rate critical, classified as {cause}: {decided_by}. No automated fix for this cause"
            )

    @staticmethod
    def _triage(run: Run) -> tuple[Cause, str, dict[str, float | None]]:
        trigger = run.alarm.Trigger
        assert trigger is not None  # composite alarms never reach a runbook
        period = trigger.Period or next(
            (q.MetricStat.Period for q in trigger.Metrics if q.MetricStat and q.MetricStat.Period), 60
        )
        end = run.alarm.changed_at
        start = end - max(timedelta(seconds=period * trigger.EvaluationPeriods), _MIN_WINDOW)
        figures = read_components(run.clients.cloudwatch, run.settings, start, end)
        cause, decided_by = classify(figures, run.settings)
        run.evidence["triage"] = {
            "cause": cause.value,
            "decidedBy": decided_by,
            "window": {"start": start.isoformat(), "end": end.isoformat()},
            "figures": figures,
            "thresholds": {
                "throttlesMin": run.settings.triage_throttles_min,
                "dbCpuPercent": run.settings.triage_db_cpu_percent,
                "dbConnectionsMax": run.settings.triage_db_connections_max,
                "functionErrorsMin": run.settings.triage_function_errors_min,
            },
        }
        return cause, decided_by, figures

    @staticmethod
    def _advise_on_s3(run: Run) -> None:
        bucket = run.recognised.resource
        threshold = run.alarm.threshold or 0.0
        evidence: dict[str, Any] = {"bucket": bucket, "threshold": threshold, "stateReason": run.alarm.NewStateReason}
        run.evidence["s3"] = evidence
        raise NeedsAHuman(
            f"S3 request rate on {bucket} above {threshold:g} req/s ({run.level}): advisory only. "
            "The runbook's fix is an access-pattern change (CloudFront caching, key prefixes), not an automated one"
        )
