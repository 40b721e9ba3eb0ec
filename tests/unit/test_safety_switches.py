"""Dry-run, kill switch, storm breaker and locks: the switches an on-call engineer relies on."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.client import BaseClient

from remediation.errors import LockHeld
from remediation.runbooks.spike import SpikeRunbook
from remediation.state import StateStore
from support.app import App, load_event
from support.audit import by_outcome, for_action, only
from support.fakes import FakeClock

SPIKE = SpikeRunbook()


def test_dry_run_changes_nothing_and_plans(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-warning"), DRY_RUN="true")

    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    events = app.audit_events()
    assert {e["detail-type"] for e in events} == {"Remediation Planned"}
    planned = only(for_action(events, "set-reserved-concurrency"))
    assert planned["dryRun"] is True
    assert planned["after"] == {"reservedConcurrency": 200}
    assert planned["reason"].startswith("dry run:")
    # and no cooldown or baseline was recorded that could hold back a real run later
    assert (
        app.dynamodb.scan(
            TableName=app.table,
            FilterExpression="begins_with(id, :p)",
            ExpressionAttributeValues={":p": {"S": "raise#"}},
        )["Count"]
        == 0
    )


def test_kill_switch_env_makes_the_handler_audit_only(app: App, invoke) -> None:
    invoke(SPIKE, load_event("latency-warning"), REMEDIATION_ENABLED="false")

    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    skipped = by_outcome(app.audit_events(), "skipped")
    assert len(skipped) == 2
    assert {d["limit"] for d in skipped} == {"kill-switch"}


def test_kill_switch_ssm_parameter_stops_without_a_redeploy(app: App, invoke) -> None:
    # Given the on-call engineer flips the parameter (no redeploy)
    app.ssm.put_parameter(Name="/printapp/remediation/enabled", Value="false", Type="String")

    invoke(SPIKE, load_event("latency-warning"), KILL_SWITCH_PARAMETER="/printapp/remediation/enabled")

    assert app.reserved_concurrency() == 100
    assert app.stage_cache() == (False, None)
    skipped = by_outcome(app.audit_events(), "skipped")
    assert [d["limit"] for d in skipped] == ["kill-switch", "kill-switch"]
    assert "/printapp/remediation/enabled" in skipped[0]["reason"]


def test_kill_switch_parameter_set_to_true_lets_it_act(app: App, invoke) -> None:
    app.ssm.put_parameter(Name="/printapp/remediation/enabled", Value="true", Type="String")

    invoke(SPIKE, load_event("latency-warning"), KILL_SWITCH_PARAMETER="/printapp/remediation/enabled")

    assert app.reserved_concurrency() == 200


def test_storm_breaker_escalates_instead_of_acting(app: App, invoke) -> None:
    # Given a budget of one applied action per window
    invoke(SPIKE, load_event("latency-warning"), STORM_MAX_ACTIONS=1)

    events = app.audit_events()
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (False, None)
    escalated = only(by_outcome(events, "escalated"))
    assert escalated["limit"] == "storm-breaker"
    assert escalated["action"]["name"] == "set-stage-cache"
    assert [e["detail-type"] for e in events].count("Escalation Required") == 1


@pytest.fixture
def state_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Every call as it leaves botocore, with the state-table items it touches and how:
    `Put lock#printapp-api`, `Get raise#…`, `Update storm#…`."""
    calls: list[tuple[str, list[str]]] = []
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        keys = [f"Get {params['Key']['id']['S']}"] if "Key" in params else []
        keys += [f"Put {params['Item']['id']['S']}"] if "Item" in params else []
        for item in params.get("TransactItems", []):
            ((kind, write),) = item.items()
            keys.append(f"{kind} {(write.get('Key') or write['Item'])['id']['S']}")
        for table in params.get("RequestItems", {}).values():
            keys += [f"Get {key['id']['S']}" for key in table["Keys"]]
        calls.append((operation, keys))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def _kind(key: str) -> str:
    """`Update storm#1795000500` → `storm`."""
    return key.split(" ", 1)[1].split("#", 1)[0]


def test_a_run_that_applies_two_actions_counts_them_and_fixes_their_plans_in_one_write(
    app: App, invoke, state_calls: list[tuple[str, list[str]]]
) -> None:
    calls = state_calls

    # When a spike applies both of its actions
    invoke(SPIKE, load_event("latency-warning"))

    # Then both are counted, their baselines kept and their plans fixed in one write, before either change
    assert len(by_outcome(app.audit_events(), "applied")) == 2
    storm_writes = [(operation, keys) for operation, keys in calls if any(_kind(key) == "storm" for key in keys)]
    assert len(storm_writes) == 1
    operation, keys = storm_writes[0]
    assert operation == "TransactWriteItems"
    assert sorted(_kind(key) for key in keys) == ["baseline", "baseline", "run", "storm"]
    first_change = next(i for i, (operation, _) in enumerate(calls) if operation == "PutFunctionConcurrency")
    assert calls.index(storm_writes[0]) < first_change
    baseline_writes = [operation for operation, keys in calls if any(_kind(key) == "baseline" for key in keys)]
    assert baseline_writes == ["TransactWriteItems"]
    window = app.dynamodb.scan(
        TableName=app.table,
        ScanFilter={"id": {"AttributeValueList": [{"S": "storm#"}], "ComparisonOperator": "BEGINS_WITH"}},
    )
    assert len(window["Items"][0]["actions"]["SS"]) == 2
    baseline = app.dynamodb.get_item(
        TableName=app.table, Key={"id": {"S": "baseline#set-reserved-concurrency#printapp-api"}}
    )["Item"]
    assert json.loads(baseline["value"]["S"]) == {"reservedConcurrency": 100}


