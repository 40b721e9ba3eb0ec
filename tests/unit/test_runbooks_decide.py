"""Runbooks decide from facts, without AWS: the runbook's rules as pure functions.

No moto here: a `Situation` is built from an events/ notification and hand-made facts, and the
test reads the intents the runbook returns. (What the engine does with them is tested on moto.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from msgspec.structs import asdict, replace

from remediation.actions import (
    AddReadReplica,
    EnableStorageAutoscaling,
    SetReservedConcurrency,
    SetStageCache,
    StepUpInstanceClass,
)
from remediation.actions.base import Direction
from remediation.alarm import AlarmConfig, parse_deliveries
from remediation.errors import AccountHeadroom, Limit, Outcome, UnknownAlarm
from remediation.intents import Act, Decided, Facts, History, Need, Report, Situation
from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.error_rate import Cause, ErrorRateTriageRunbook, classify
from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.settings import Settings
from remediation.signals import Level, Signal, recognise
from support.app import load_event, with_message

NOW = 1_795_000_000.0
SETTINGS = Settings.from_environ({"AUDIT_BUS_NAME": "bus", "STATE_TABLE_NAME": "table"})


def situation(event: str | dict[str, Any], facts: Facts | None = None, settings: Settings = SETTINGS) -> Situation:
    (delivery,) = parse_deliveries(load_event(event) if isinstance(event, str) else event)
    alarm = delivery.alarm
    still = AlarmConfig(alarm.name, alarm.state, alarm.threshold, "GreaterThanThreshold", alarm.metrics)
    return Situation(
        alarm, recognise(alarm, settings), settings, facts or Facts(read=frozenset({Need.ALARM}), alarm=still), NOW
    )


def acts(decided: Decided) -> list[tuple[str, dict[str, Any]]]:
    return [
        (intent.action.name, {key: value for key, value in asdict(intent.params).items() if value is not None})
        for intent in decided.intents
        if isinstance(intent, Act)
    ]


def only_report(decided: Decided) -> Report:
    (report,) = decided.intents
    assert isinstance(report, Report)
    return report


# --- recognising alarms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "signal", "level"),
    [
        ("latency-warning", Signal.API_LATENCY, Level.WARNING),
        ("latency-critical", Signal.API_LATENCY, Level.CRITICAL),
        ("concurrency-warning", Signal.LAMBDA_CONCURRENCY, Level.WARNING),
        ("db-cpu-critical", Signal.DB_CPU, Level.CRITICAL),
        ("error-rate-warning", Signal.API_ERROR_RATE, Level.WARNING),
        ("error-rate-critical", Signal.API_ERROR_RATE, Level.CRITICAL),
        ("latency-metric-math", Signal.API_LATENCY, Level.WARNING),
    ],
)
def test_alarms_are_recognised_by_what_they_watch(event: str, signal: Signal, level: Level) -> None:
    recognised = situation(event).recognised
    assert (recognised.signal, recognised.level) == (signal, level)


def test_an_alarm_on_another_function_is_not_ours() -> None:
    (delivery,) = parse_deliveries(load_event("concurrency-warning"))
    with pytest.raises(UnknownAlarm, match="not the app's other"):
        recognise(
            delivery.alarm,
            Settings.from_environ({"AUDIT_BUS_NAME": "b", "STATE_TABLE_NAME": "t", "TARGET_FUNCTION_NAME": "other"}),
        )


# --- spike -------------------------------------------------------------------------------------


def test_a_spike_asks_for_concurrency_200_and_a_1_6_gb_cache() -> None:
    decided = SpikeRunbook().decide(situation("latency-warning"))

    assert acts(decided) == [
        (SetReservedConcurrency.name, {"direction": Direction.RAISE, "value": 200}),
        (SetStageCache.name, {"direction": Direction.RAISE, "enabled": True, "size_gb": Decimal("1.6")}),
    ]


def test_a_critical_spike_asks_for_the_critical_cache_step() -> None:
    decided = SpikeRunbook().decide(situation("latency-critical"))

    assert dict(acts(decided))[SetStageCache.name]["size_gb"] == Decimal("6.1")


def test_an_alarm_no_longer_firing_is_a_decision_not_to_act() -> None:
    facts = Facts(read=frozenset({Need.ALARM}), alarm=AlarmConfig("x", "OK", 500.0, "GreaterThanThreshold", ()))

    report = only_report(SpikeRunbook().decide(situation("latency-warning", facts)))

    assert (report.outcome, report.limit) == (Outcome.SKIPPED, Limit.ALARM_STATE)
    assert "is OK now" in report.reason


def test_an_alarm_that_was_deleted_is_a_decision_not_to_act() -> None:
    report = only_report(SpikeRunbook().decide(situation("latency-warning", Facts(read=frozenset({Need.ALARM})))))

    assert report.limit is Limit.ALARM_STATE
    assert "no longer exists" in report.reason


def test_the_spike_handler_does_not_take_ok_transitions() -> None:
    (delivery,) = parse_deliveries(load_event("latency-recovered"))

    report = SpikeRunbook().handles(delivery.alarm)

    assert report is not None
    assert report.limit is Limit.NOT_APPLICABLE


# --- scale-down --------------------------------------------------------------------------------


def recovered(**facts: Any) -> Situation:
    ok = AlarmConfig("printapp-remediation-api-latency-warning", "OK", 500.0, "GreaterThanThreshold", ())
    return situation(
        "latency-recovered", Facts(read=frozenset({Need.ALARM, *facts.pop("read", ())}), alarm=ok, **facts)
    )


def test_scale_down_restores_the_recorded_baselines() -> None:
    history = {
        SetReservedConcurrency.name: History(NOW - 3600, {"reservedConcurrency": 150}),
        SetStageCache.name: History(NOW - 3600, {"cacheClusterEnabled": False, "cacheClusterSize": None}),
    }

    decided = ScaleDownRunbook().decide(recovered(history=history))

    assert acts(decided) == [
        (SetReservedConcurrency.name, {"direction": Direction.RESTORE, "value": 150}),
        (SetStageCache.name, {"direction": Direction.RESTORE, "enabled": False}),
    ]


def test_scale_down_without_a_baseline_has_nothing_to_undo() -> None:
    history = {SetReservedConcurrency.name: History(NOW - 3600, {"reservedConcurrency": 150})}

    decided = ScaleDownRunbook().decide(recovered(history=history))

    assert [name for name, _ in acts(decided)] == [SetReservedConcurrency.name]
    (report,) = [intent for intent in decided.intents if isinstance(intent, Report)]
    assert (report.limit, report.action) == (Limit.NO_BASELINE, (SetStageCache.name, "printapp-api/prod"))


def test_scale_down_waits_for_the_hysteresis_window() -> None:
    history = {SetReservedConcurrency.name: History(NOW - 600, {"reservedConcurrency": 100})}

    report = only_report(ScaleDownRunbook().decide(recovered(history=history)))

    assert report.limit is Limit.HYSTERESIS
    assert "600 s ago" in report.reason


def test_scale_down_waits_while_a_traffic_alarm_fires() -> None:
    report = only_report(ScaleDownRunbook().decide(recovered(firing_traffic_alarms=("p99 too slow (Jane)",))))

    assert report.limit is Limit.TRAFFIC_ALARM_ACTIVE
    assert "p99 too slow (Jane)" in report.reason


# --- database ----------------------------------------------------------------------------------


def test_db_warning_asks_for_storage_autoscaling_and_a_replica() -> None:
    decided = DbCpuRunbook().decide(situation("db-cpu-warning"))

    assert [name for name, _ in acts(decided)] == [EnableStorageAutoscaling.name, AddReadReplica.name]
    assert dict(acts(decided))[EnableStorageAutoscaling.name]["max_allocated_storage_gb"] == 1000


def test_db_critical_asks_for_one_class_step() -> None:
    assert [name for name, _ in acts(DbCpuRunbook().decide(situation("db-cpu-critical")))] == [StepUpInstanceClass.name]


def test_db_recovery_reports_what_a_human_could_revert() -> None:
    ok = AlarmConfig("printapp-remediation-db-cpu-critical", "OK", 80.0, "GreaterThanThreshold", ())
    facts = Facts(
        read=frozenset({Need.ALARM, Need.DATABASE}),
        alarm=ok,
        database={"instanceClass": "db.r5.xlarge", "readReplicas": ["printapp-db-replica-1", "someone-elses"]},
        history={StepUpInstanceClass.name: History(baseline={"instanceClass": "db.r5.large"})},
    )

    report = only_report(DbCpuRunbook().decide(situation("db-cpu-recovered", facts)))

    assert report.limit is Limit.NO_AUTOMATIC_SCALE_DOWN
    assert report.evidence == {
        "revert": {
            "instanceClass": {"from": "db.r5.xlarge", "to": "db.r5.large"},
            "readReplicas": ["printapp-db-replica-1"],
        }
    }


# --- error-rate triage -------------------------------------------------------------------------

QUIET = {"lambdaThrottles": 0.0, "lambdaErrors": 0.0, "dbCpuPercent": 20.0, "dbConnections": 50.0}


@pytest.mark.parametrize(
    ("figures", "cause"),
    [
        ({**QUIET, "lambdaThrottles": 12.0}, Cause.THROTTLING),
        ({**QUIET, "lambdaThrottles": 12.0, "dbCpuPercent": 95.0}, Cause.THROTTLING),
        ({**QUIET, "dbCpuPercent": 85.0, "lambdaErrors": 50.0}, Cause.DATABASE_SATURATION),
        ({**QUIET, "lambdaErrors": 5.0}, Cause.FUNCTION_ERRORS),
        (QUIET, Cause.UNKNOWN),
        (dict.fromkeys(QUIET), Cause.UNKNOWN),
    ],
)
def test_triage_names_the_most_specific_cause(figures: dict[str, float | None], cause: Cause) -> None:
    assert classify(figures, SETTINGS)[0] is cause


def triage(event: str, **figures: float) -> Decided:
    base = situation(event)
    facts = Facts(
        read=frozenset({Need.ALARM, Need.TRIAGE_COMPONENTS}),
        alarm=base.facts.alarm,
        components={**QUIET, **figures},
        triage_window=("2026-11-27T03:00:00+00:00", "2026-11-27T03:05:00+00:00"),
    )
    return ErrorRateTriageRunbook().decide(situation(event, facts))


def test_critical_throttling_is_routed_to_the_concurrency_action() -> None:
    decided = triage("error-rate-throttling", lambdaThrottles=120)

    assert acts(decided) == [(SetReservedConcurrency.name, {"direction": Direction.RAISE, "value": 200})]
    assert decided.evidence["triage"]["decidedBy"] == "Lambda Throttles 120 ≥ 10"


def test_critical_database_saturation_goes_as_far_as_the_database_cpu_says() -> None:
    assert [n for n, _ in acts(triage("error-rate-db-saturation", dbCpuPercent=92))] == [StepUpInstanceClass.name]
    assert [n for n, _ in acts(triage("error-rate-db-saturation", dbCpuPercent=70, dbConnections=500))] == []


def test_a_warning_error_rate_only_reports() -> None:
    report = only_report(triage("error-rate-warning", lambdaThrottles=120))

    assert (report.outcome, report.limit) == (Outcome.SKIPPED, Limit.REPORT_ONLY)


def test_an_s3_request_rate_alarm_reads_nothing_and_asks_a_human() -> None:
    event = situation("s3-request-rate", settings=replace(SETTINGS, media_bucket_name="printapp-media"))
    runbook = ErrorRateTriageRunbook()

    assert runbook.needs(event.alarm, event.recognised) == frozenset()
    report = only_report(runbook.decide(event))
    assert (report.outcome, report.limit) == (Outcome.ESCALATED, Limit.TRIAGE)


def test_a_text_threshold_never_reaches_a_runbook() -> None:
    bad = with_message(load_event("latency-warning"), Trigger={"Threshold": "five hundred"})
    with pytest.raises(Exception, match="not a CloudWatch alarm notification"):
        parse_deliveries(bad)


# --- actions plan from what was read: pure, and converging on a fixed target -------------------


def database(**state: Any) -> dict[str, Any]:
    return {
        "instanceClass": "db.r5.large",
        "status": "available",
        "allocatedStorageGb": 100,
        "maxAllocatedStorageGb": None,
        "readReplicas": [],
        "pendingInstanceClass": None,
        **state,
    }


def test_a_class_step_names_the_class_it_sets_and_pins_it_for_retries() -> None:
    action = StepUpInstanceClass(None, SETTINGS)  # type: ignore[arg-type]

    plan = action.plan(database(), action.parameters())

    assert plan.after == {"instanceClass": "db.r5.xlarge"}
    assert plan.pins == {"to": "db.r5.xlarge"}


def test_a_retry_with_the_pinned_class_never_climbs_a_second_rung() -> None:
    action = StepUpInstanceClass(None, SETTINGS)  # type: ignore[arg-type]
    pinned = action.parameters(to="db.r5.xlarge")

    # the first attempt's change took effect (its answer was lost): it holds, nothing more to do
    assert action.holds(database(instanceClass="db.r5.xlarge"), {"instanceClass": "db.r5.xlarge"})
    assert action.holds(database(pendingInstanceClass="db.r5.xlarge"), {"instanceClass": "db.r5.xlarge"})
    # it did not: the retry sets the class the first attempt planned
    assert action.plan(database(), pinned).after == {"instanceClass": "db.r5.xlarge"}
    # someone went further meanwhile: a step up only raises
    with pytest.raises(Exception, match="a step up only raises"):
        action.plan(database(instanceClass="db.r5.2xlarge"), pinned)


def test_a_replica_is_named_once_and_an_existing_one_counts_as_made() -> None:
    action = AddReadReplica(None, SETTINGS)  # type: ignore[arg-type]

    plan = action.plan(database(readReplicas=["printapp-db-replica-1"]), action.parameters(max_replicas=2))

    assert plan.pins == {"name": "printapp-db-replica-2"}
    made = database(readReplicas=["printapp-db-replica-1", "printapp-db-replica-2"])
    assert action.holds(made, plan.after)


def test_reserved_concurrency_is_clamped_to_the_account_headroom() -> None:
    # Given 100 reserved and 80 unreserved in the account
    before = {"reservedConcurrency": 100, "accountConcurrency": 180, "unreservedAccountConcurrency": 80}
    keeps_50 = SetReservedConcurrency(None, replace(SETTINGS, unreserved_concurrency_floor=50))  # type: ignore[arg-type]

    # Then keeping 50 unreserved, it raises to 130, and says which limit shaped it
    plan = keeps_50.plan(before, keeps_50.parameters(value=200))
    assert (plan.after, plan.limit) == ({"reservedConcurrency": 130}, Limit.ACCOUNT_HEADROOM)
    # and keeping the default 100, there is no room at all
    keeps_100 = SetReservedConcurrency(None, SETTINGS)  # type: ignore[arg-type]
    with pytest.raises(AccountHeadroom):
        keeps_100.plan(before, keeps_100.parameters(value=200))
