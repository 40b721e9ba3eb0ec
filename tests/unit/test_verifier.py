"""The closed loop (SPEC §9): every applied raise is checked afterwards, by a schedule, on moto.

Each test applies a real spike (or database) decision, reads the one-time schedule it created
back from EventBridge Scheduler, moves the clock to when it would fire, and delivers its Input
to the verifier the way Scheduler does (with the schedule ARN filled in).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.verifier import handle_verification
from support.app import SCHEDULER_ROLE_ARN, STACK, VERIFIER_ARN, App, load_event, with_message
from support.audit import by_outcome, for_action, only
from support.fakes import ACCOUNT_ID, REGION, FakeClock, LambdaContext, Outage
from support.world import API, FUNCTION

SPIKE = SpikeRunbook()
LATENCY_WARNING = f"{STACK}-api-latency-warning"
VERIFIER = LambdaContext(function_name=f"{STACK}-verifier")


def _spike(app: App, invoke: Any, **settings: Any) -> dict[str, dict[str, Any]]:
    """A latency warning handled: the Applied decisions, by action."""
    invoke(SPIKE, load_event("latency-warning"), **settings)
    applied = by_outcome(app.audit_events(), "applied")
    return {detail["action"]["name"]: detail for detail in applied}


def _schedule_for(app: App, decision: dict[str, Any]) -> dict[str, Any]:
    return only([s for s in app.schedules() if s["Name"] == f"verify-{decision['decisionId']}"])


def _fire(app: App, clock: FakeClock, schedule: dict[str, Any], **settings: Any) -> list[dict[str, Any]]:
    """What Scheduler does when the schedule's time comes: its Input, context attributes filled in."""
    at = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
    clock.now = max(clock.now, at.timestamp())
    event = json.loads(
        schedule["Target"]["Input"]
        .replace("<aws.scheduler.schedule-arn>", schedule["Arn"])
        .replace("<aws.scheduler.scheduled-time>", at.isoformat())
    )
    handle_verification(
        event, VERIFIER, settings=app.settings(**settings), clients=app.clients(), clock=clock, sleep=clock.sleep
    )
    return app.audit_events()


def _latency(app: App, clock: FakeClock, values: list[float]) -> None:
    """API latency, one datapoint a minute, the last one a minute ago."""
    app.put_metric("AWS/ApiGateway", "Latency", API, values, datetime.fromtimestamp(clock.now, UTC))


def test_every_applied_raise_schedules_one_check_of_itself(app: App, invoke, clock: FakeClock) -> None:
    # When a spike applies two raises
    applied = _spike(app, invoke)

    # Then each has one one-time schedule in the group, named after it, firing once 600 s later
    schedules = app.schedules()
    assert len(schedules) == 2
    for action, decision in applied.items():
        schedule = _schedule_for(app, decision)
        fires = datetime.fromtimestamp(clock.now + 600, UTC).replace(microsecond=0)
        assert schedule["ScheduleExpression"] == f"at({fires:%Y-%m-%dT%H:%M:%S})"
        assert schedule["ActionAfterCompletion"] == "DELETE"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["Target"]["Arn"] == VERIFIER_ARN
        assert schedule["Target"]["RoleArn"] == SCHEDULER_ROLE_ARN
        request = json.loads(schedule["Target"]["Input"])
        assert request["decisionId"] == decision["decisionId"]
        assert request["correlationId"] == decision["correlationId"]
        assert (request["action"], request["round"]) == (action, 1)
        assert request["scheduleArn"] == "<aws.scheduler.schedule-arn>"
        # and the Applied event says when it will be checked
        assert decision["evidence"]["verification"]["schedule"] == schedule["Name"]


