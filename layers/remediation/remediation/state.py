"""The state table: idempotency, raise history (cooldowns, hysteresis), baselines, locks, storm.

One DynamoDB table, partition key `id`, TTL attribute `expiration` (the Powertools idempotency
defaults), shared by every handler. TTL deletion is lazy (hours), so nothing here trusts that an
expired item is gone: every read compares timestamps itself.

Item ids:
- `idempotency#<handler>#<hash>`: Powertools idempotency records, one per alarm state change.
- `raise#<action>#<target>`: when an action last raised a target (cooldown and hysteresis).
- `baseline#<action>#<target>`: the value before the first scale-up, restored by scale-down.
- `lock#<target>`: a short conditional-write lease, so two handlers never act on one target at once.
- `storm#<window start>`: applied actions in the storm breaker's window.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError

from remediation.errors import LockHeld, StormBreakerTripped

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

#: Baselines wait for a scale-down; a month is long enough for any incident.
BASELINE_KEEP_SECONDS = 30 * 24 * 3600


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class StateStore:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock

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
        persistence = DynamoDBPersistenceLayer(table_name=self._table, boto3_client=self._dynamodb)

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

    # --- raise history: cooldown and hysteresis ------------------------------------------

    def last_raise(self, action: str, target: str) -> float | None:
        item = self._get(f"raise#{action}#{target}")
        return float(item["appliedAt"]["N"]) if item else None

    def record_raise(self, action: str, target: str, *, keep_seconds: int) -> None:
        now = self.now()
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "id": {"S": f"raise#{action}#{target}"},
                "appliedAt": {"N": repr(now)},
                "expiration": {"N": str(int(now + keep_seconds))},
            },
        )

    # --- baselines -----------------------------------------------------------------------

    def baseline(self, action: str, target: str) -> dict[str, Any] | None:
        item = self._get(f"baseline#{action}#{target}")
        return json.loads(item["value"]["S"]) if item else None  # type: ignore[no-any-return]

    def record_baseline(self, action: str, target: str, value: Mapping[str, Any]) -> bool:
        """Keep the value from before the FIRST scale-up; later scale-ups must not overwrite it."""
        now = self.now()
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": f"baseline#{action}#{target}"},
                    "value": {"S": json.dumps(value, default=str)},
                    "recordedAt": {"N": repr(now)},
                    "expiration": {"N": str(int(now + BASELINE_KEEP_SECONDS))},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def clear_baseline(self, action: str, target: str) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key={"id": {"S": f"baseline#{action}#{target}"}})

    # --- locks ---------------------------------------------------------------------------

    @contextmanager
    def lock(self, target: str, *, ttl_seconds: int) -> Iterator[str]:
        """A lease on `target`: a second holder gets `LockHeld` instead of acting too."""
        owner = str(uuid.uuid4())
        now = self.now()
        key = {"id": {"S": f"lock#{target}"}}
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={**key, "owner": {"S": owner}, "expiration": {"N": str(int(now + ttl_seconds))}},
                # A lease whose holder died (expired) may be taken over.
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                raise LockHeld(f"another remediation is acting on {target} right now") from error
            raise
        try:
            yield owner
        finally:
            try:
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=key,
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except ClientError as error:
                if not _is_conditional_failure(error):
                    raise

    # --- storm breaker -------------------------------------------------------------------

    def consume_storm_budget(self, *, window_seconds: int, max_actions: int) -> int:
        """Count one applied action in the current window; past the budget, escalate instead."""
        now = self.now()
        window_start = int(now // window_seconds * window_seconds) if window_seconds else int(now)
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": f"storm#{window_start}"}},
                UpdateExpression="ADD actions :one SET expiration = :expiration",
                ConditionExpression="attribute_not_exists(actions) OR actions < :max",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":max": {"N": str(max_actions)},
                    ":expiration": {"N": str(window_start + 2 * window_seconds)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                raise StormBreakerTripped(
                    f"storm breaker: {max_actions} actions already applied in this {window_seconds}s window; "
                    "a human should look before anything else changes"
                ) from error
            raise
        return int(response["Attributes"]["actions"]["N"])

    def _get(self, item_id: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(TableName=self._table, Key={"id": {"S": item_id}}, ConsistentRead=True)
        return response.get("Item")  # type: ignore[return-value]