def test_a_run_on_two_targets_locks_both_in_one_write_then_reads_their_raises_in_one(
    app: App, invoke, state_calls: list[tuple[str, list[str]]]
) -> None:
    calls = state_calls

    # When a spike applies both of its actions
    invoke(SPIKE, load_event("latency-warning"))

    # Then both targets were locked in one write, and their last raises read in one, after it
    assert len(by_outcome(app.audit_events(), "applied")) == 2
    lock_takes = [(operation, keys) for operation, keys in calls if any(k.startswith("Put lock#") for k in keys)]
    assert lock_takes == [("TransactWriteItems", ["Put lock#printapp-api", "Put lock#printapp-api/prod"])]
    raise_reads = [(operation, keys) for operation, keys in calls if any(k.startswith("Get raise#") for k in keys)]
    assert raise_reads == [
        (
            "BatchGetItem",
            ["Get raise#set-reserved-concurrency#printapp-api", "Get raise#set-stage-cache#printapp-api/prod"],
        )
    ]
    assert calls.index(lock_takes[0]) < calls.index(raise_reads[0])
    # and every lock went with its change's completing write
    locks = app.dynamodb.scan(
        TableName=app.table,
        ScanFilter={"id": {"AttributeValueList": [{"S": "lock#"}], "ComparisonOperator": "BEGINS_WITH"}},
    )
    assert locks["Items"] == []


def test_with_room_for_one_more_the_first_action_gets_it_and_the_second_escalates(
    app: App, invoke, clock: FakeClock
) -> None:
    # Given a budget of two per window, one of them taken by another alarm's change
    StateStore(app.dynamodb, app.table, clock=clock).consume_storm_budget(
        "another-state-change#set-stage-cache", window_seconds=900, max_actions=2
    )

    # When a spike wants two changes
    invoke(SPIKE, load_event("latency-warning"), STORM_MAX_ACTIONS=2)

    # Then the first is applied, the second escalated: the run's one write could not take both
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (False, None)
    assert only(by_outcome(app.audit_events(), "escalated"))["limit"] == "storm-breaker"


def test_a_target_locked_by_another_alarm_fails_the_invocation_so_lambda_retries(
    app: App, invoke, clock: FakeClock
) -> None:
    # Given another alarm state change holds the lock on the function, longer than we wait
    store = StateStore(app.dynamodb, app.table, clock=clock)
    store.acquire_lock("printapp-api", "another-state-change", ttl_seconds=120, wait_seconds=0)

    # When the spike arrives, it waits for the lock, then fails the invocation (no dropped alarm)
    with pytest.raises(LockHeld):
        invoke(SPIKE, load_event("latency-warning"), LOCK_WAIT_SECONDS=5)

    assert app.reserved_concurrency() == 100
    events = app.audit_events()
    held = only(for_action(events, "set-reserved-concurrency"))
    assert (held["outcome"], held["limit"]) == ("failed", "lock")
    assert "Lambda delivers this alarm again later" in held["reason"]
    # the other target was free, so the cache was still handled
    assert app.stage_cache() == (True, Decimal("1.6"))

    # And once the other remediation is done, Lambda's retry of the same notification acts
    store.release_lock("printapp-api", "another-state-change")
    invoke(SPIKE, load_event("latency-warning"))
    assert app.reserved_concurrency() == 200
    retried = app.audit_events()
    assert only(for_action(retried, "set-reserved-concurrency"))["outcome"] == "applied"
    assert only(for_action(retried, "set-stage-cache"))["limit"] == "already-applied"


def test_an_abandoned_lock_expires(app: App, invoke, clock: FakeClock) -> None:
    # Given a lock left behind by an invocation that died two minutes ago
    app.dynamodb.put_item(
        TableName=app.table,
        Item={
            "id": {"S": "lock#printapp-api"},
            "owner": {"S": "dead"},
            "expiration": {"N": str(int(clock.now) - 1)},
        },
    )

    invoke(SPIKE, load_event("latency-warning"))

    assert app.reserved_concurrency() == 200


def test_cooldown_is_shared_by_every_alarm_on_the_same_target(app: App, invoke, clock: FakeClock) -> None:
    invoke(SPIKE, load_event("latency-warning"))
    app.audit_events()
    app.set_reserved_concurrency(100)

    clock.advance(60)
    invoke(SPIKE, load_event("concurrency-warning"))

    assert app.reserved_concurrency() == 100
    assert only(for_action(app.audit_events(), "set-reserved-concurrency"))["limit"] == "cooldown"