def test_dry_run_schedules_nothing(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-warning"), DRY_RUN="true")

    assert app.schedules() == []


def test_without_a_verifier_an_applied_change_says_it_goes_unchecked(app: App, invoke) -> None:
    applied = _spike(app, invoke, VERIFIER_FUNCTION_ARN="")

    assert app.schedules() == []
    for decision in applied.values():
        assert decision["evidence"]["verification"]["scheduled"] is False
        assert "VERIFIER_FUNCTION_ARN" in decision["evidence"]["verification"]["why"]


def test_a_change_that_helped_is_verified(app: App, invoke, clock: FakeClock) -> None:
    # Given a spike's raises, and ten minutes later the alarm is OK
    applied = _spike(app, invoke)
    app.set_alarm(LATENCY_WARNING, "OK")

    # When both checks fire
    for decision in applied.values():
        events = _fire(app, clock, _schedule_for(app, decision))

        # Then each says Remediation Verified, about that decision, in the same correlation
        verdict = only(events)
        assert verdict["detail-type"] == "Remediation Verified"
        detail = verdict["detail"]
        assert detail["outcome"] == "verified"
        assert detail["handler"] == "verifier"
        # about that decision's own action and target (two checks of one state change never mix)
        assert detail["action"]["name"] == decision["action"]["name"]
        assert detail["correlationId"] == decision["correlationId"]
        assert detail["verifies"] == {
            "decisionId": decision["decisionId"],
            "action": decision["action"]["name"],
            "round": 1,
        }
        assert detail["alarm"]["name"] == LATENCY_WARNING
    # and nothing changed
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))


def test_a_metric_back_under_its_threshold_is_verified_while_the_alarm_still_says_alarm(
    app: App, invoke, clock: FakeClock
) -> None:
    applied = _spike(app, invoke)
    clock.advance(600)
    _latency(app, clock, [320, 300, 280])

    events = _fire(app, clock, _schedule_for(app, applied["set-stage-cache"]))

    verdict = only(events)["detail"]
    assert verdict["outcome"] == "verified"
    assert "back under its threshold" in verdict["reason"]
    assert verdict["evidence"]["check"]["symptom"]["datapoints"] == [320, 300, 280]


def test_an_ineffective_cache_takes_the_critical_step_which_is_checked_in_turn(
    app: App, invoke, clock: FakeClock
) -> None:
    # Given a spike's 1.6 GB cache, and ten minutes later latency is still over 500 ms
    applied = _spike(app, invoke)
    clock.advance(600)
    _latency(app, clock, [720, 760, 790])

    # When the cache's check fires
    events = _fire(app, clock, _schedule_for(app, applied["set-stage-cache"]))

    # Then it is ineffective, and the runbook's next step (6.1 GB) is applied as a decision of its own
    ineffective = only(by_outcome(events, "ineffective"))
    assert ineffective["verifies"]["decisionId"] == applied["set-stage-cache"]["decisionId"]
    step = only(by_outcome(events, "applied"))
    assert step["action"]["name"] == "set-stage-cache"
    assert step["after"]["cacheClusterSize"] == "6.1"
    assert step["correlationId"] == applied["set-stage-cache"]["correlationId"]
    assert step["reason"].startswith("next step")
    assert app.stage_cache() == (True, Decimal("6.1"))
    # with its own check, one round further
    second = _schedule_for(app, step)
    assert json.loads(second["Target"]["Input"])["round"] == 2

    # When latency is back to normal by the second check
    clock.advance(600)
    _latency(app, clock, [300, 240, 210])
    events = _fire(app, clock, second)

    # Then the step is verified
    verified = only(events)["detail"]
    assert verified["outcome"] == "verified"
    assert verified["verifies"] == {"decisionId": step["decisionId"], "action": "set-stage-cache", "round": 2}


def test_ineffective_with_no_step_left_escalates(app: App, invoke, clock: FakeClock) -> None:
    # Given reserved concurrency at the runbook's critical value already (200 at both levels)
    applied = _spike(app, invoke)
    clock.advance(600)
    _latency(app, clock, [720, 760, 790])

    events = _fire(app, clock, _schedule_for(app, applied["set-reserved-concurrency"]))

    assert only(by_outcome(events, "ineffective"))["action"]["name"] == "set-reserved-concurrency"
    escalation = only(by_outcome(events, "escalated"))
    assert escalation["limit"] == "ineffective"
    assert "critical value" in escalation["reason"]
    assert app.reserved_concurrency() == 200


def test_after_the_last_round_it_gives_up(app: App, invoke, clock: FakeClock) -> None:
    applied = _spike(app, invoke)
    clock.advance(600)
    _latency(app, clock, [720, 760, 790])

    events = _fire(app, clock, _schedule_for(app, applied["set-stage-cache"]), VERIFY_MAX_ATTEMPTS=1)

    assert only(by_outcome(events, "ineffective"))
    assert only(by_outcome(events, "escalated"))["limit"] == "give-up"
    assert by_outcome(events, "applied") == []
    assert app.stage_cache() == (True, Decimal("1.6"))


