"""The alarm's own configuration decides, not the message (SPEC §4).

The handler re-reads the alarm and takes metric, threshold and comparison from it: only alarms
that fire on high load are load signals, and a notification that disagrees with the
configuration is noted in the audit event while the configuration wins.
"""

from __future__ import annotations

from typing import Any

from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.spike import SpikeRunbook
from support.app import STACK, App, alarm_message, load_event, with_message
from support.audit import by_outcome, only

DB = DbCpuRunbook()
DB_DIMENSIONS = [{"Name": "DBInstanceIdentifier", "Value": "printapp-db"}]


def _db_alarm(app: App, name: str, *, threshold: float, comparison: str) -> None:
    app.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/RDS",
        MetricName="CPUUtilization",
        Dimensions=DB_DIMENSIONS,
        Statistic="Average",
        Period=3600,
        EvaluationPeriods=24,
        Threshold=threshold,
        ComparisonOperator=comparison,
    )
    app.set_alarm(name, "ALARM")


def _notification(name: str, **trigger: Any) -> dict[str, Any]:
    event = load_event("db-cpu-critical")
    message = alarm_message(event)
    return with_message(
        event,
        AlarmName=name,
        AlarmArn=message["AlarmArn"].rsplit(":", 1)[0] + f":{name}",
        Trigger={**message["Trigger"], **trigger},
    )


def test_a_low_cpu_cost_alarm_on_the_database_changes_nothing(app: App, invoke) -> None:
    # Given a hand-made cost alarm: "DB CPU below 80 % for a day", firing
    _db_alarm(app, "db idle, downsize? (finance)", threshold=80, comparison="LessThanThreshold")

    # When its ALARM notification reaches the DB handler, on three days in a row
    for day in range(3):
        invoke(
            DB,
            with_message(
                _notification("db idle, downsize? (finance)", ComparisonOperator="LessThanThreshold", Threshold=80.0),
                StateChangeTime=f"2026-11-2{day}T03:00:00.000+0000",
            ),
        )

    # Then the class never moves, and each decision says why
    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    skipped = by_outcome(app.audit_events(), "skipped")
    assert [d["limit"] for d in skipped] == ["not-applicable"] * 3
    assert "LessThanThreshold 80: not a load signal" in skipped[0]["reason"]


def test_a_message_claiming_high_load_does_not_override_a_low_load_configuration(app: App, invoke) -> None:
    _db_alarm(app, "db idle", threshold=10, comparison="LessThanOrEqualToThreshold")

    invoke(DB, _notification("db idle", ComparisonOperator="GreaterThanThreshold", Threshold=90.0))

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    assert only(app.audit_events())["detail"]["limit"] == "not-applicable"


def test_the_configured_threshold_decides_the_level_not_the_message(app: App, invoke) -> None:
    # Given the template's DB warning alarm (threshold 60), whose notification says 80
    notification = with_message(
        load_event("db-cpu-warning"),
        Trigger={**alarm_message(load_event("db-cpu-warning"))["Trigger"], "Threshold": 80.0},
    )

    invoke(DB, notification)

    # Then it is handled as the warning it is configured to be: no class change (an outage)
    instance = app.db_instance()
    assert instance["DBInstanceClass"] == "db.r5.large"
    assert instance["MaxAllocatedStorage"] == 1000
    applied = by_outcome(app.audit_events(), "applied")
    assert {d["action"]["name"] for d in applied} == {"enable-storage-autoscaling", "add-read-replica"}
    assert {d["level"] for d in applied} == {"warning"}
    # and the audit event says the message disagreed with the configuration
    assert applied[0]["evidence"]["messageDisagrees"] == [
        "the notification says threshold 80.0, the alarm is configured with 60.0"
    ]


def test_an_alarm_reconfigured_to_another_metric_is_left_to_its_handler(app: App, invoke) -> None:
    # Given the latency alarm was changed by hand to watch the database's CPU
    app.cloudwatch.put_metric_alarm(
        AlarmName=f"{STACK}-api-latency-warning",
        Namespace="AWS/RDS",
        MetricName="CPUUtilization",
        Dimensions=DB_DIMENSIONS,
        Statistic="Average",
        Period=60,
        EvaluationPeriods=3,
        Threshold=90,
        ComparisonOperator="GreaterThanThreshold",
    )
    app.set_alarm(f"{STACK}-api-latency-warning", "ALARM")

    invoke(SpikeRunbook(), load_event("latency-warning"))

    assert app.reserved_concurrency() == 100
    skipped = only(app.audit_events())["detail"]
    assert skipped["limit"] == "not-applicable"
    assert "configured as a db-cpu alarm" in skipped["reason"]
