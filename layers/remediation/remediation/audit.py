"""The audit trail (SPEC §5): one EventBridge event per decision, never silently lost.

Events of one invocation are collected and sent together (PutEvents takes at most 10 entries
a call). Entries that EventBridge reports as failed are retried with backoff; whatever still
cannot be delivered is written to the log in full and raised as `AuditDeliveryError`, so the
invocation fails and Lambda's retries and DLQ keep the alarm.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct, field

from remediation.contract import (
    SCHEMA_VERSION,
    SOURCE,
    ActionDetail,
    AlarmDetail,
    ApprovalDetail,
    DecisionDetail,
    VerifiesDetail,
)
from remediation.errors import AlarmRejected, AuditDeliveryError, Limit, Outcome
from remediation.validation import ValidationError, as_json, validated

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

    from remediation.alarm import AlarmNotification

logger = Logger()
metrics = Metrics()

#: PutEvents limits: 10 entries and 256 KiB a call (an entry counts its Detail, Source, DetailType).
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
#: What one decision's Detail may take, leaving room for the rest of its entry.
MAX_DETAIL_BYTES = 240 * 1024
#: Namespace for correlation ids: every event of one alarm state change shares one.
_CORRELATION_NAMESPACE = uuid.UUID("6f1c3c1e-4a59-4c59-9f61-7d0a6d3b8a10")


class ActionRef(Struct, frozen=True):
    name: str
    target: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


class Decision(Struct, frozen=True):
    """What was decided about one alarm (and one action, when there is one)."""

    outcome: Outcome
    reason: str
    action: ActionRef | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    limit: Limit | None = None
    level: str | None = None
    evidence: Mapping[str, Any] | None = None
    #: Set when the engine needs to know it before recording (a fixed plan names its decision).
    decision_id: str | None = None
    #: (request decisionId, approver) for the approval handler's decisions.
    approval: tuple[str, str] | None = None
    #: (decisionId, action, round) of the applied decision the verifier checked.
    verifies: tuple[str, str, int] | None = None


def correlation_id_for(alarm: AlarmNotification | None, fallback: str | None = None) -> str:
    if alarm is not None and alarm.arn:
        key = json.dumps(alarm.state_change_key, sort_keys=True)
        return str(uuid.uuid5(_CORRELATION_NAMESPACE, key))
    return fallback or str(uuid.uuid4())


def _alarm_detail(alarm: AlarmNotification | None, rejected: AlarmRejected | None) -> AlarmDetail | None:
    if alarm is None:
        if rejected is None or not rejected.alarm_name:
            return None
        return AlarmDetail(
            name=rejected.alarm_name,
            arn=None,
            state=None,
            previousState=None,
            reason=None,
            namespace=None,
            metricName=None,
            threshold=None,
            stateChangeTime=None,
        )
    metrics_ = alarm.metrics
    trigger = alarm.Trigger
    namespaces = {m.namespace for m in metrics_}
    if trigger is not None and trigger.is_metric_math:
        metric_name = trigger.expression_label
    else:
        metric_name = metrics_[0].metric_name if metrics_ else None
    return AlarmDetail(
        name=alarm.name,
        arn=alarm.arn or None,
        state=alarm.state,
        previousState=alarm.OldStateValue,
        reason=alarm.NewStateReason or None,
        namespace=namespaces.pop() if len(namespaces) == 1 else None,
        metricName=metric_name,
        threshold=alarm.threshold,
        # RFC 3339 for subscribers; CloudWatch writes "+0000".
        stateChangeTime=alarm.changed_at.isoformat(timespec="milliseconds"),
    )


def _size(value: Any) -> int:
    # ASCII JSON (non-ASCII escaped): its length is its size in bytes, whatever the input held.
    return len(json.dumps(value, default=_json_default))


Path = tuple[str | int, ...]


def _longest_string(node: Any, path: Path = ()) -> tuple[Path, str] | None:
    """(path, value) of the longest string in a JSON-like tree, by its encoded size."""
    if isinstance(node, str):
        return path, node
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    found = [leaf for key, child in children if (leaf := _longest_string(child, (*path, key)))]
    return max(found, key=lambda leaf: _size(leaf[1]), default=None)


def _fit(detail: dict[str, Any]) -> dict[str, Any]:
    """Keep a detail under EventBridge's entry limit: cut its longest strings, and say which."""
    cut: list[str] = []
    while (excess := _size(detail) - MAX_DETAIL_BYTES) > 0:
        found = _longest_string(detail)
        if found is None or not found[0]:
            break
        path, text = found
        # Escaping makes a character up to 6 bytes: cutting `excess` characters covers the excess.
        keep = max(0, len(text) - excess - 64)
        parent: Any = detail
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = text[:keep] + f"… [{len(text) - keep} characters cut]"
        cut.append("".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip("."))
    if cut:
        detail["truncated"] = sorted(set(cut))
    return detail


def _source_of(rejected: AlarmRejected | None) -> dict[str, Any] | None:
    """Where a rejected notification came from: what an engineer needs to find its sender."""
    if rejected is None or not (rejected.topic_arn or rejected.message_id):
        return None
    return {"topicArn": rejected.topic_arn, "messageId": rejected.message_id}


def _json_default(value: object) -> object:
    # Decimal cache sizes and datetimes are the only non-JSON values decisions carry.
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if not isinstance(value, (int, float)) else value


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))


