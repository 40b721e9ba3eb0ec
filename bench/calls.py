"""Recording every AWS API call, with the resource it touches (botocore event hooks).

Like tests/support/audit.py `CallRecorder`, one `before-call` hook per client counts each API
call once (botocore's retries happen below it). A `before-parameter-build` hook keeps the call's
parameters, so the report can say which resource each call read or wrote.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

READ_PREFIXES = ("Get", "BatchGet", "Describe", "List")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    resource: str
    #: What a read reads, one name per resource: a batch read names each state item it reads.
    reads: tuple[str, ...] = ()

    @property
    def is_read(self) -> bool:
        return self.operation.startswith(READ_PREFIXES)

    def __str__(self) -> str:
        return f"{self.operation}({self.resource})" if self.resource else self.operation


def _state_item(params: dict[str, Any]) -> str:
    key = params.get("Key") or params.get("Item") or {}
    item_id = str(key.get("id", {}).get("S", "?"))
    # Powertools idempotency ids end in a hash; the prefix says what they are.
    return item_id.split("#", maxsplit=1)[0] + "#…" if item_id.startswith("idempotency#") else item_id


def resource_of(operation: str, params: dict[str, Any]) -> str:  # noqa: PLR0911
    """A short name of the resource a call touches."""
    if "FunctionName" in params:
        return str(params["FunctionName"])
    if "restApiId" in params:
        return f"{params['restApiId']}/{params.get('stageName', '')}"
    if "DBInstanceIdentifier" in params:
        return str(params["DBInstanceIdentifier"])
    if operation in {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}:
        return _state_item(params)
    if operation == "DescribeAlarms":
        names = params.get("AlarmNames")
        return ",".join(names) if names else f"StateValue={params.get('StateValue', '*')}"
    if operation == "GetMetricData":
        return ",".join(q["Id"] for q in params.get("MetricDataQueries", []))
    if operation == "PutEvents":
        return f"{len(params.get('Entries', []))} entries"
    if operation == "GetParameter":
        return str(params.get("Name", ""))
    if operation == "GetAccountSettings":
        return "account"
    if operation.endswith("Schedule"):
        return str(params.get("Name", ""))
    if operation in {"TransactWriteItems", "BatchGetItem"}:
        return _state_kinds(params)
    return ""


def _state_kinds(params: dict[str, Any]) -> str:
    """What kinds of state-table item a transaction or batch read touches: `storm,baseline×2,run`;
    an item a transaction only checks is `raise unchanged`."""
    kinds = Counter(
        _kind(write) + (" unchanged" if how == "ConditionCheck" else "")
        for item in params.get("TransactItems", [])
        for how, write in item.items()
    )
    kinds.update(
        str(key["id"]["S"]).split("#", maxsplit=1)[0]
        for table in params.get("RequestItems", {}).values()
        for key in table["Keys"]
    )
    return ",".join(kind if n == 1 else f"{kind}×{n}" for kind, n in kinds.items())


def _kind(write: dict[str, Any]) -> str:
    return str((write.get("Key") or write.get("Item") or {}).get("id", {}).get("S", "?")).split("#", maxsplit=1)[0]


class CallLog:
    """Every API call made through the clients it is attached to, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}
        self._attached: set[int] = set()
        self._started: list[float] = []
        #: Seconds spent inside API calls (request, moto's answer, parsing), summed.
        self.seconds = 0.0

    def attach(self, *clients: Any) -> CallLog:
        for given in clients:
            client = getattr(given, "client", given)  # unwrap a fake around a real client
            if id(client) in self._attached:
                continue
            self._attached.add(id(client))
            events = client.meta.events
            events.register_first("before-parameter-build.*.*", self._params)
            events.register_first("before-call.*.*", self._call)
            events.register_last("after-call.*.*", self._done)
        return self

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending[id(model)] = (model.name, dict(params))

    def _call(self, model: Any, **_: Any) -> None:
        name, params = self._pending.pop(id(model), (model.name, {}))
        service = model.service_model.service_id.hyphenize()
        call = Call(service, model.name, resource_of(name, params))
        if call.is_read:
            batch = [str(key["id"]["S"]) for table in params.get("RequestItems", {}).values() for key in table["Keys"]]
            call = Call(call.service, call.operation, call.resource, tuple(batch) or (str(call),))
        self.calls.append(call)
        self._started.append(time.perf_counter())

    def _done(self, **_: Any) -> None:
        if self._started:
            self.seconds += time.perf_counter() - self._started.pop()

    def clear(self) -> None:
        self.calls.clear()
        self.seconds = 0.0

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls


def repeated_reads(calls: list[Call]) -> dict[str, int]:
    """Resources read more than once: by the same operation, or a state item read on its own
    (`GetItem(raise#…)`) and in a batch (`BatchGetItem(raise×2)`) alike."""
    counts = Counter(
        f"GetItem({name})" if call.operation == "BatchGetItem" else name
        for call in calls
        if call.is_read
        for name in call.reads
    )
    return {call: n for call, n in counts.items() if n > 1}


def count_operations(calls: list[Call]) -> Counter[str]:
    return Counter(call.operation for call in calls)
