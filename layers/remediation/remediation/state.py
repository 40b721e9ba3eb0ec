"""The state table: idempotency, run records, raise history, baselines, locks, storm breaker.

One DynamoDB table, partition key `id`, TTL attribute `expiration` (the Powertools idempotency
defaults), shared by every handler. TTL deletion is lazy (hours), so nothing here trusts that an
expired item is gone: every read compares timestamps itself.

Item ids:
- `idempotency#<handler>#<hash>`: Powertools idempotency records, one per alarm state change.
- `run#<correlation id>`: what the attempts at one alarm state change planned (`plan:<action>`)
  and applied (`applied:<action>`), so a retry sets what the first attempt planned, once; the
  alarm it answered. `run#<correlation id>~<n>`: the same for the verifier's round n, with the
  verdict its first attempt reached.
- `raise#<action>#<target>`: when an action last raised a target, and for which state change
  (cooldown and hysteresis; a retry of that same state change is not held by its own cooldown).
- `baseline#<action>#<target>`: the value before the first scale-up, restored by scale-down.
- `lock#<target>`: a lease held by one alarm state change (re-entrant for it), so two never act
  on one target at once.
- `storm#<window start>`: the set of state-change actions applied in the storm breaker's window.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError
from msgspec import Struct, field

from remediation.errors import LockHeld, StormBreakerTripped

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

#: Baselines wait for a scale-down; a month is long enough for any incident.
BASELINE_KEEP_SECONDS = 30 * 24 * 3600
#: Run records outlive the DLQ's retention (14 days), so a redriven alarm still meets its plan.
RUN_RECORD_KEEP_SECONDS = 15 * 24 * 3600
#: Waits between lock attempts; a lock is held for a few AWS calls.
_LOCK_BACKOFF_SECONDS = (0.1, 0.2, 0.4, 0.8, 1.6)
_BACKOFF_CAP = 2.0


class RaisesChanged(Exception):
    """A raise record changed between its read and the locks: what was decided from it is stale."""


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }


class FixedPlan(Struct, frozen=True):
    """What the first attempt at a state change planned for one action: every retry reuses it."""

    params: Mapping[str, Any]
    after: Mapping[str, Any]
    before: Mapping[str, Any]
    summary: str
    decision_id: str
    applied_at: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "params": self.params,
                "after": self.after,
                "before": self.before,
                "summary": self.summary,
                "decisionId": self.decision_id,
            },
            default=str,
        )

    @classmethod
    def from_item(cls, value: str, applied_at: float | None) -> FixedPlan:
        data = json.loads(value)
        return cls(data["params"], data["after"], data["before"], data["summary"], data["decisionId"], applied_at)


class RunRecord(Struct, frozen=True):
    """What earlier attempts at one alarm state change left: fixed plans, undelivered audit."""

    plans: Mapping[str, FixedPlan]
    undelivered: list[Any]
    #: Targets whose lock an earlier attempt held and could not release.
    unreleased: frozenset[str] = frozenset()
    #: The alarm notification the run acted on (what the verifier reports its checks against).
    alarm: Mapping[str, Any] | None = None
    #: The verifier's verdicts, by the decisionId checked, each fixed by its first attempt (a
    #: retry acts on the same one). The checks of one state change's decisions share the round.
    verdicts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class KeptBaseline(Struct, frozen=True):
    """A raise's baseline to keep: what the target held before it (`replace`: the kept one is stale)."""

    action: str
    target: str
    value: Mapping[str, Any]
    replace: bool = False


class Completion(Struct, frozen=True):
    """A change that took effect, as `StateStore.complete_all` records it."""

    action: str
    target: str
    #: What a raise raised the target to (None: not a raise).
    raised_to: Mapping[str, Any] | None
    #: A restore: the baseline it restored is used up.
    clear_baseline: bool = False
    #: A roll-back: no raise of this action on this target until then, and why.
    hold: tuple[float, str] | None = None
    release_lock: bool = False