class AuditPublisher:
    """Sends audit events to the bus: batched, partial failures retried, never silently dropped."""

    def __init__(
        self,
        events: EventBridgeClient,
        bus_name: str,
        *,
        max_attempts: int = 4,
        backoff_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._events = events
        self._bus_name = bus_name
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def entry(self, detail: Mapping[str, Any], resources: list[str]) -> PutEventsRequestEntryTypeDef:
        return {
            "Source": SOURCE,
            "DetailType": Outcome(detail["outcome"]).detail_type,
            "Detail": json.dumps(detail, default=_json_default),
            "EventBusName": self._bus_name,
            "Resources": resources,
        }

    def publish(self, entries: list[PutEventsRequestEntryTypeDef]) -> None:
        undelivered: list[PutEventsRequestEntryTypeDef] = []
        for batch in _batches(entries):
            undelivered.extend(self._send_with_retries(batch))
        if undelivered:
            for lost in undelivered:
                # The event is in the log in full: recoverable by anyone who reads it.
                logger.error("audit event not delivered", extra={"auditEntry": lost})
            raise AuditDeliveryError(
                f"{len(undelivered)} of {len(entries)} audit events could not be delivered to {self._bus_name}",
                undelivered,
            )

    def _send_with_retries(self, batch: list[PutEventsRequestEntryTypeDef]) -> list[PutEventsRequestEntryTypeDef]:
        pending = batch
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._events.put_events(Entries=pending)
            except (ClientError, BotoCoreError) as error:
                # botocore already retried throttling and 5xx; keep trying the whole batch.
                logger.warning("PutEvents failed", extra={"attempt": attempt, "error": str(error)})
                failed = pending
            else:
                if not response.get("FailedEntryCount"):
                    return []
                failed = [
                    entry
                    for entry, result in zip(pending, response["Entries"], strict=False)
                    if result.get("ErrorCode")
                ]
                logger.warning(
                    "PutEvents partial failure",
                    extra={
                        "attempt": attempt,
                        "failed": len(failed),
                        "errors": sorted({r.get("ErrorCode", "") for r in response["Entries"] if r.get("ErrorCode")}),
                    },
                )
            pending = failed
            if attempt < self._max_attempts:
                self._sleep(self._backoff_seconds * 2 ** (attempt - 1))
        return pending


def _batches(entries: list[PutEventsRequestEntryTypeDef]) -> list[list[PutEventsRequestEntryTypeDef]]:
    batches: list[list[PutEventsRequestEntryTypeDef]] = []
    current: list[PutEventsRequestEntryTypeDef] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["Detail"].encode()) + len(entry["DetailType"]) + len(entry["Source"])
        if current and (len(current) == MAX_BATCH_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        batches.append(current)
    return batches


class AuditTrail:
    """The decisions of one invocation: recorded as they are made, sent together at the end."""

    def __init__(self, publisher: AuditPublisher, handler: str, *, dry_run: bool) -> None:
        self._publisher = publisher
        self.handler = handler
        self._dry_run = dry_run
        self._pending: list[PutEventsRequestEntryTypeDef] = []
        self.details: list[dict[str, Any]] = []

    def record(
        self,
        decision: Decision,
        *,
        alarm: AlarmNotification | None = None,
        rejected: AlarmRejected | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "decisionId": decision.decision_id or str(uuid.uuid4()),
            "correlationId": correlation_id or correlation_id_for(alarm, rejected.message_id if rejected else None),
            "handler": self.handler,
            "alarm": _alarm_detail(alarm, rejected),
            "action": ActionDetail(
                name=decision.action.name,
                target=decision.action.target,
                parameters=_as_json(dict(decision.action.parameters)),
            )
            if decision.action
            else None,
            "before": _as_json(decision.before) if decision.before is not None else None,
            "after": _as_json(decision.after) if decision.after is not None else None,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "limit": decision.limit,
            "level": decision.level,
            "evidence": _as_json(decision.evidence) if decision.evidence is not None else _source_of(rejected),
            "dryRun": self._dry_run,
            "approval": ApprovalDetail(requestDecisionId=decision.approval[0], approver=decision.approval[1])
            if decision.approval
            else None,
            "verifies": VerifiesDetail(
                decisionId=decision.verifies[0], action=decision.verifies[1], round=decision.verifies[2]
            )
            if decision.verifies
            else None,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        detail: dict[str, Any] = as_json(DecisionDetail(**fields))
        try:
            validated(detail, DecisionDetail)
        except ValidationError:
            # A bug, or input the edge let through: the event still goes out, and the log says why.
            logger.exception("audit detail does not fit the contract", extra={"reason": decision.reason[:1000]})
        detail.pop("truncated")  # set by _fit, only when something was cut
        for optional in ("approval", "verifies"):
            if detail[optional] is None:
                detail.pop(optional)
        detail = _fit(detail)
        resources = [arn for arn in (alarm.arn if alarm else None,) if arn]
        self._pending.append(self._publisher.entry(detail, resources))
        self.details.append(detail)
        log = logger.warning if decision.outcome in (Outcome.FAILED, Outcome.REJECTED) else logger.info
        log(f"{decision.outcome.detail_type}: {detail['reason']}", extra={"decision": detail})
        try:
            metrics.add_metric(name=decision.outcome.detail_type.replace(" ", ""), unit=MetricUnit.Count, value=1)
        except Exception:  # a metric is for dashboards: it never costs a decision its audit event
            logger.exception("could not add the decision metric")
        return detail

    def capacity(self, values: Mapping[str, float]) -> None:
        """The app's capacity after an applied change, as metrics for the dashboard."""
        for name, value in values.items():
            try:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            except Exception:  # a metric is for dashboards: it never costs a decision anything
                logger.exception("could not add the capacity metric", extra={"metric": name})

    def resend(self, entries: list[PutEventsRequestEntryTypeDef]) -> None:
        """Entries an earlier attempt could not deliver: they go out first, as they were."""
        self._pending[:0] = entries

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self._publisher.publish(pending)