def test_a_change_someone_undid_is_reported_as_drift_not_fought(app: App, invoke, clock: FakeClock) -> None:
    # Given a person switched the cache off again after the spike enabled it
    applied = _spike(app, invoke)
    app.set_stage_cache(False)

    events = _fire(app, clock, _schedule_for(app, applied["set-stage-cache"]))

    drift = only(events)
    assert drift["detail-type"] == "Remediation Drifted"
    assert drift["detail"]["before"]["cacheClusterEnabled"] is False
    assert "someone else" in drift["detail"]["reason"]
    assert app.stage_cache() == (False, None)


def test_a_change_replaced_by_a_later_raise_of_ours_is_not_drift(app: App, invoke, clock: FakeClock) -> None:
    # Given the 1.6 GB cache of a warning spike, then a critical alarm past the cooldown: 6.1 GB
    applied = _spike(app, invoke)
    clock.advance(400)
    invoke(SPIKE, load_event("latency-critical"))
    assert app.stage_cache() == (True, Decimal("6.1"))
    app.audit_events()

    # When the first check fires
    events = _fire(app, clock, _schedule_for(app, applied["set-stage-cache"]))

    # Then it says the change was superseded by our own later raise (checked on its own), not drift
    verdict = only(events)["detail"]
    assert (verdict["outcome"], verdict["limit"]) == ("skipped", "superseded")
    assert app.stage_cache() == (True, Decimal("6.1"))


def test_a_change_that_made_things_worse_is_rolled_back_to_the_baseline(app: App, invoke, clock: FakeClock) -> None:
    # Given the app throttled hard since reserved concurrency was raised (and not before)
    applied = _spike(app, invoke)
    clock.advance(600)
    now = datetime.fromtimestamp(clock.now, UTC)
    app.put_metric("AWS/Lambda", "Throttles", FUNCTION, [40, 55, 70], now)

    events = _fire(app, clock, _schedule_for(app, applied["set-reserved-concurrency"]))

    rolled = only(events)
    assert rolled["detail-type"] == "Remediation Rolled Back"
    detail = rolled["detail"]
    assert detail["outcome"] == "rolled-back"
    assert "Lambda throttles" in detail["reason"]
    assert detail["after"] == {"reservedConcurrency": 100}
    assert detail["verifies"]["decisionId"] == applied["set-reserved-concurrency"]["decisionId"]
    assert app.reserved_concurrency() == 100


def test_a_raise_rolled_back_is_not_made_again_by_the_next_alarm(app: App, invoke, clock: FakeClock) -> None:
    # Given reserved concurrency rolled back because throttling rose after it was raised
    applied = _spike(app, invoke)
    clock.advance(600)
    app.put_metric("AWS/Lambda", "Throttles", FUNCTION, [40, 55, 70], datetime.fromtimestamp(clock.now, UTC))
    _fire(app, clock, _schedule_for(app, applied["set-reserved-concurrency"]))
    assert app.reserved_concurrency() == 100

    # When the latency alarm fires again, past the cooldown
    clock.advance(400)
    invoke(SPIKE, with_message(load_event("latency-warning"), StateChangeTime="2026-11-27T04:01:12.345+0000"))

    # Then the same raise escalates instead of doing the same harm again
    held = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (held["outcome"], held["limit"]) == ("escalated", "rolled-back")
    assert "Lambda throttles" in held["reason"]
    assert app.reserved_concurrency() == 100

    # and after ROLLBACK_HOLD_SECONDS it may raise again
    clock.advance(3600)
    invoke(SPIKE, with_message(load_event("latency-warning"), StateChangeTime="2026-11-27T05:01:12.345+0000"))
    assert app.reserved_concurrency() == 200


def test_a_database_change_that_made_things_worse_escalates_instead(app: App, invoke, clock: FakeClock) -> None:
    invoke(DbCpuRunbook(), load_event("db-cpu-critical"))
    step = only(by_outcome(app.audit_events(), "applied"))
    clock.advance(1800)
    now = datetime.fromtimestamp(clock.now, UTC)
    app.put_metric("AWS/Lambda", "Errors", FUNCTION, [20, 30, 40], now)

    events = _fire(app, clock, _schedule_for(app, step))

    escalation = only(events)["detail"]
    assert escalation["outcome"] == "escalated"
    assert "no automatic way back" in escalation["reason"]
    assert app.db_instance()["DBInstanceClass"] == step["after"]["instanceClass"]