class StormCount(Struct, frozen=True):
    """The storm breaker's count of a run's actions: their keys, in the settings' window."""

    keys: Sequence[str]
    window_seconds: int
    max_actions: int


class RaiseRecord(Struct, frozen=True):
    applied_at: float
    #: The alarm state change that raised it (its correlation id).
    correlation_id: str | None
    #: What it raised the target to (in the shape of the action's baseline).
    raised_to: Mapping[str, Any] | None = None
    #: Set when the verifier rolled this raise back: no raise of it until then, and why.
    held_until: float | None = None
    held_because: str | None = None


#: One Powertools persistence layer per client, table and TTL. Each one registers a user-agent
#: handler on the client it is given, and never removes it: one made per invocation would pile a
#: handler per invocation onto the process's cached client, run on every later DynamoDB call. (A
#: layer keeps the TTL of its first configuration; the key prefix it takes from every call.)
_PERSISTENCE: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], DynamoDBPersistenceLayer]] = (
    weakref.WeakKeyDictionary()
)


def _persistence(dynamodb: Any, table: str, ttl_seconds: int) -> DynamoDBPersistenceLayer:
    layers = _PERSISTENCE.setdefault(dynamodb, {})
    if (table, ttl_seconds) not in layers:
        layers[(table, ttl_seconds)] = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)
    return layers[(table, ttl_seconds)]


