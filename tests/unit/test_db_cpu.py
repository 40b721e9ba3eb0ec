"""Runbook: database CPU. Storage and a replica on warning; one class step on critical, safely."""

from __future__ import annotations

import pytest

from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runner import handle
from support.app import STACK, App, load_event, with_message, with_sns
from support.audit import CallRecorder, by_outcome, for_action, only
from support.fakes import FakeClock, LambdaContext

DB = DbCpuRunbook()
DB_CRITICAL = f"{STACK}-db-cpu-critical"


def test_critical_steps_the_class_up_one_rung(app: App, invoke) -> None:
    invoke(DB, load_event("db-cpu-critical"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    applied = only(app.audit_events())["detail"]
    assert applied["outcome"] == "applied"
    assert applied["handler"] == "db_cpu_handler"
    assert applied["action"]["name"] == "step-up-instance-class"
    assert applied["before"]["instanceClass"] == "db.r5.large"
    assert applied["after"]["instanceClass"] == "db.r5.xlarge"
    assert applied["action"]["parameters"]["applyImmediately"] is True
    assert applied["level"] == "critical"


def test_a_second_critical_inside_the_cooldown_does_not_climb_again(app: App, invoke, clock: FakeClock) -> None:
    invoke(DB, load_event("db-cpu-critical"))
    app.audit_events()

    clock.advance(30 * 60)
    invoke(DB, load_event("db-cpu-critical-at-ceiling"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    skipped = only(app.audit_events())["detail"]
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "cooldown")
    assert "cooldown is 3600 s" in skipped["reason"]


def test_at_the_top_of_the_ladder_nothing_changes_and_a_human_is_called(app: App, invoke) -> None:
    app.set_db_instance_class("db.r5.24xlarge")

    invoke(DB, load_event("db-cpu-critical-at-ceiling"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.24xlarge"
    escalated = only(app.audit_events())
    assert escalated["detail-type"] == "Escalation Required"
    assert escalated["detail"]["limit"] == "top-of-ladder"


def test_a_configured_ceiling_stops_the_climb(app: App, invoke) -> None:
    app.set_db_instance_class("db.r5.2xlarge")

    invoke(DB, load_event("db-cpu-critical"), DB_INSTANCE_CLASS_CEILING="db.r5.2xlarge")

    assert app.db_instance()["DBInstanceClass"] == "db.r5.2xlarge"
    assert only(app.audit_events())["detail"]["limit"] == "ceiling"


def test_an_unknown_family_is_skipped_not_guessed(app: App, invoke) -> None:
    app.set_db_instance_class("db.x2g.large")

    invoke(DB, load_event("db-cpu-critical"))

    assert app.db_instance()["DBInstanceClass"] == "db.x2g.large"
    skipped = only(app.audit_events())["detail"]
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "unknown-instance-family")


def test_warning_enables_storage_autoscaling_and_adds_one_replica(app: App, invoke) -> None:
    invoke(DB, load_event("db-cpu-warning"))

    instance = app.db_instance()
    assert instance["MaxAllocatedStorage"] == 1000
    assert instance["ReadReplicaDBInstanceIdentifiers"] == ["printapp-db-replica-1"]
    assert instance["DBInstanceClass"] == "db.r5.large"
    events = app.audit_events()
    assert {d["action"]["name"] for d in by_outcome(events, "applied")} == {
        "enable-storage-autoscaling",
        "add-read-replica",
    }
    replica = only(for_action(events, "add-read-replica"))
    assert replica["after"]["readReplicas"] == ["printapp-db-replica-1"]


def test_warnings_never_add_replicas_beyond_the_maximum(app: App, invoke, clock: FakeClock) -> None:
    warning = load_event("db-cpu-warning")
    for minute in range(3):
        clock.advance(60)
        later = with_message(warning, StateChangeTime=f"2026-11-27T03:2{minute}:00.000+0000")
        invoke(DB, later, DB_COOLDOWN_SECONDS=0)

    assert sorted(app.db_instance()["ReadReplicaDBInstanceIdentifiers"]) == [
        "printapp-db-replica-1",
        "printapp-db-replica-2",
    ]
    last = for_action(app.audit_events(), "add-read-replica")[-1]
    assert (last["outcome"], last["limit"]) == ("skipped", "ceiling")


def test_an_existing_higher_storage_maximum_is_kept(app: App, invoke) -> None:
    app.rds.modify_db_instance(DBInstanceIdentifier="printapp-db", MaxAllocatedStorage=2000, ApplyImmediately=True)

    invoke(DB, load_event("db-cpu-warning"))

    assert app.db_instance()["MaxAllocatedStorage"] == 2000
    storage = only(for_action(app.audit_events(), "enable-storage-autoscaling"))
    assert (storage["outcome"], storage["limit"]) == ("skipped", "only-raise")


def test_manual_approval_mode_asks_and_changes_nothing(app: App, invoke) -> None:
    invoke(DB, load_event("db-cpu-critical"), DB_APPROVAL_MODE="manual")

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    asked = only(app.audit_events())
    assert asked["detail-type"] == "Approval Requested"
    assert asked["detail"]["action"]["parameters"]["to"] == "db.r5.xlarge"
    assert "db.r5.large → db.r5.xlarge" in asked["detail"]["reason"]


def test_an_instance_that_is_not_available_is_left_alone(app: App, invoke) -> None:
    app.rds.stop_db_instance(DBInstanceIdentifier="printapp-db")

    invoke(DB, load_event("db-cpu-critical-instance-not-available"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    skipped = only(app.audit_events())["detail"]
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "target-not-available")
    assert "stopped" in skipped["reason"]


def test_recovery_is_recorded_with_what_a_human_could_revert(app: App, invoke, clock: FakeClock) -> None:
    invoke(DB, load_event("db-cpu-critical"))
    app.audit_events()
    app.set_alarm(DB_CRITICAL, "OK")

    clock.advance(3600)
    invoke(DB, load_event("db-cpu-recovered"))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    recorded = only(app.audit_events())["detail"]
    assert recorded["limit"] == "no-automatic-scale-down"
    assert recorded["evidence"]["revert"]["instanceClass"] == {"from": "db.r5.xlarge", "to": "db.r5.large"}
    assert "db.r5.xlarge → db.r5.large" in recorded["reason"]


@pytest.mark.parametrize("case", ["untrusted topic", "not JSON", "wrong account"])
def test_bad_input_and_untrusted_sources_are_rejected_without_a_write(app: App, case: str) -> None:
    event = {
        "untrusted topic": with_sns(load_event("db-cpu-critical"), TopicArn="arn:aws:sns:us-east-1:210987654321:x"),
        "not JSON": load_event("malformed"),
        "wrong account": with_message(
            load_event("db-cpu-critical"),
            AWSAccountId="210987654321",
            AlarmArn=("arn:aws:cloudwatch:us-east-1:210987654321:alarm:printapp-remediation-db-cpu-critical"),
        ),
    }[case]
    clients = app.clients()
    recorder = CallRecorder(*(clients.get(s) for s in ("rds", "cloudwatch", "dynamodb", "events", "ssm")))

    handle(event, LambdaContext(), DB, settings=app.settings(), clients=clients)

    assert recorder.writes == ["PutEvents"]
    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    assert only(app.audit_events())["detail-type"] == "Alarm Rejected"