def test_a_database_change_is_checked_after_the_database_delay(app: App, invoke, clock: FakeClock) -> None:
    invoke(DbCpuRunbook(), load_event("db-cpu-critical"), DB_VERIFY_AFTER_SECONDS=1200)
    step = only(by_outcome(app.audit_events(), "applied"))

    schedule = _schedule_for(app, step)

    fires = datetime.fromtimestamp(clock.now + 1200, UTC).replace(microsecond=0)
    assert schedule["ScheduleExpression"] == f"at({fires:%Y-%m-%dT%H:%M:%S})"


def test_a_schedule_delivered_twice_checks_once(app: App, invoke, clock: FakeClock) -> None:
    applied = _spike(app, invoke)
    clock.advance(600)
    _latency(app, clock, [720, 760, 790])
    schedule = _schedule_for(app, applied["set-stage-cache"])

    first = _fire(app, clock, schedule)
    again = _fire(app, clock, schedule)

    assert len(by_outcome(first, "applied")) == 1
    assert again == []
    assert app.stage_cache() == (True, Decimal("6.1"))


@pytest.mark.parametrize(
    ("event", "limit"),
    [
        ({"hello": "world"}, "input"),
        ("not even an object", "input"),
        (None, "input"),
        (
            {
                "kind": "printapp.remediation.verify",
                "decisionId": "00000000-0000-4000-8000-000000000000",
                "correlationId": "00000000-0000-4000-8000-000000000001",
                "action": "set-stage-cache",
                "round": 1,
                "scheduleArn": f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/someone-elses/verify-x",
            },
            "trust-boundary",
        ),
    ],
)
def test_garbage_and_strangers_are_rejected_and_audited_never_acted_on(
    app: App, invoke, clock: FakeClock, event: Any, limit: str
) -> None:
    _spike(app, invoke)

    result = handle_verification(
        event, VERIFIER, settings=app.settings(), clients=app.clients(), clock=clock, sleep=clock.sleep
    )

    rejected = only(app.audit_events())["detail"]
    assert (rejected["outcome"], rejected["limit"]) == ("rejected", limit)
    assert result["decisions"][0]["outcome"] == "rejected"
    assert app.stage_cache() == (True, Decimal("1.6"))


def test_a_well_formed_request_for_a_decision_never_applied_is_rejected(app: App, invoke, clock: FakeClock) -> None:
    applied = _spike(app, invoke)
    schedule = _schedule_for(app, applied["set-stage-cache"])
    forged = json.loads(schedule["Target"]["Input"])
    forged["action"] = "step-up-instance-class"  # a decision that did not apply this
    forged["scheduleArn"] = schedule["Arn"]

    handle_verification(
        forged, VERIFIER, settings=app.settings(), clients=app.clients(), clock=clock, sleep=clock.sleep
    )

    rejected = only(app.audit_events())["detail"]
    assert (rejected["outcome"], rejected["limit"]) == ("rejected", "trust-boundary")
    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"


def test_a_schedule_that_could_not_be_created_fails_the_decision_and_the_retry_creates_it_once(
    app: App, invoke, clock: FakeClock
) -> None:
    # Given Scheduler refuses while the spike is handled
    outage = Outage(app.clients().scheduler, "CreateSchedule")
    with pytest.raises(Exception, match="scheduling its check"):
        invoke(SPIKE, load_event("latency-warning"))
    first = app.audit_events()
    # the change stands and says so, and the failure is on the trail
    assert {e["detail"]["outcome"] for e in first} >= {"applied", "failed"}
    assert app.schedules() == []

    # When Lambda retries with Scheduler back
    outage.active = False
    invoke(SPIKE, load_event("latency-warning"))

    # Then each change has exactly one check, and neither change was made twice
    applied = {d["action"]["name"]: d for d in by_outcome(first, "applied")}
    assert len(app.schedules()) == 2
    for decision in applied.values():
        assert _schedule_for(app, decision)
    retried = app.audit_events()
    for action in ("set-reserved-concurrency", "set-stage-cache"):
        again = only([d for d in for_action(retried, action) if d["outcome"] == "applied"])
        assert again["decisionId"] == applied[action]["decisionId"]  # the same decision, completed
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))
