"""Runbook: back to normal. Restore the recorded baseline, after the hysteresis window, when calm."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.state import StateStore
from support.app import STACK, App, load_event, with_message
from support.audit import by_outcome, for_action, only
from support.fakes import FakeClock
from support.world import calm_traffic_alarms

SPIKE = SpikeRunbook()
SCALE_DOWN = ScaleDownRunbook()
LATENCY_WARNING = f"{STACK}-api-latency-warning"
LATENCY_CRITICAL = f"{STACK}-api-latency-critical"


def _spike_then_calm(app: App, invoke) -> None:
    """A spike was remediated; then every traffic alarm went back to OK."""
    invoke(SPIKE, load_event("latency-warning"))
    assert app.reserved_concurrency() == 200
    calm_traffic_alarms(app)
    app.audit_events()


def test_scale_down_restores_the_recorded_baseline_after_hysteresis(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)

    # When the recovery arrives 16 minutes after the scale-up
    clock.advance(16 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then the values from before the spike are back, read from AWS
    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    events = app.audit_events()
    concurrency = only(for_action(events, "set-reserved-concurrency"))
    assert concurrency["outcome"] == "applied"
    assert (concurrency["before"]["reservedConcurrency"], concurrency["after"]["reservedConcurrency"]) == (200, 100)
    cache = only(for_action(events, "set-stage-cache"))
    assert cache["outcome"] == "applied"
    assert cache["after"]["cacheClusterEnabled"] is False
    assert all(d["handler"] == "scale_down_handler" for d in (concurrency, cache))


def test_scale_down_waits_for_hysteresis(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)

    # When the recovery arrives 10 minutes after the scale-up (window: 15 minutes)
    clock.advance(10 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then the scale-up stays, and the audit trail says why
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))
    skipped = only(app.audit_events())["detail"]
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "hysteresis")
    assert "waits 900 s" in skipped["reason"]


def test_scale_down_hysteresis_knob_is_honoured(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)

    clock.advance(120)
    invoke(SCALE_DOWN, load_event("latency-recovered"), SCALE_DOWN_HYSTERESIS_SECONDS=60)

    assert app.reserved_concurrency() == 100


def test_scale_down_waits_while_another_traffic_alarm_fires(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)
    # Given the concurrency alarm is still firing although latency recovered
    app.set_alarm(f"{STACK}-lambda-concurrency-warning", "ALARM")

    clock.advance(30 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    assert app.reserved_concurrency() == 200
    skipped = only(app.audit_events())["detail"]
    assert skipped["limit"] == "traffic-alarm-active"
    assert f"{STACK}-lambda-concurrency-warning" in skipped["reason"]


def test_hand_made_traffic_alarm_also_holds_the_scale_down(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)
    # Given an alarm someone created by hand on the same API, with a name we never chose
    app.cloudwatch.put_metric_alarm(
        AlarmName="p99 too slow (Jane)",
        Namespace="AWS/ApiGateway",
        MetricName="Latency",
        Dimensions=[{"Name": "ApiName", "Value": "printapp-api"}],
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=1,
        Threshold=2000,
        ComparisonOperator="GreaterThanThreshold",
    )
    app.set_alarm("p99 too slow (Jane)", "ALARM")

    clock.advance(30 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    assert app.reserved_concurrency() == 200
    assert "p99 too slow (Jane)" in only(app.audit_events())["detail"]["reason"]


def test_the_first_ok_after_deploy_changes_nothing(app: App, invoke) -> None:
    # Given a fresh deploy: the app function has no reservation, and a traffic alarm goes
    # INSUFFICIENT_DATA → OK (and fires its OK action) before any spike
    app.set_reserved_concurrency(None)
    calm_traffic_alarms(app)
    first_ok = with_message(load_event("latency-recovered"), OldStateValue="INSUFFICIENT_DATA")

    invoke(SCALE_DOWN, first_ok)

    # Then the function is not capped by a reservation it never had, and the trail says why
    assert app.reserved_concurrency() is None
    assert app.stage_cache() == (False, None)
    skipped = by_outcome(app.audit_events(), "skipped")
    assert sorted((d["action"]["name"], d["limit"]) for d in skipped) == [
        ("set-reserved-concurrency", "no-baseline"),
        ("set-stage-cache", "no-baseline"),
    ]


def test_scale_down_never_lowers_what_it_did_not_raise(app: App, invoke) -> None:
    # Given capacity raised by hand (no scale-up of ours, so no baseline was recorded)
    app.set_reserved_concurrency(300)
    app.set_stage_cache(True, "6.1")
    calm_traffic_alarms(app)

    invoke(SCALE_DOWN, load_event("latency-recovered"))

    assert app.reserved_concurrency() == 300
    assert app.stage_cache() == (True, Decimal("6.1"))
    assert {d["limit"] for d in by_outcome(app.audit_events(), "skipped")} == {"no-baseline"}


def test_scale_down_leaves_a_value_someone_changed_after_the_spike(app: App, invoke, clock: FakeClock) -> None:
    # Given a spike raised concurrency to 200, and an engineer then raised it to 300 by hand
    _spike_then_calm(app, invoke)
    app.set_reserved_concurrency(300)

    clock.advance(16 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then their 300 stays; the cache, still as the spike left it, is restored
    assert app.reserved_concurrency() == 300
    assert app.stage_cache() == (False, None)
    concurrency = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (concurrency["outcome"], concurrency["limit"]) == ("skipped", "value-changed")
    assert "not the reservedConcurrency 200 this system raised it to" in concurrency["reason"]


def test_a_new_spike_after_scale_down_records_a_fresh_baseline(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)
    clock.advance(16 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))
    # Given the everyday value changed since (a human set 120)
    app.set_reserved_concurrency(120)
    for name in (LATENCY_WARNING, LATENCY_CRITICAL):
        app.set_alarm(name, "ALARM")

    clock.advance(60)
    invoke(SPIKE, load_event("latency-critical"))
    clock.advance(16 * 60)
    for name in (LATENCY_WARNING, LATENCY_CRITICAL):
        app.set_alarm(name, "OK")
    recovered = load_event("latency-recovered")
    recovered["Records"][0]["Sns"]["Message"] = recovered["Records"][0]["Sns"]["Message"].replace(
        "2026-11-27T03:30:04.221+0000", "2026-11-27T04:30:00.000+0000"
    )
    invoke(SCALE_DOWN, recovered)

    assert app.reserved_concurrency() == 120


def test_an_alarm_state_is_reread_before_scaling_down(app: App, invoke, clock: FakeClock) -> None:
    _spike_then_calm(app, invoke)
    # Given latency went back into ALARM after the OK notification was sent
    app.set_alarm(LATENCY_WARNING, "ALARM")

    clock.advance(30 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    assert app.reserved_concurrency() == 200
    assert only(by_outcome(app.audit_events(), "skipped"))["limit"] == "alarm-state"


def test_scale_down_never_raises_what_the_spike_did_not(app: App, invoke, clock: FakeClock) -> None:
    # Given the storm breaker stopped the cache step, so only concurrency was raised
    invoke(SPIKE, load_event("latency-warning"), STORM_MAX_ACTIONS=1)
    assert app.stage_cache() == (False, None)
    calm_traffic_alarms(app)
    app.audit_events()

    clock.advance(16 * 60)
    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then concurrency is restored, and the cache is not switched on by a fallback baseline
    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    cache = only(for_action(app.audit_events(), "set-stage-cache"))
    assert (cache["outcome"], cache["limit"]) == ("skipped", "no-baseline")


def test_a_scale_up_landing_while_the_scale_down_decides_is_not_undone(
    app: App, invoke, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spike, then calm, and the hysteresis window has passed
    _spike_then_calm(app, invoke)
    clock.advance(16 * 60)
    # ... and right after the scale-down read the raise history, latency turned critical and
    # that alarm's run raised the stage cache again (it held the lock; the scale-down waited)
    read_history = StateStore.histories

    def a_spike_lands_meanwhile(store: StateStore, keys: Any) -> Any:
        found = read_history(store, keys)
        monkeypatch.setattr(StateStore, "histories", read_history)
        for name in (LATENCY_WARNING, LATENCY_CRITICAL):
            app.set_alarm(name, "ALARM")
        invoke(SPIKE, load_event("latency-critical"))
        return found

    monkeypatch.setattr(StateStore, "histories", a_spike_lands_meanwhile)

    invoke(SCALE_DOWN, load_event("latency-recovered"))

    # Then the scale-up that landed meanwhile stays, and so does the one before it: the
    # scale-down decided from a history in which the last scale-up was 16 minutes old
    events = app.audit_events()
    spike, scale_down = (
        [event for event in events if event["detail"]["handler"] == handler]
        for handler in ("spike_handler", "scale_down_handler")
    )
    assert only(for_action(spike, "set-stage-cache"))["after"]["cacheClusterSize"] == "6.1"
    assert app.stage_cache() == (True, Decimal("6.1"))
    assert app.reserved_concurrency() == 200
    for action in ("set-reserved-concurrency", "set-stage-cache"):
        kept = only(for_action(scale_down, action))
        assert (kept["outcome"], kept["limit"]) == ("skipped", "hysteresis")
        assert "set-stage-cache on printapp-api/prod was raised again 0 s ago" in kept["reason"]