class StateStore:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock
        self._sleep = sleep

    def now(self) -> float:
        return self._clock()

    # --- idempotency ---------------------------------------------------------------------

    def once(
        self,
        scope: str,
        key: Mapping[str, str],
        work: Callable[[], dict[str, Any]],
        *,
        ttl_seconds: int,
        lambda_context: LambdaContext | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Run `work` once per `key` (Powertools idempotency). Returns (result, was_duplicate).

        If `work` raises, Powertools deletes the in-progress record, so Lambda's retry runs again.
        """
        replayed = False

        def note_replay(response: Any, idempotent_data: DataRecord) -> Any:
            nonlocal replayed
            replayed = True
            return response

        config = IdempotencyConfig(expires_after_seconds=ttl_seconds, response_hook=note_replay)
        if lambda_context is not None:
            config.register_lambda_context(lambda_context)
        persistence = _persistence(self._dynamodb, self._table, ttl_seconds)

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="state_change",
            persistence_store=persistence,
            config=config,
            key_prefix=f"idempotency#{scope}",
        )
        def run_once(state_change: dict[str, str]) -> dict[str, Any]:
            return work()

        result = run_once(state_change=dict(key))
        return result, replayed

    # --- run records: what one alarm state change planned, fixed for every retry ---------------

    def run_record(self, correlation_id: str) -> RunRecord:
        item = self._get(f"run#{correlation_id}") or {}
        plans = {}
        for attribute, value in item.items():
            if attribute.startswith("plan:"):
                action = attribute.removeprefix("plan:")
                applied = item.get(f"applied:{action}")
                plans[action] = FixedPlan.from_item(value["S"], float(applied["N"]) if applied else None)
        undelivered = json.loads(item["undelivered"]["S"]) if "undelivered" in item else []
        unreleased = frozenset(item["unreleased"]["SS"]) if "unreleased" in item else frozenset()
        alarm = json.loads(item["alarm"]["S"]) if "alarm" in item else None
        verdicts = {
            attribute.removeprefix("verdict:"): json.loads(value["S"])
            for attribute, value in item.items()
            if attribute.startswith("verdict:")
        }
        return RunRecord(plans, undelivered, unreleased, alarm, verdicts)

    def owe_lock_release(self, correlation_id: str, target: str) -> None:
        """A lock this state change could not release: the next attempt releases it."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": f"run#{correlation_id}"}},
            UpdateExpression="ADD unreleased :target SET expiration = :expiration",
            ExpressionAttributeValues={
                ":target": {"SS": [target]},
                ":expiration": {"N": str(int(self.now() + RUN_RECORD_KEEP_SECONDS))},
            },
        )

    def paid_lock_release(self, correlation_id: str, target: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": f"run#{correlation_id}"}},
            UpdateExpression="DELETE unreleased :target",
            ExpressionAttributeValues={":target": {"SS": [target]}},
        )

    def keep_undelivered(self, correlation_id: str, entries: list[Any]) -> None:
        """Audit entries an attempt could not deliver, for the next attempt to send first."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": f"run#{correlation_id}"}},
            UpdateExpression="SET undelivered = :entries, expiration = :expiration",
            ExpressionAttributeValues={
                ":entries": {"S": json.dumps(entries)},
                ":expiration": {"N": str(int(self.now() + RUN_RECORD_KEEP_SECONDS))},
            },
        )

    def forget_undelivered(self, correlation_id: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table, Key={"id": {"S": f"run#{correlation_id}"}}, UpdateExpression="REMOVE undelivered"
        )

    def fix_plan(
        self, correlation_id: str, action: str, plan: FixedPlan, *, alarm: Mapping[str, Any] | None = None
    ) -> FixedPlan:
        """Store the first attempt's plan, with the alarm it answers (for the verifier);
        if a plan is stored already, that one wins."""
        alarm_json = json.dumps(alarm, default=str) if alarm is not None else "null"
        if self._keep_first(correlation_id, f"plan:{action}", plan.to_json(), alarm=alarm_json):
            return plan
        return self.run_record(correlation_id).plans[action]

    def fix_verdict(self, scope: str, decision_id: str, verdict: Mapping[str, Any]) -> Mapping[str, Any]:
        """Store the verifier's first verdict on the check of one decision; if one is stored
        already, that one wins (a retry acts on what the first attempt judged, not on a second
        reading)."""
        if self._keep_first(scope, f"verdict:{decision_id}", json.dumps(verdict, default=str)):
            return verdict
        return self.run_record(scope).verdicts[decision_id]

    def _keep_first(self, scope: str, attribute: str, value: str, **if_unset: str) -> bool:
        """Set `attribute` of the run record unless an earlier attempt did (then False); the
        `if_unset` attributes are set only where missing."""
        keep = "".join(f", {name} = if_not_exists({name}, :{name})" for name in if_unset)
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": f"run#{scope}"}},
                UpdateExpression=f"SET #first = :first{keep}, expiration = :expiration",
                ConditionExpression="attribute_not_exists(#first)",
                ExpressionAttributeNames={"#first": attribute},
                ExpressionAttributeValues={
                    ":first": {"S": value},
                    **{f":{name}": {"S": text} for name, text in if_unset.items()},
                    ":expiration": {"N": str(int(self.now() + RUN_RECORD_KEEP_SECONDS))},
                },
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            return False
        return True

    def complete_all(
        self, correlation_id: str, completions: Sequence[Completion], *, lock_owner: str | None = None
    ) -> set[str]:
        """After changes took effect, in one transaction: their plans are applied; a raise is
        remembered, with what it raised to (cooldown, hysteresis, stale baselines); a restore
        consumes its baseline; and the targets' locks held by `lock_owner` are released.

        Returns the targets whose lock went with it: a lock that expired and was taken over
        since is not ours to delete, and then the rest is written without it (one more call,
        rarely)."""
        now = self.now()
        marks = dict.fromkeys(f"applied:{completion.action}" for completion in completions)  # one per action
        applied = {f"#a{index}": mark for index, mark in enumerate(marks)}
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"id": {"S": f"run#{correlation_id}"}},
                    "UpdateExpression": "SET "
                    + ", ".join(f"{name} = :now" for name in applied)
                    + ", expiration = :expiration",
                    "ExpressionAttributeNames": applied,
                    "ExpressionAttributeValues": {
                        ":now": {"N": repr(now)},
                        ":expiration": {"N": str(int(now + RUN_RECORD_KEEP_SECONDS))},
                    },
                }
            }
        ]
        for completion in completions:
            items += self._completing(correlation_id, completion, now)
        releases: dict[str, TransactWriteItemTypeDef] = {
            completion.target: {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"id": {"S": f"lock#{completion.target}"}},
                    "ConditionExpression": "attribute_not_exists(id) OR #owner = :owner",
                    "ExpressionAttributeNames": {"#owner": "owner"},
                    "ExpressionAttributeValues": {":owner": {"S": lock_owner}},
                }
            }
            for completion in completions
            if completion.release_lock and lock_owner is not None
        }
        try:
            self._dynamodb.transact_write_items(TransactItems=[*items, *releases.values()])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            taken_over = {
                target
                for target, reason in zip(releases, reasons[len(items) :], strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            if not taken_over:
                raise
            # Taken over after they expired: the bookkeeping is written, those locks left to their holders.
            releases = {target: release for target, release in releases.items() if target not in taken_over}
            self._dynamodb.transact_write_items(TransactItems=[*items, *releases.values()])
        return set(releases)

    def _completing(self, correlation_id: str, completion: Completion, now: float) -> list[TransactWriteItemTypeDef]:
        """What one completed change writes besides its run record's `applied:` mark."""
        action, target = completion.action, completion.target
        items: list[TransactWriteItemTypeDef] = []
        if completion.raised_to is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "id": {"S": f"raise#{action}#{target}"},
                            "appliedAt": {"N": repr(now)},
                            "correlationId": {"S": correlation_id},
                            "raisedTo": {"S": json.dumps(completion.raised_to, sort_keys=True, default=str)},
                            # As long as the baseline it can tell is stale.
                            "expiration": {"N": str(int(now + BASELINE_KEEP_SECONDS))},
                        },
                    }
                }
            )
        if completion.hold is not None:
            # A raise the verifier rolled back is not made again by the next alarm that asks.
            until, because = completion.hold
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"id": {"S": f"raise#{action}#{target}"}},
                        "UpdateExpression": "SET heldUntil = :until, heldBecause = :because, expiration = :expiration",
                        "ExpressionAttributeValues": {
                            ":until": {"N": repr(until)},
                            ":because": {"S": because},
                            ":expiration": {"N": str(int(max(until, now) + BASELINE_KEEP_SECONDS))},
                        },
                    }
                }
            )
        if completion.clear_baseline:
            items.append({"Delete": {"TableName": self._table, "Key": {"id": {"S": f"baseline#{action}#{target}"}}}})
        return items

    # --- approval requests (manual mode) -------------------------------------------------

    def save_approval_request(self, decision_id: str, request: Mapping[str, Any], *, ttl_seconds: int) -> None:
        """The exact plan a human is asked to approve, under `approval#<decisionId>`."""
        now = self.now()
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "id": {"S": f"approval#{decision_id}"},
                "request": {"S": json.dumps(request, default=str)},
                "requestedAt": {"N": repr(now)},
                "expiration": {"N": str(int(now + ttl_seconds))},
            },
            ConditionExpression="attribute_not_exists(id)",
        )

    def approval_request(self, decision_id: str) -> dict[str, Any] | None:
        """The request, or None when there is none or it expired (TTL deletion is lazy)."""
        item = self._get(f"approval#{decision_id}")
        if item is None or float(item["expiration"]["N"]) < self.now():
            return None
        return json.loads(item["request"]["S"])  # type: ignore[no-any-return]

    # --- raise history: cooldown and hysteresis ------------------------------------------

    def last_raise(self, action: str, target: str) -> RaiseRecord | None:
        return _raise_record(self._get(f"raise#{action}#{target}"))

    def last_raises(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RaiseRecord | None]:
        """`last_raise` of each (action, target), in one read."""
        found = self._get_many([f"raise#{action}#{target}" for action, target in keys])
        return {(action, target): _raise_record(found.get(f"raise#{action}#{target}")) for action, target in keys}

    def histories(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[RaiseRecord | None, dict[str, Any] | None]]:
        """`last_raise` and `baseline` of each (action, target), in one read."""
        found = self._get_many(
            [f"{kind}#{action}#{target}" for action, target in keys for kind in ("raise", "baseline")]
        )
        return {
            (action, target): (
                _raise_record(found.get(f"raise#{action}#{target}")),
                _baseline_value(found.get(f"baseline#{action}#{target}")),
            )
            for action, target in keys
        }

    def _get_many(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Items by id, in one consistent BatchGetItem (at most 100 ids); what it leaves
        unprocessed is read on its own."""
        found: dict[str, Mapping[str, Any]] = {}
        keys = [{"id": {"S": item_id}} for item_id in dict.fromkeys(ids)]
        response: dict[str, Any] = self._dynamodb.batch_get_item(  # type: ignore[assignment]
            RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
        )
        for item in response.get("Responses", {}).get(self._table, []):
            found[item["id"]["S"]] = item
        for key in response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []):
            item_id = str(key["id"]["S"])
            if (unprocessed := self._get(item_id)) is not None:
                found[item_id] = unprocessed
        return found

    # --- baselines -----------------------------------------------------------------------

    def baseline(self, action: str, target: str) -> dict[str, Any] | None:
        return _baseline_value(self._get(f"baseline#{action}#{target}"))

    def record_baseline(self, action: str, target: str, value: Mapping[str, Any], *, replace: bool = False) -> None:
        """Keep the value from before the FIRST scale-up; later scale-ups must not overwrite it
        (`replace`: the recorded one is stale, and this value takes its place)."""
        self._dynamodb.update_item(**self._baseline_update(KeptBaseline(action, target, value, replace), self.now()))

    def _baseline_update(self, kept: KeptBaseline, now: float) -> dict[str, Any]:
        """The baseline's write, on its own or in a run's transaction: `if_not_exists` keeps the
        first scale-up's value without failing (a transaction with it still goes through)."""
        values = (
            (":value", ":now", ":expiration")
            if kept.replace
            else (
                "if_not_exists(#value, :value)",
                "if_not_exists(recordedAt, :now)",
                "if_not_exists(expiration, :expiration)",
            )
        )
        return {
            "TableName": self._table,
            "Key": {"id": {"S": f"baseline#{kept.action}#{kept.target}"}},
            "UpdateExpression": "SET #value = {}, recordedAt = {}, expiration = {}".format(*values),
            "ExpressionAttributeNames": {"#value": "value"},
            "ExpressionAttributeValues": {
                ":value": {"S": json.dumps(kept.value, default=str)},
                ":now": {"N": repr(now)},
                ":expiration": {"N": str(int(now + BASELINE_KEEP_SECONDS))},
            },
        }

    # --- locks ---------------------------------------------------------------------------

    def acquire_lock(self, target: str, owner: str, *, ttl_seconds: int, wait_seconds: float) -> None:
        """A lease on `target` for `owner` (an alarm state change; re-entrant for it).

        While another owner holds it, wait up to `wait_seconds`, then raise `LockHeld`: the
        invocation fails and Lambda delivers the alarm again later, so nothing is dropped.
        """
        waited = 0.0
        attempt = 0
        while True:
            try:
                self._dynamodb.put_item(**self._lock_put(target, owner, ttl_seconds))
            except ClientError as error:
                if not _is_conditional_failure(error):
                    raise
            else:
                return
            if waited >= wait_seconds:
                raise LockHeld(
                    f"another remediation is acting on {target} (waited {waited:g} s); "
                    "failing so Lambda delivers this alarm again later"
                )
            backoff = _LOCK_BACKOFF_SECONDS[attempt] if attempt < len(_LOCK_BACKOFF_SECONDS) else _BACKOFF_CAP
            delay = min(backoff, wait_seconds - waited)
            self._sleep(delay)
            waited += delay
            attempt += 1

    def acquire_locks(
        self,
        targets: Sequence[str],
        owner: str,
        *,
        ttl_seconds: int,
        raises_as_read: Mapping[tuple[str, str], RaiseRecord | None] | None = None,
    ) -> None:
        """The leases on all of `targets` in one transaction, or none: no waiting. When one is
        held by another owner (`LockHeld`) or the write fails, the caller takes them one by one,
        each with `acquire_lock`'s wait (re-entrant, so a lease this wrote is found as its own).

        `raises_as_read`: raise records, by (action, target), read before the locks; the same
        transaction holds only if each is still as read (`RaisesChanged` otherwise), so what
        was decided from them need not read them again."""
        checks = [
            self._unchanged(action, target, record) for (action, target), record in (raises_as_read or {}).items()
        ]
        items: list[TransactWriteItemTypeDef] = [
            {"Put": self._lock_put(target, owner, ttl_seconds)}  # type: ignore[typeddict-item]
            for target in targets
        ]
        items += [{"ConditionCheck": check} for check in checks]  # type: ignore[typeddict-item]
        try:
            self._dynamodb.transact_write_items(TransactItems=items)
        except ClientError as error:
            failed = [
                reason.get("Code") == "ConditionalCheckFailed"
                for reason in error.response.get("CancellationReasons") or []
            ]
            if any(failed[: len(targets)]):
                raise LockHeld(f"another remediation holds one of {', '.join(targets)}") from error
            if any(failed[len(targets) :]):
                raise RaisesChanged("a raise record changed since it was read") from error
            raise

    def _unchanged(self, action: str, target: str, record: RaiseRecord | None) -> dict[str, Any]:
        """A ConditionCheck: the raise record is the one read. Every write of one sets a new
        `appliedAt` (a raise) or `heldUntil` (the verifier's roll-back)."""
        check: dict[str, Any] = {"TableName": self._table, "Key": {"id": {"S": f"raise#{action}#{target}"}}}
        if record is None:
            return check | {"ConditionExpression": "attribute_not_exists(id)"}
        held = "heldUntil = :until" if record.held_until is not None else "attribute_not_exists(heldUntil)"
        values = {":at": {"N": repr(record.applied_at)}}
        if record.held_until is not None:
            values[":until"] = {"N": repr(record.held_until)}
        return check | {"ConditionExpression": f"appliedAt = :at AND {held}", "ExpressionAttributeValues": values}

    def _lock_put(self, target: str, owner: str, ttl_seconds: int) -> dict[str, Any]:
        now = self.now()
        return {
            "TableName": self._table,
            "Item": {
                "id": {"S": f"lock#{target}"},
                "owner": {"S": owner},
                "expiration": {"N": str(int(now + ttl_seconds))},
            },
            # Free, abandoned (its holder died: expired), or already ours (a retry).
            "ConditionExpression": "attribute_not_exists(id) OR expiration < :now OR #owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":now": {"N": str(int(now))}, ":owner": {"S": owner}},
        }

    def release_lock(self, target: str, owner: str) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={"id": {"S": f"lock#{target}"}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):  # taken over after it expired: not ours to delete
                raise

    # --- storm breaker -------------------------------------------------------------------

    def _storm_window(self, window_seconds: int) -> int:
        now = self.now()
        return int(now // window_seconds * window_seconds) if window_seconds else int(now)

    def consume_storm_budget(self, key: str, *, window_seconds: int, max_actions: int, enforce: bool = True) -> None:
        """Count one applied action (`key`: state change and action) in the current window.

        Idempotent per key, so a retry is not counted twice; past the budget, escalate instead.
        `enforce=False` only counts: for a change found already made (it was applied).
        """
        if not enforce:
            window_start = self._storm_window(window_seconds)
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": f"storm#{window_start}"}},
                UpdateExpression="ADD actions :keys SET expiration = :expiration",
                ExpressionAttributeValues={
                    ":keys": {"SS": [key]},
                    ":expiration": {"N": str(window_start + 2 * window_seconds)},
                },
            )
            return
        try:
            self._dynamodb.update_item(**self._storm_count(StormCount([key], window_seconds, max_actions)))
        except ClientError as error:
            if _is_conditional_failure(error):
                raise StormBreakerTripped(
                    f"storm breaker: {max_actions} actions already applied in this {window_seconds}s window; "
                    "a human should look before anything else changes"
                ) from error
            raise

    def _storm_count(self, count: StormCount) -> dict[str, Any]:
        """The update that counts the keys in the current window when it has room for all of them,
        or finds all of them counted already (a retry)."""
        keys, window_seconds, max_actions = count.keys, count.window_seconds, count.max_actions
        if len(keys) > max_actions:  # an empty window (no `actions` yet) would take them all
            raise StormBreakerTripped(f"storm breaker: {len(keys)} actions are more than {max_actions} per window")
        window_start = self._storm_window(window_seconds)
        names = {f":k{index}": {"S": key} for index, key in enumerate(keys)}
        every_one_counted = " AND ".join(f"contains(actions, {name})" for name in names)
        return {
            "TableName": self._table,
            "Key": {"id": {"S": f"storm#{window_start}"}},
            "UpdateExpression": "ADD actions :keys SET expiration = :expiration",
            "ConditionExpression": (
                f"attribute_not_exists(actions) OR size(actions) <= :room OR ({every_one_counted})"
            ),
            "ExpressionAttributeValues": {
                ":keys": {"SS": list(keys)},
                ":expiration": {"N": str(window_start + 2 * window_seconds)},
                ":room": {"N": str(max_actions - len(keys))},
                **names,
            },
        }

    def fix_plans(
        self,
        correlation_id: str,
        plans: Mapping[str, FixedPlan],
        *,
        alarm: Mapping[str, Any] | None,
        baselines: Sequence[KeptBaseline],
        storm: StormCount,
    ) -> None:
        """Before a run's changes, in one transaction: the storm breaker counts them (room for
        all, or all counted by an earlier attempt), the baselines of its raises are kept (the
        first one, unless it is stale) and its plans are fixed (none may be fixed already).

        All or nothing. When it raises (no room for all, a plan fixed meanwhile, the write
        failed) nothing of it was written, or all of it was and the answer was lost: the caller
        then takes the steps one by one, each of which finds what is written already."""
        now = self.now()
        items: list[TransactWriteItemTypeDef] = [
            {"Update": self._storm_count(storm)},  # type: ignore[typeddict-item]
            *({"Update": self._baseline_update(kept, now)} for kept in baselines),  # type: ignore[list-item]
        ]
        if plans:
            names = {f"#p{index}": f"plan:{action}" for index, action in enumerate(plans)}
            fixed = {f":p{index}": {"S": plan.to_json()} for index, plan in enumerate(plans.values())}
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"id": {"S": f"run#{correlation_id}"}},
                        "UpdateExpression": "SET "
                        + ", ".join(f"{name} = :{name[1:]}" for name in names)
                        + ", alarm = if_not_exists(alarm, :alarm), expiration = :expiration",
                        "ConditionExpression": " AND ".join(f"attribute_not_exists({name})" for name in names),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {
                            **fixed,
                            ":alarm": {"S": json.dumps(alarm, default=str) if alarm is not None else "null"},
                            ":expiration": {"N": str(int(now + RUN_RECORD_KEEP_SECONDS))},
                        },
                    }
                }
            )
        self._dynamodb.transact_write_items(TransactItems=items)

    def release_storm_budget(self, key: str, *, window_seconds: int) -> None:
        """Give back what `consume_storm_budget` took for an action that was not applied."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": f"storm#{self._storm_window(window_seconds)}"}},
            UpdateExpression="DELETE actions :key",
            ExpressionAttributeValues={":key": {"SS": [key]}},
        )

    def _get(self, item_id: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(TableName=self._table, Key={"id": {"S": item_id}}, ConsistentRead=True)
        return response.get("Item")


def _raise_record(item: Mapping[str, Any] | None) -> RaiseRecord | None:
    if not item:
        return None
    correlation, raised_to = item.get("correlationId"), item.get("raisedTo")
    held_until, held_because = item.get("heldUntil"), item.get("heldBecause")
    return RaiseRecord(
        float(item["appliedAt"]["N"]),
        correlation["S"] if correlation else None,
        json.loads(raised_to["S"]) if raised_to else None,
        float(held_until["N"]) if held_until else None,
        held_because["S"] if held_because else None,
    )


def _baseline_value(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return json.loads(item["value"]["S"]) if item else None
