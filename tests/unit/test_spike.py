"""Runbook: traffic spike. Reserved concurrency 200, stage cache 1.6 GB, verified, only raising."""

from __future__ import annotations

from decimal import Decimal

from remediation.audit import metrics
from remediation.runbooks.spike import SpikeRunbook
from support.app import STACK, App, load_event, with_message
from support.audit import by_outcome, for_action, only
from support.fakes import FakeClock

SPIKE = SpikeRunbook()
LATENCY_WARNING = f"{STACK}-api-latency-warning"


def test_verified_latency_alarm_raises_concurrency_and_enables_cache(app: App, invoke) -> None:
    # Given the app at its everyday capacity and a latency alarm that is still firing
    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)

    # When the warning notification arrives
    invoke(SPIKE, load_event("latency-warning"))

    # Then concurrency is 200 and the stage cache is enabled at 1.6 GB, read back from AWS
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))
    events = app.audit_events()
    assert {e["detail-type"] for e in events} == {"Remediation Applied"}
    assert all(e["source"] == "printapp.remediation" for e in events)
    concurrency = only(for_action(events, "set-reserved-concurrency"))
    assert concurrency["before"]["reservedConcurrency"] == 100
    assert concurrency["after"] == {"reservedConcurrency": 200}
    assert concurrency["action"]["target"] == "printapp-api"
    cache = only(for_action(events, "set-stage-cache"))
    assert cache["before"]["cacheClusterEnabled"] is False
    assert cache["after"]["cacheClusterEnabled"] is True
    assert cache["after"]["cacheClusterSize"] == "1.6"
    for detail in (concurrency, cache):
        assert detail["schemaVersion"] == "1.0"
        assert detail["handler"] == "spike_handler"
        assert detail["dryRun"] is False
        assert detail["outcome"] == "applied"
        assert detail["alarm"]["name"] == LATENCY_WARNING
        assert detail["alarm"]["arn"].endswith(f":alarm:{LATENCY_WARNING}")
        assert detail["alarm"]["state"] == "ALARM"
        assert detail["alarm"]["previousState"] == "OK"
        assert detail["alarm"]["namespace"] == "AWS/ApiGateway"
        assert detail["alarm"]["metricName"] == "Latency"
        assert detail["alarm"]["threshold"] == 500.0
        assert detail["alarm"]["stateChangeTime"] == "2026-11-27T03:01:12.345+00:00"
        # the runbook's step 1: traffic was read and recorded
        assert detail["evidence"]["traffic"]["metric"] == "AWS/ApiGateway Count"
    # one state change, one correlation id; every decision its own id
    assert concurrency["correlationId"] == cache["correlationId"]
    assert concurrency["decisionId"] != cache["decisionId"]


def test_alarm_no_longer_in_alarm_changes_nothing(app: App, invoke) -> None:
    # Given the latency alarm has already recovered when the (late) notification arrives
    app.set_alarm(LATENCY_WARNING, "OK")

    invoke(SPIKE, load_event("latency-warning"))

    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    skipped = only(by_outcome(app.audit_events(), "skipped"))
    assert skipped["limit"] == "alarm-state"
    assert "OK now" in skipped["reason"]


def test_duplicate_delivery_acts_once(app: App, invoke) -> None:
    # Given a spike was handled once
    invoke(SPIKE, load_event("latency-warning"))
    first = app.audit_events()
    assert len(by_outcome(first, "applied")) == 2
    # and someone then put concurrency back by hand
    app.set_reserved_concurrency(100)

    # When SNS delivers the same state change again, with the same and with another MessageId
    invoke(SPIKE, load_event("latency-warning"))
    invoke(SPIKE, load_event("latency-warning-duplicate"))

    # Then nothing acted again
    assert app.reserved_concurrency() == 100
    assert app.audit_events() == []


def test_a_spike_only_raises(app: App, invoke) -> None:
    # Given concurrency already above the target and a bigger cache than the runbook's
    app.set_reserved_concurrency(300)
    app.set_stage_cache(True, "6.1")

    invoke(SPIKE, load_event("latency-warning"))

    assert app.reserved_concurrency() == 300
    assert app.stage_cache() == (True, Decimal("6.1"))
    skipped = by_outcome(app.audit_events(), "skipped")
    assert {d["limit"] for d in skipped} == {"only-raise"}
    assert any("never shrinks a cache" in d["reason"] for d in skipped)


def test_account_headroom_limits_the_raise(app: App, invoke) -> None:
    # Given a small account: 180 in all, printapp-api holds 100, so 80 are unreserved
    app.account.account_limit = 180

    invoke(SPIKE, load_event("latency-warning"), UNRESERVED_CONCURRENCY_FLOOR=50)

    # Then it raises only as far as keeps 50 unreserved: 100 + (80 - 50) = 130
    assert app.reserved_concurrency() == 130
    applied = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert applied["outcome"] == "applied"
    assert applied["limit"] == "account-headroom"
    assert applied["action"]["parameters"]["requested"] == 200
    assert applied["action"]["parameters"]["value"] == 130


