"""The audit event is a public contract (SPEC §5): schemas/audit-event.schema.json describes it,
the template registers that very file, and every event the handlers emit holds to it.

The events checked here are the real ones: produced by a runbook, put on the bus, and read back
from a queue subscribed to it, as a subscriber would receive them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from copy import deepcopy
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jsonschema import Draft4Validator
from jsonschema.validators import validator_for

from audit_schema import SCHEMA_FILE, TEMPLATE, schema_text, template_with_schema
from remediation.contract import SCHEMA_VERSION, SOURCE
from remediation.errors import Limit, Outcome
from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from support.app import ALARMS, ROOT, STACK, App, load_event, with_sns
from support.fakes import ACCOUNT_ID, FakeClock, Outage

SCHEMA = json.loads((ROOT / "schemas" / "audit-event.schema.json").read_text())
VALIDATOR = Draft4Validator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
DETAIL_FIELDS = SCHEMA["definitions"]["RemediationDecision"]["properties"]

SPIKE = SpikeRunbook()
SCALE_DOWN = ScaleDownRunbook()
LATENCY_WARNING = f"{STACK}-api-latency-warning"
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def violations(event: dict[str, Any]) -> list[str]:
    """Every way `event` breaks the schema, as `path: message` lines (empty when it conforms)."""
    errors = sorted(VALIDATOR.iter_errors(event), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{'/'.join(map(str, error.absolute_path)) or '(event)'}: {error.message}" for error in errors]


def as_eventbridge_delivers(event: dict[str, Any]) -> dict[str, Any]:
    # moto's rule → SQS delivery leaves out `account`, which EventBridge always sends.
    return {"account": ACCOUNT_ID, **event}


def assert_conform(events: list[dict[str, Any]]) -> None:
    assert events, "no audit event was emitted"
    for event in events:
        detail = event["detail"]
        assert violations(as_eventbridge_delivers(event)) == [], json.dumps(event, indent=1)
        assert event["detail-type"] == Outcome(detail["outcome"]).detail_type
        # `detail` is open to new fields, so a field the schema does not describe would pass
        # unnoticed: every field the code writes must be documented for subscribers.
        assert set(detail) - set(DETAIL_FIELDS) == set(), "fields missing from the schema"


def described(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, bool]]:
    """(path, has a description) for every property and definition of the schema."""
    for group in ("properties", "definitions"):
        for name, child in node.get(group, {}).items():
            child_path = f"{path}/{name}"
            yield child_path, "description" in child or "$ref" in child
            yield from described(child, child_path)


def camel_case_violations(detail: dict[str, Any]) -> list[str]:
    """Keys of the detail and of its objects that are not camelCase (SPEC §5: `Detail` is camelCase)."""
    objects: dict[str, Any] = {"detail": detail}
    for field in ("alarm", "action", "before", "after", "evidence"):
        objects[f"detail.{field}"] = detail.get(field)
    objects["detail.action.parameters"] = (detail.get("action") or {}).get("parameters")
    return [
        f"{where}.{key}"
        for where, value in objects.items()
        if isinstance(value, dict)
        for key in value
        if not CAMEL_CASE.match(key)
    ]


# --- (a) the schema itself ----------------------------------------------------------------------


def test_schema_is_a_valid_draft_04_schema_as_the_eventbridge_registry_takes() -> None:
    # Given the file the template registers with Type: JSONSchemaDraft4
    # When it is read as the schema it declares itself to be
    # Then that is draft-04, and the document is a valid draft-04 schema
    assert validator_for(SCHEMA) is Draft4Validator
    Draft4Validator.check_schema(SCHEMA)


def test_schema_speaks_the_code_vocabulary() -> None:
    # Given the schema's closed lists
    properties = SCHEMA["properties"]

    # Then they are exactly what the code writes: a new outcome or handler fails here first
    assert properties["source"]["enum"] == [SOURCE]
    assert set(properties["detail-type"]["enum"]) == {outcome.detail_type for outcome in Outcome}
    assert set(DETAIL_FIELDS["outcome"]["enum"]) == {outcome.value for outcome in Outcome}
    assert set(DETAIL_FIELDS["limit"]["enum"]) == {limit.value for limit in Limit} | {None}
    assert DETAIL_FIELDS["schemaVersion"]["enum"] == [SCHEMA_VERSION]
    assert set(DETAIL_FIELDS["handler"]["enum"]) == {
        "spike_handler",
        "scale_down_handler",
        "db_cpu_handler",
        "error_rate_triager",
        "approval_handler",
        "verifier",
    }
    assert {SPIKE.name, SCALE_DOWN.name} <= set(DETAIL_FIELDS["handler"]["enum"])


def test_the_schema_file_and_the_template_copy_are_generated_from_the_code() -> None:
    # Given the contract in remediation/contract.py, the lists in remediation/errors.py
    # Then the schema people read and the one the template registers are what they generate
    assert SCHEMA_FILE.read_text() == schema_text(), "run `make schema`"
    template = TEMPLATE.read_text()
    assert template_with_schema(template, SCHEMA) == template, "run `make schema`"


def test_every_field_is_described_for_the_on_call_engineer() -> None:
    # Given the schema a subscriber browses in the registry
    # Then no property or definition is left without a description
    assert [path for path, has_description in described(SCHEMA) if not has_description] == []


def test_schema_rejects_events_that_break_the_contract(app: App, invoke) -> None:
    # Given a real, conforming event
    invoke(SPIKE, load_event("latency-warning"))
    event = as_eventbridge_delivers(app.audit_events()[0])
    assert violations(event) == []

    def broken(change: Any) -> list[str]:
        copy = deepcopy(event)
        change(copy)
        return violations(copy)

    # Then each of these breaks it, and the schema says where
    assert broken(lambda e: e["detail"].update(outcome="done")) == [
        "detail/outcome: 'done' is not one of "
        "['applied', 'planned', 'skipped', 'failed', 'rejected', 'escalated', 'approval-requested', "
        "'verified', 'ineffective', 'drifted', 'rolled-back']"
    ]
    assert broken(lambda e: e["detail"].pop("reason")) == ["detail: 'reason' is a required property"]
    assert broken(lambda e: e["detail"].update(timestamp="yesterday")) == [
        "detail/timestamp: 'yesterday' is not a 'date-time'"
    ]
    assert broken(lambda e: e["detail"].update(dryRun="false")) == ["detail/dryRun: 'false' is not of type 'boolean'"]
    assert broken(lambda e: e["detail"].update(handler="cron")) != []
    assert broken(lambda e: e.update(source="printapp.other")) != []
    assert broken(lambda e: e["detail"]["alarm"].update(color="red")) == [
        "detail/alarm: Additional properties are not allowed ('color' was unexpected)"
    ]
    assert broken(lambda e: e["detail"]["action"].pop("target")) == ["detail/action: 'target' is a required property"]
    # while a new field in `detail` is welcome: subscribers ignore what they do not know
    assert broken(lambda e: e["detail"].update(runbookVersion="2")) == []


# --- (b) every event the code emits conforms ------------------------------------------------------


def test_applied_events_conform(app: App, invoke) -> None:
    # Given a latency alarm that is still firing
    # When the warning arrives and both runbook actions are applied
    invoke(SPIKE, load_event("latency-warning"))

    # Then both Remediation Applied events conform
    events = app.audit_events()
    assert {e["detail"]["outcome"] for e in events} == {"applied"}
    assert len(events) == 2
    assert_conform(events)


def test_skipped_event_for_an_alarm_no_longer_firing_conforms(app: App, invoke) -> None:
    # Given the alarm has already recovered when the notification arrives
    app.set_alarm(LATENCY_WARNING, "OK")

    # When it is delivered
    invoke(SPIKE, load_event("latency-warning"))

    # Then the Remediation Skipped event, with no action, conforms
    events = app.audit_events()
    assert [(e["detail"]["outcome"], e["detail"]["action"]) for e in events] == [("skipped", None)]
    assert_conform(events)


def test_rejected_event_for_a_malformed_notification_conforms(app: App, invoke) -> None:
    # Given a notification whose message is not JSON
    # When it is delivered
    invoke(SPIKE, load_event("malformed"))

    # Then the Alarm Rejected event, about an alarm nobody could read, conforms
    events = app.audit_events()
    assert [e["detail"]["outcome"] for e in events] == ["rejected"]
    assert events[0]["resources"] == []
    assert_conform(events)


def test_rejected_event_for_an_untrusted_topic_conforms(app: App, invoke) -> None:
    # Given a well-formed alarm that arrives through another account's topic
    event = with_sns(load_event("latency-warning"), TopicArn="arn:aws:sns:us-east-1:210987654321:elsewhere")

    # When it is delivered
    invoke(SPIKE, event)

    # Then the Alarm Rejected event, which names the alarm, conforms
    events = app.audit_events()
    assert [(e["detail"]["outcome"], e["detail"]["limit"]) for e in events] == [("rejected", "trust-boundary")]
    assert events[0]["detail"]["alarm"]["name"] == LATENCY_WARNING
    assert_conform(events)


def test_planned_events_in_dry_run_conform(app: App, invoke) -> None:
    # When a spike arrives while DRY_RUN is on
    invoke(SPIKE, load_event("latency-warning"), DRY_RUN="true")

    # Then both Remediation Planned events conform, and say they are a dry run
    events = app.audit_events()
    assert [(e["detail"]["outcome"], e["detail"]["dryRun"]) for e in events] == [("planned", True)] * 2
    assert_conform(events)


def test_skipped_event_for_a_composite_alarm_conforms(app: App, invoke) -> None:
    # When a composite alarm (AlarmRule, no Trigger, no metric) arrives
    invoke(SPIKE, load_event("composite"))

    # Then the Remediation Skipped event, with no namespace, metric or threshold, conforms
    events = app.audit_events()
    assert [(e["detail"]["outcome"], e["detail"]["limit"]) for e in events] == [("skipped", "not-applicable")]
    assert events[0]["detail"]["alarm"]["metricName"] is None
    assert_conform(events)


@pytest.mark.parametrize(
    "name",
    [
        "concurrency-warning",
        "latency-critical",
        "latency-metric-math",
        "latency-warning-legacy-format",
        "latency-recovered",
    ],
)
def test_events_for_every_notification_shape_conform(app: App, invoke, name: str) -> None:
    # Given every alarm in the state its notification announces
    state = "OK" if name == "latency-recovered" else "ALARM"
    for alarm in ALARMS:
        app.set_alarm(alarm, state)

    # When the notification from events/ reaches the spike handler
    invoke(SPIKE, load_event(name))

    # Then whatever it decided conforms
    assert_conform(app.audit_events())


def test_limited_and_escalated_events_conform(app: App, invoke) -> None:
    # Given a small account (80 unreserved) and a storm budget of one action
    app.account.account_limit = 180

    # When a spike arrives
    invoke(SPIKE, load_event("latency-warning"), UNRESERVED_CONCURRENCY_FLOOR=50, STORM_MAX_ACTIONS=1)

    # Then the reduced Applied event and the Escalation Required event conform
    events = app.audit_events()
    assert sorted((e["detail"]["outcome"], e["detail"]["limit"]) for e in events) == [
        ("applied", "account-headroom"),
        ("escalated", "storm-breaker"),
    ]
    assert_conform(events)


def test_failed_event_conforms(app: App, invoke) -> None:
    # Given Lambda refuses every change to the function's concurrency
    Outage(app.account.client, "PutFunctionConcurrency", status=400, code="InvalidParameterValueException")

    # When a spike arrives, the invocation fails so Lambda keeps the alarm
    with pytest.raises(ClientError):
        invoke(SPIKE, load_event("latency-warning"))

    # Then its Remediation Failed event (and the cache's Applied one) conform
    events = app.audit_events()
    assert sorted(e["detail"]["outcome"] for e in events) == ["applied", "failed"]
    assert_conform(events)


def test_scale_down_events_conform(app: App, invoke, clock: FakeClock) -> None:
    # Given a remediated spike, then every traffic alarm back to OK for longer than the hysteresis
    invoke(SPIKE, load_event("latency-warning"))
    app.audit_events()
    for alarm in ALARMS:
        app.set_alarm(alarm, "OK")
    clock.advance(16 * 60)

    # When the recovery arrives
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then the scale-down's Applied events conform
    events = app.audit_events()
    assert [(e["detail"]["handler"], e["detail"]["outcome"]) for e in events] == [("scale_down_handler", "applied")] * 2
    assert_conform(events)


def test_detail_keys_are_camel_case(app: App, invoke) -> None:
    # Given the events of an applied spike, the richest the code emits
    invoke(SPIKE, load_event("latency-warning"))
    events = app.audit_events()

    # Then every key a subscriber reads is camelCase, as SPEC §5 promises
    assert [key for event in events for key in camel_case_violations(event["detail"])] == []
