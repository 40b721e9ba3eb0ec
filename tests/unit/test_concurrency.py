"""Different alarms about one target at the same moment: each gets its change, exactly once.

The interleaving is made deterministic: the first invocation stops right after it took the
target's lock; the second arrives, finds the lock held and waits; only then does the first go on.
Before the engine's rebuild, the second was recorded as `Skipped: lock` and never retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from remediation.errors import LockHeld
from remediation.pipeline import _distinct_targets
from remediation.runbooks.base import Runbook
from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from remediation.state import Completion, RaisesChanged, StateStore
from support.app import App, load_event
from support.audit import by_outcome, for_action
from support.fakes import FakeClock, LambdaContext

WAIT = 10  # seconds: a generous bound on in-process moto calls


class FirstLockHolder:
    """Pauses the invocation that takes the first lock until the second one is waiting for it."""

    def __init__(self, app: App) -> None:
        self.holds = threading.Event()
        self.go_on = threading.Event()
        self._paused = False
        events = app.clients().dynamodb.meta.events
        # A lock is taken on its own (PutItem) or with the run's other locks (TransactWriteItems).
        for operation in ("PutItem", "TransactWriteItems"):
            events.register(f"before-parameter-build.dynamodb.{operation}", self._before_put)
            events.register(f"after-call.dynamodb.{operation}", self._after_put)

    @staticmethod
    def _before_put(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        writes = params.get("TransactItems", [])
        items = [params["Item"]] if "Item" in params else [write["Put"]["Item"] for write in writes if "Put" in write]
        context["takes_a_lock"] = any(item["id"]["S"].startswith("lock#") for item in items)

    def _after_put(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        took_a_lock = context.get("takes_a_lock") and http_response.status_code == 200
        if took_a_lock and not self._paused:
            self._paused = True
            self.holds.set()
            assert self.go_on.wait(WAIT), "the second invocation never waited for the lock"


def at_the_same_moment(
    app: App, clock: FakeClock, first: tuple[Runbook, str], second: tuple[Runbook, str]
) -> list[Any]:
    """Run `first` until it holds a lock, then `second`, which must wait for it. Returns both results."""
    holder = FirstLockHolder(app)
    results: list[Any] = [None, None]

    def invoke(index: int, runbook: Runbook, event: str, sleep: Callable[[float], None]) -> None:
        try:
            results[index] = handle(
                load_event(event),
                LambdaContext(),
                runbook,
                settings=app.settings(),
                clients=app.clients(),
                clock=clock,
                sleep=sleep,
            )
        except Exception as error:
            results[index] = error

    thread = threading.Thread(target=invoke, args=(0, *first, clock.sleep))
    thread.start()
    assert holder.holds.wait(WAIT)

    def wait_for_the_first(seconds: float) -> None:
        # The second invocation backs off: meanwhile the first finishes and lets go of the lock.
        holder.go_on.set()
        thread.join(WAIT)
        clock.sleep(seconds)

    invoke(1, *second, wait_for_the_first)
    thread.join(WAIT)
    assert holder.go_on.is_set(), "the second invocation did not meet the first one's lock"
    return results


def test_db_cpu_warning_and_critical_at_once_both_get_their_changes(app: App, clock: FakeClock) -> None:
    db = DbCpuRunbook()
    recorder: list[str] = []
    app.clients().rds.meta.events.register("before-call.rds.*", lambda model, **_: recorder.append(model.name))

    results = at_the_same_moment(app, clock, (db, "db-cpu-warning"), (db, "db-cpu-critical"))

    # Then neither invocation failed, and each change was made once
    assert not any(isinstance(result, Exception) for result in results), results
    instance = app.db_instance()
    assert instance["DBInstanceClass"] == "db.r5.xlarge"
    assert instance["MaxAllocatedStorage"] == 1000
    assert instance["ReadReplicaDBInstanceIdentifiers"] == ["printapp-db-replica-1"]
    assert recorder.count("CreateDBInstanceReadReplica") == 1
    assert recorder.count("ModifyDBInstance") == 2  # storage autoscaling, then the class step
    events = app.audit_events()
    assert sorted(d["action"]["name"] for d in by_outcome(events, "applied")) == [
        "add-read-replica",
        "enable-storage-autoscaling",
        "step-up-instance-class",
    ]
    assert [d for d in (e["detail"] for e in events) if d["limit"] == "lock"] == []


def test_latency_and_concurrency_alarms_at_once_raise_capacity_once(app: App, clock: FakeClock) -> None:
    spike = SpikeRunbook()
    writes: list[str] = []
    for client in (app.clients().lambda_.client, app.clients().apigateway):
        client.meta.events.register(
            "before-call.*.*",
            lambda model, **_: (
                writes.append(model.name) if model.name in {"PutFunctionConcurrency", "UpdateStage"} else None
            ),
        )

    results = at_the_same_moment(app, clock, (spike, "latency-warning"), (spike, "concurrency-warning"))

    # Then both succeeded; capacity was raised once, and the second alarm found its change in place
    assert not any(isinstance(result, Exception) for result in results), results
    assert app.reserved_concurrency() == 200
    assert app.stage_cache() == (True, Decimal("1.6"))
    assert sorted(writes) == ["PutFunctionConcurrency", "UpdateStage"]
    events = app.audit_events()
    for action in ("set-reserved-concurrency", "set-stage-cache"):
        decided = sorted(
            (d["alarm"]["name"].rsplit("-", 2)[-2], d["outcome"], d["limit"]) for d in for_action(events, action)
        )
        assert decided == [("concurrency", "skipped", "only-raise"), ("latency", "applied", None)]


def test_a_completed_change_releases_its_lock_in_the_same_write_unless_it_was_taken_over(
    app: App, clock: FakeClock
) -> None:
    store = StateStore(app.dynamodb, app.table, clock=clock)
    lock = {"TableName": app.table, "Key": {"id": {"S": "lock#printapp-api"}}, "ConsistentRead": True}

    # Given a lock held by this state change: completing its change releases it too
    store.acquire_lock("printapp-api", "ours", ttl_seconds=60, wait_seconds=0)
    raise_to_200 = Completion(
        "set-reserved-concurrency", "printapp-api", {"reservedConcurrency": 200}, release_lock=True
    )
    assert store.complete_all("ours", [raise_to_200], lock_owner="ours") == {"printapp-api"}
    assert "Item" not in app.dynamodb.get_item(**lock)

    # Given one that expired and was taken over by another alarm: the change is still recorded,
    # and the other's lock is left alone
    store.acquire_lock("printapp-api", "ours", ttl_seconds=60, wait_seconds=0)
    clock.advance(120)
    store.acquire_lock("printapp-api", "theirs", ttl_seconds=60, wait_seconds=0)
    raise_to_300 = Completion(
        "set-reserved-concurrency", "printapp-api", {"reservedConcurrency": 300}, release_lock=True
    )
    assert store.complete_all("ours", [raise_to_300], lock_owner="ours") == set()
    assert app.dynamodb.get_item(**lock)["Item"]["owner"] == {"S": "theirs"}
    raised = store.last_raise("set-reserved-concurrency", "printapp-api")
    assert raised is not None
    assert raised.raised_to == {"reservedConcurrency": 300}


def test_a_run_takes_its_locks_all_or_none_and_completes_its_changes_in_one_write(app: App, clock: FakeClock) -> None:
    store = StateStore(app.dynamodb, app.table, clock=clock)

    def lock_owners() -> dict[str, str]:
        items = app.dynamodb.scan(TableName=app.table, ConsistentRead=True)["Items"]
        return {i["id"]["S"]: i["owner"]["S"] for i in items if i["id"]["S"].startswith("lock#")}

    # Given another alarm holds the stage: taking both locks at once takes neither
    store.acquire_lock("printapp-api/prod", "theirs", ttl_seconds=60, wait_seconds=0)
    with pytest.raises(LockHeld):
        store.acquire_locks(["printapp-api", "printapp-api/prod"], "ours", ttl_seconds=60)
    assert lock_owners() == {"lock#printapp-api/prod": "theirs"}

    # Given theirs expired: both are ours, in one write
    clock.advance(120)
    store.acquire_locks(["printapp-api", "printapp-api/prod"], "ours", ttl_seconds=60)
    assert lock_owners() == {"lock#printapp-api": "ours", "lock#printapp-api/prod": "ours"}

    # When ours expired meanwhile and another alarm took the stage over, and our run completes both changes
    clock.advance(120)
    store.acquire_lock("printapp-api/prod", "theirs", ttl_seconds=60, wait_seconds=0)
    released = store.complete_all(
        "ours",
        [
            Completion("set-reserved-concurrency", "printapp-api", {"reservedConcurrency": 200}, release_lock=True),
            Completion(
                "set-stage-cache",
                "printapp-api/prod",
                {"cacheClusterEnabled": True, "cacheClusterSize": "1.6"},
                release_lock=True,
            ),
        ],
        lock_owner="ours",
    )

    # Then both are recorded, our lock is gone, theirs is left alone
    assert released == {"printapp-api"}
    assert lock_owners() == {"lock#printapp-api/prod": "theirs"}
    concurrency = store.last_raise("set-reserved-concurrency", "printapp-api")
    cache = store.last_raise("set-stage-cache", "printapp-api/prod")
    assert concurrency is not None
    assert concurrency.raised_to == {"reservedConcurrency": 200}
    assert cache is not None
    assert cache.correlation_id == "ours"
    run = app.dynamodb.get_item(TableName=app.table, Key={"id": {"S": "run#ours"}}, ConsistentRead=True)["Item"]
    assert {"applied:set-reserved-concurrency", "applied:set-stage-cache"} <= set(run)


def test_locks_taken_with_a_raise_history_hold_only_while_it_is_as_read(app: App, clock: FakeClock) -> None:
    store = StateStore(app.dynamodb, app.table, clock=clock)
    concurrency = ("set-reserved-concurrency", "printapp-api")
    cache = ("set-stage-cache", "printapp-api/prod")
    raised = Completion(*concurrency, {"reservedConcurrency": 200})
    store.complete_all("a spike", [raised])
    read = store.last_raises([concurrency, cache])

    def locks() -> set[str]:
        items = app.dynamodb.scan(TableName=app.table, ConsistentRead=True)["Items"]
        return {item["id"]["S"] for item in items if item["id"]["S"].startswith("lock#")}

    # Given another spike raised the cache after the history was read: no lock is taken
    clock.advance(60)
    store.complete_all("another spike", [Completion(*cache, {"cacheClusterEnabled": True, "cacheClusterSize": "1.6"})])
    with pytest.raises(RaisesChanged):
        store.acquire_locks(["printapp-api", "printapp-api/prod"], "scale-down", ttl_seconds=60, raises_as_read=read)
    assert locks() == set()

    # Given the history read again, and a raise of the same value later: only the fresh read holds
    read = store.last_raises([concurrency, cache])
    clock.advance(60)
    store.complete_all("a third spike", [raised])
    with pytest.raises(RaisesChanged):
        store.acquire_locks(["printapp-api"], "scale-down", ttl_seconds=60, raises_as_read=read)
    read = store.last_raises([concurrency, cache])
    store.acquire_locks(["printapp-api", "printapp-api/prod"], "scale-down", ttl_seconds=60, raises_as_read=read)
    assert locks() == {"lock#printapp-api", "lock#printapp-api/prod"}


def test_a_warm_process_does_not_pile_handlers_onto_its_dynamodb_client(app: App, clock: FakeClock) -> None:
    # Given one process's client, as a warm Lambda container keeps it across invocations
    store = StateStore(app.dynamodb, app.table, clock=clock)
    events = app.dynamodb.meta.events
    handlers_before = len(list(events._emitter._handlers.prefix_search("request-created.dynamodb.GetItem")))

    # When a hundred alarm state changes are handled once each
    for n in range(100):
        store.once("scope", {"change": str(n)}, lambda: {"done": True}, ttl_seconds=3600)

    # Then the client runs as many handlers per request as after the first one
    handlers_after = len(list(events._emitter._handlers.prefix_search("request-created.dynamodb.GetItem")))
    assert handlers_after <= handlers_before + 1


def test_steps_locked_together_stop_at_a_target_the_run_already_holds() -> None:
    # Given a run's steps on the database, the API, the database again, the stage; the stage's
    # change of an earlier step is about to be applied (its lock held, its record not yet written)
    targets = ("db", "api", "db", "stage")
    steps = [SimpleNamespace(action=SimpleNamespace(target=lambda t=target: t)) for target in targets]

    # Then the first group is the steps up to the database's second step; and a group never
    # includes a target an acting step holds: its lock would go with that step's release, and
    # its raise record would be read before that step's change is recorded
    assert _distinct_targets(steps, busy=set()) == steps[:2]  # type: ignore[arg-type]
    assert _distinct_targets(steps[2:], busy={"stage"}) == steps[2:3]  # type: ignore[arg-type]
    assert _distinct_targets(steps[3:], busy={"stage"}) == []  # type: ignore[arg-type]