def test_no_account_headroom_skips_the_raise(app: App, invoke) -> None:
    # Given only the default floor (100) left unreserved
    app.account.account_limit = 200  # printapp-api holds 100: 100 unreserved

    invoke(SPIKE, load_event("latency-warning"))

    assert app.reserved_concurrency() == 100
    skipped = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert skipped["outcome"] == "skipped"
    assert skipped["limit"] == "account-headroom"
    assert "must keep 100" in skipped["reason"]


def test_ceiling_caps_the_raise(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-warning"), RESERVED_CONCURRENCY_CEILING=150)

    assert app.reserved_concurrency() == 150
    applied = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert applied["limit"] == "ceiling"
    assert "ceiling 150" in applied["reason"]


def test_at_the_ceiling_nothing_changes(app: App, invoke) -> None:
    app.set_reserved_concurrency(150)

    invoke(SPIKE, load_event("latency-warning"), RESERVED_CONCURRENCY_CEILING=150)

    assert app.reserved_concurrency() == 150
    skipped = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "ceiling")


def test_cooldown_stops_a_second_raise_until_it_passes(app: App, invoke, clock: FakeClock) -> None:
    # Given a spike raised concurrency, and a human then lowered it again
    invoke(SPIKE, load_event("latency-warning"), COOLDOWN_SECONDS=600)
    app.audit_events()
    app.set_reserved_concurrency(100)
    critical = load_event("latency-critical")

    # When another spike alarm arrives 5 minutes later, inside the 10-minute cooldown
    clock.advance(300)
    invoke(SPIKE, critical, COOLDOWN_SECONDS=600)

    # Then concurrency is not raised again, and the audit trail names the cooldown
    assert app.reserved_concurrency() == 100
    skipped = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "cooldown")
    assert "cooldown is 600 s" in skipped["reason"]

    # And once the cooldown has passed, a new alarm state change acts again
    clock.advance(301)
    later = with_message(critical, StateChangeTime="2026-11-27T03:16:00.000+0000")
    invoke(SPIKE, later, COOLDOWN_SECONDS=600)
    assert app.reserved_concurrency() == 200


def test_critical_latency_goes_one_cache_step_further(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-critical"))

    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("6.1"))
    assert {d["level"] for d in by_outcome(app.audit_events(), "applied")} == {"critical"}


def test_invalid_runbook_cache_size_is_rounded_up_and_said(app: App, invoke) -> None:
    # The runbook says 1.0 GB, which API Gateway does not accept
    invoke(SPIKE, load_event("latency-warning"), CACHE_SIZE_GB="1.0")

    assert app.stage_cache() == (True, Decimal("1.6"))
    cache = only(for_action(app.audit_events(), "set-stage-cache"))
    assert cache["action"]["parameters"]["requestedSizeGb"] == "1.0"
    assert cache["action"]["parameters"]["sizeGb"] == "1.6"
    assert "1.0 GB is not a valid cacheClusterSize; rounded up to 1.6 GB" in cache["reason"]


def test_concurrency_alarm_is_a_spike_too(app: App, invoke) -> None:
    invoke(SPIKE, load_event("concurrency-warning"))

    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))


def test_metric_math_and_legacy_notifications_are_understood(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-metric-math"))
    assert app.reserved_concurrency() == 200
    math_event = for_action(app.audit_events(), "set-reserved-concurrency")[0]
    assert math_event["alarm"]["metricName"] == "API latency p90 (gaps filled)"

    # An older message: no AlarmArn, no DatapointsToAlarm, decorated TreatMissingData
    app.set_reserved_concurrency(100)
    invoke(SPIKE, load_event("latency-warning-legacy-format"), COOLDOWN_SECONDS=0)
    assert app.reserved_concurrency() == 200
    legacy = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    # the ARN is rebuilt from the topic's region, not from the display name in `Region`
    assert legacy["alarm"]["arn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{LATENCY_WARNING}"


def test_composite_alarm_is_recorded_without_acting(app: App, invoke) -> None:
    invoke(SPIKE, load_event("composite"))

    assert app.reserved_concurrency() == 100
    skipped = only(app.audit_events())["detail"]
    assert skipped["outcome"] == "skipped"
    assert skipped["limit"] == "not-applicable"
    assert "composite alarm" in skipped["reason"]


def test_ok_transition_is_not_a_spike(app: App, invoke) -> None:
    app.set_alarm(LATENCY_WARNING, "OK")

    invoke(SPIKE, load_event("latency-recovered"))

    assert app.reserved_concurrency() == 100
    assert only(app.audit_events())["detail"]["limit"] == "not-applicable"


def test_an_applied_spike_puts_the_new_capacity_on_the_dashboard(app: App, invoke) -> None:
    metrics.clear_metrics()

    invoke(SPIKE, load_event("latency-warning"))

    emitted = metrics.serialize_metric_set()
    values = {m["Name"]: emitted[m["Name"]] for m in emitted["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert values["ReservedConcurrency"] == [200.0]
    assert values["CacheSizeGb"] == [1.6]
    assert values["RemediationApplied"] == [1.0, 1.0]
    metrics.clear_metrics()
