"""Bad input and untrusted sources: `Alarm Rejected`, a clear log line, no AWS write, no crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from support.app import App, alarm_message, load_event, with_message, with_sns
from support.audit import CallRecorder, only
from support.fakes import LambdaContext


def _trigger(**changes: Any) -> dict[str, Any]:
    trigger = dict(alarm_message(load_event("latency-warning"))["Trigger"])
    trigger.update(changes)
    return trigger


BAD_EVENTS: dict[str, Any] = {
    "not JSON": load_event("malformed"),
    "empty event": {},
    "not an object": ["Records"],
    "no records": {"Records": []},
    "not from SNS": {"Records": [{"EventSource": "aws:sqs", "body": "{}"}]},
    "wrong shape": with_sns(load_event("latency-warning"), Message=json.dumps({"hello": "world"})),
    "JSON but not an object": with_sns(load_event("latency-warning"), Message="[1, 2, 3]"),
    "missing required field": with_message(load_event("latency-warning"), StateChangeTime=None),
    "unknown state": with_message(load_event("latency-warning"), NewStateValue="PANIC"),
    "text threshold": with_message(load_event("latency-warning"), Trigger=_trigger(Threshold="five hundred")),
    "missing dimensions": with_message(load_event("latency-warning"), Trigger=_trigger(Dimensions=[])),
    "another API": with_message(
        load_event("latency-warning"), Trigger=_trigger(Dimensions=[{"name": "ApiName", "value": "other-api"}])
    ),
    "unknown metric": with_message(
        load_event("latency-warning"), Trigger=_trigger(Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage")
    ),
    "oversized": with_sns(
        load_event("latency-warning"),
        Message=json.dumps({**alarm_message(load_event("latency-warning")), "AlarmDescription": "x" * 300_000}),
    ),
    "bad alarm ARN": with_message(load_event("latency-warning"), AlarmArn="arn:aws:sqs:us-east-1:123456789012:q"),
    "wrong account": with_message(
        load_event("latency-warning"),
        AWSAccountId="210987654321",
        AlarmArn="arn:aws:cloudwatch:us-east-1:210987654321:alarm:printapp-remediation-api-latency-warning",
    ),
    "untrusted topic": with_sns(load_event("latency-warning"), TopicArn="arn:aws:sns:us-east-1:210987654321:elsewhere"),
    "alarm of another region": with_message(
        load_event("latency-warning"),
        AlarmArn="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:printapp-remediation-api-latency-warning",
    ),
    "alarm of another partition": with_message(
        load_event("latency-warning"),
        AlarmArn="arn:aws-us-gov:cloudwatch:us-east-1:123456789012:alarm:printapp-remediation-api-latency-warning",
    ),
}


@pytest.mark.parametrize("runbook", [SpikeRunbook(), ScaleDownRunbook()], ids=lambda r: r.name)
@pytest.mark.parametrize("case", list(BAD_EVENTS), ids=str)
def test_bad_input_is_rejected_without_any_write(
    app: App, runbook, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the app at its everyday capacity, and a recorder on every client the handler uses
    clients_seen = app.clients()
    recorder = CallRecorder(
        *(clients_seen.get(s) for s in ("lambda", "apigateway", "cloudwatch", "dynamodb", "events", "ssm"))
    )

    # When the bad event arrives, the handler returns normally (no unhandled exception)
    result = handle(BAD_EVENTS[case], LambdaContext(), runbook, settings=app.settings(), clients=clients_seen)

    # Then nothing was written anywhere but the audit bus, and nothing changed
    assert recorder.writes == ["PutEvents"]
    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    rejected = only(app.audit_events())
    assert rejected["detail-type"] == "Alarm Rejected"
    assert rejected["detail"]["outcome"] == "rejected"
    assert rejected["detail"]["handler"] == runbook.name
    assert rejected["detail"]["reason"]
    assert result["decisions"][0]["outcome"] == "rejected"
    # and the log says so, in a line an engineer can find
    assert "Alarm Rejected" in caplog.text


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("text threshold", "Trigger.Threshold: Expected `float | null`, got `str`"),
        ("unknown state", "NewStateValue: Invalid enum value 'PANIC'"),
        ("missing required field", "missing required field `StateChangeTime`"),
        ("not from SNS", "Records.0.EventSource: Invalid enum value 'aws:sqs'"),
    ],
)
def test_a_rejection_says_what_is_wrong_and_where(app: App, invoke, case: str, said: str) -> None:
    # When a malformed notification arrives
    invoke(SpikeRunbook(), BAD_EVENTS[case])

    # Then its rejection names the field and the problem, as an on-call engineer would look for it
    rejected = only(app.audit_events())["detail"]
    assert rejected["outcome"] == "rejected"
    assert said in rejected["reason"]


def test_an_alarm_of_another_region_is_outside_the_trust_boundary(app: App, invoke) -> None:
    invoke(SpikeRunbook(), BAD_EVENTS["alarm of another region"])

    rejected = only(app.audit_events())["detail"]
    assert rejected["limit"] == "trust-boundary"
    assert "eu-west-1" in rejected["reason"]


def test_trusted_topics_can_be_listed_explicitly(app: App, invoke) -> None:
    elsewhere = "arn:aws:sns:us-east-1:123456789012:some-other-topic"

    invoke(
        SpikeRunbook(),
        with_sns(load_event("latency-warning"), TopicArn=elsewhere),
        ALARM_TOPIC_ARNS="arn:aws:sns:us-east-1:123456789012:printapp-remediation-alarms",
    )

    assert app.reserved_concurrency() == 100
    rejected = only(app.audit_events())["detail"]
    assert rejected["limit"] == "trust-boundary"
    assert "ALARM_TOPIC_ARNS" in rejected["reason"]


def test_a_function_in_another_account_does_not_act(app: App, invoke) -> None:
    # The alarm and topic are of 123456789012; this function runs in another account
    invoke(SpikeRunbook(), load_event("latency-warning"), context=LambdaContext(account_id="210987654321"))

    assert app.reserved_concurrency() == 100
    assert only(app.audit_events())["detail"]["limit"] == "trust-boundary"


def test_an_alarm_for_another_handler_is_rejected(app: App, invoke) -> None:
    db_alarm = with_message(
        load_event("latency-warning"),
        Trigger=_trigger(
            Namespace="AWS/RDS",
            MetricName="CPUUtilization",
            Dimensions=[{"name": "DBInstanceIdentifier", "value": "printapp-db"}],
        ),
    )

    invoke(SpikeRunbook(), db_alarm)

    rejected = only(app.audit_events())["detail"]
    assert rejected["limit"] == "unknown-alarm"
    assert "db-cpu" in rejected["reason"]
