"""Runbook: error-rate triage. Read the components, name the cause with its figures, route it."""

from __future__ import annotations

import pytest

from remediation.runbooks.error_rate import ErrorRateTriageRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from support.app import App, load_event, with_sns
from support.audit import CallRecorder, by_outcome, for_action, only
from support.fakes import FakeClock, LambdaContext
from support.world import errors_with

TRIAGE = ErrorRateTriageRunbook()


def test_critical_error_rate_with_throttling_raises_reserved_concurrency(app: App, invoke) -> None:
    errors_with(app, "error-rate-throttling", throttles=120)

    invoke(TRIAGE, load_event("error-rate-throttling"))

    assert app.reserved_concurrency() == 200
    applied = only(app.audit_events())["detail"]
    assert applied["outcome"] == "applied"
    assert applied["handler"] == "error_rate_triager"
    assert applied["action"]["name"] == "set-reserved-concurrency"
    triage = applied["evidence"]["triage"]
    assert triage["cause"] == "throttling"
    assert triage["figures"]["lambdaThrottles"] == pytest.approx(120)
    assert triage["decidedBy"] == "Lambda Throttles 120 ≥ 10"
    assert applied["alarm"]["metricName"] == "API 5XX error rate (%)"


def test_critical_error_rate_with_no_component_signal_escalates(app: App, invoke) -> None:
    errors_with(app, "error-rate-unknown")

    invoke(TRIAGE, load_event("error-rate-unknown"))

    assert app.reserved_concurrency() == 100
    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    escalated = only(app.audit_events())
    assert escalated["detail-type"] == "Escalation Required"
    assert escalated["detail"]["evidence"]["triage"]["cause"] == "unknown"
    assert escalated["detail"]["evidence"]["triage"]["figures"]["api5xx"] == pytest.approx(156)


def test_function_errors_escalate_with_the_evidence(app: App, invoke) -> None:
    errors_with(app, "error-rate-critical", errors=90)

    invoke(TRIAGE, load_event("error-rate-critical"))

    escalated = only(app.audit_events())["detail"]
    assert escalated["outcome"] == "escalated"
    assert "function-errors" in escalated["reason"]
    assert "Lambda Errors 90 ≥ 5" in escalated["reason"]


def test_database_saturation_goes_to_the_database_actions(app: App, invoke) -> None:
    errors_with(app, "error-rate-db-saturation", db_cpu=92)

    invoke(TRIAGE, load_event("error-rate-db-saturation"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    applied = only(app.audit_events())["detail"]
    assert applied["action"]["name"] == "step-up-instance-class"
    assert applied["evidence"]["triage"]["cause"] == "database-saturation"


def test_warning_classifies_and_reports_without_changing_anything(app: App, invoke) -> None:
    errors_with(app, "error-rate-warning", throttles=120)

    invoke(TRIAGE, load_event("error-rate-warning"))

    assert app.reserved_concurrency() == 100
    reported = only(app.audit_events())["detail"]
    assert (reported["outcome"], reported["limit"]) == ("skipped", "report-only")
    assert reported["level"] == "warning"
    assert reported["evidence"]["triage"]["cause"] == "throttling"


def test_triage_then_a_spike_inside_the_cooldown_acts_once(app: App, invoke, clock: FakeClock) -> None:
    # Given triage raised concurrency because of throttling
    errors_with(app, "error-rate-throttling", throttles=120)
    invoke(TRIAGE, load_event("error-rate-throttling"))
    app.audit_events()
    app.set_reserved_concurrency(100)

    # When the spike alarm for the same function arrives two minutes later
    clock.advance(120)
    invoke(SpikeRunbook(), load_event("concurrency-warning"))

    # Then the same action on the same target is not taken a second time
    assert app.reserved_concurrency() == 100
    concurrency = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (concurrency["outcome"], concurrency["limit"]) == ("skipped", "cooldown")


def test_s3_request_rate_is_an_advisory_naming_bucket_and_rate(app: App, invoke) -> None:
    invoke(TRIAGE, load_event("s3-request-rate"), MEDIA_BUCKET_NAME="printapp-media")

    advisory = only(app.audit_events())
    assert advisory["detail-type"] == "Escalation Required"
    assert "printapp-media" in advisory["detail"]["reason"]
    assert "100 req/s" in advisory["detail"]["reason"]
    assert advisory["detail"]["evidence"]["s3"]["bucket"] == "printapp-media"
    assert by_outcome(app.audit_events(), "applied") == []


@pytest.mark.parametrize("case", ["untrusted topic", "not JSON", "empty event"])
def test_bad_input_and_untrusted_sources_are_rejected_without_a_write(app: App, case: str) -> None:
    event = {
        "untrusted topic": with_sns(load_event("error-rate-critical"), TopicArn="arn:aws:sns:us-east-1:210987654321:x"),
        "not JSON": load_event("malformed"),
        "empty event": {},
    }[case]
    clients = app.clients()
    recorder = CallRecorder(*(clients.get(s) for s in ("lambda", "rds", "cloudwatch", "dynamodb", "events", "ssm")))

    handle(event, LambdaContext(), TRIAGE, settings=app.settings(), clients=clients)

    assert recorder.writes == ["PutEvents"]
    assert app.reserved_concurrency() == 100
    assert only(app.audit_events())["detail-type"] == "Alarm Rejected"
