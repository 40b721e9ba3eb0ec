"""Nothing is swallowed: what fails is audited and retried; what is recorded stays true."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from remediation.errors import AuditDeliveryError, KillSwitchUnreadable
from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from support.app import App, load_event, with_message
from support.audit import CallRecorder, by_outcome, for_action, only
from support.fakes import FakeClock, LambdaContext, Outage
from support.world import calm_traffic_alarms
from unit.test_concurrency import FirstLockHolder

SPIKE = SpikeRunbook()
SCALE_DOWN = ScaleDownRunbook()
SWITCH = "/printapp/remediation/enabled"


def test_a_kill_switch_that_cannot_be_read_fails_the_invocation_not_the_alarm(app: App, invoke) -> None:
    # Given the switch's parameter cannot be read (no permission, say)
    unreadable = Outage(app.clients().ssm, "GetParameter", status=400, code="AccessDeniedException")

    # When a spike arrives, the invocation fails: neither acting blind nor dropping the alarm
    with pytest.raises(KillSwitchUnreadable):
        invoke(SPIKE, load_event("latency-warning"), KILL_SWITCH_PARAMETER=SWITCH)

    assert app.reserved_concurrency() == 100
    failed = by_outcome(app.audit_events(), "failed")
    assert {(d["action"]["name"], d["limit"]) for d in failed} == {
        ("set-reserved-concurrency", "kill-switch"),
        ("set-stage-cache", "kill-switch"),
    }
    assert unreadable.calls == 1, "the switch is read once per run"

    # And Lambda's retry, with the switch readable again (and on), acts
    unreadable.active = False
    app.ssm.put_parameter(Name=SWITCH, Value="true", Type="String")
    invoke(SPIKE, load_event("latency-warning"), KILL_SWITCH_PARAMETER=SWITCH)
    assert app.reserved_concurrency() == 200


def test_the_kill_switch_is_read_once_per_run(app: App, invoke) -> None:
    app.ssm.put_parameter(Name=SWITCH, Value="true", Type="String")
    recorder = CallRecorder(app.clients().ssm)

    invoke(SPIKE, load_event("latency-warning"), KILL_SWITCH_PARAMETER=SWITCH)

    assert recorder.calls == ["GetParameter"]
    assert len(by_outcome(app.audit_events(), "applied")) == 2


def test_decisions_the_bus_refused_are_delivered_by_the_retry(app: App, invoke) -> None:
    # Given the audit bus refuses everything during the first attempt
    refusing = Outage(app.clients().events, "PutEvents")

    with pytest.raises(AuditDeliveryError):
        invoke(SPIKE, load_event("latency-warning"))
    assert app.reserved_concurrency() == 200
    assert app.audit_events() == []

    # When Lambda retries the notification with the bus back
    refusing.active = False
    invoke(SPIKE, load_event("latency-warning"))

    # Then the first attempt's decisions reach the bus, and the retry's say it changed nothing
    events = app.audit_events()
    for action in ("set-reserved-concurrency", "set-stage-cache"):
        decided = sorted((d["outcome"], d["limit"]) for d in for_action(events, action))
        assert decided == [("applied", None), ("skipped", "already-applied")]


def test_a_state_table_that_cannot_be_written_is_audited(app: App, invoke) -> None:
    # Given the state table refuses writes (the idempotency record is the first)
    Outage(app.clients().dynamodb, "PutItem")

    with pytest.raises(Exception, match="idempotency"):
        invoke(SPIKE, load_event("latency-warning"))

    assert app.reserved_concurrency() == 100
    failed = only(app.audit_events())["detail"]
    assert failed["outcome"] == "failed"
    assert "idempotency store" in failed["reason"]


def test_the_storm_budget_counts_what_was_applied_not_what_was_tried(app: App, invoke) -> None:
    # Given a budget of two actions, and a stage update that fails on the first attempt
    failing = Outage(app.clients().apigateway, "UpdateStage")
    with pytest.raises(Exception, match="ServiceUnavailable"):
        invoke(SPIKE, load_event("latency-warning"), STORM_MAX_ACTIONS=2)
    failing.active = False

    # When Lambda retries
    invoke(SPIKE, load_event("latency-warning"), STORM_MAX_ACTIONS=2)

    # Then the cache is applied: the failed try did not use up the budget
    assert app.stage_cache()[0] is True
    assert by_outcome(app.audit_events(), "escalated") == []


def test_a_baseline_follows_the_everyday_value_after_a_failed_scale_down(app: App, invoke, clock: FakeClock) -> None:
    # Given a spike raised 100 → 200, and its scale-down kept failing (Lambda gave up: the DLQ)
    invoke(SPIKE, load_event("latency-warning"))
    calm_traffic_alarms(app)
    clock.advance(16 * 60)
    broken = Outage(app.account.client, "PutFunctionConcurrency")
    with pytest.raises(Exception, match="ServiceUnavailable"):
        invoke(SCALE_DOWN, load_event("latency-recovered"))
    broken.active = False
    # and an engineer then set the everyday value to 150 by hand
    app.set_reserved_concurrency(150)

    # When the next incident raises it and recovers
    later = {"StateChangeTime": "2026-11-28T03:00:00.000+0000"}
    app.set_alarm("printapp-remediation-api-latency-warning", "ALARM")
    clock.advance(3600)
    invoke(SPIKE, with_message(load_event("latency-warning"), **later))
    assert app.reserved_concurrency() == 200
    calm_traffic_alarms(app)
    clock.advance(16 * 60)
    invoke(SCALE_DOWN, with_message(load_event("latency-recovered"), StateChangeTime="2026-11-28T04:00:00.000+0000"))

    # Then the everyday value is restored, not the stale baseline of the first incident
    assert app.reserved_concurrency() == 150


def test_the_same_state_change_handled_twice_at_once_fails_the_second_and_says_so(app: App, clock: FakeClock) -> None:
    # Given one invocation is in the middle of handling a spike (paused while it holds a lock)
    holder = FirstLockHolder(app)

    def deliver(event: str) -> Any:
        return handle(
            load_event(event),
            LambdaContext(),
            SPIKE,
            settings=app.settings(),
            clients=app.clients(),
            clock=clock,
            sleep=clock.sleep,
        )

    first = threading.Thread(target=deliver, args=("latency-warning",))
    first.start()
    assert holder.holds.wait(10)

    # When SNS delivers the same state change again at that moment, it fails (Lambda retries it)
    with pytest.raises(IdempotencyAlreadyInProgressError):
        deliver("latency-warning-duplicate")
    holder.go_on.set()
    first.join(10)

    # And the trail says why, so a retry that keeps meeting it does not end in the DLQ unsaid
    failed = only(by_outcome(app.audit_events(), "failed"))
    assert failed["limit"] == "lock"
    assert "being handled by another invocation" in failed["reason"]
    assert app.reserved_concurrency() == 200
