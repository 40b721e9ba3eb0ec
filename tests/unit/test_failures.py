"""Nothing is lost: AWS trouble is retried; what still fails is audited and re-raised."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from remediation.audit import AuditPublisher
from remediation.errors import AuditDeliveryError
from remediation.runbooks.spike import SpikeRunbook
from support.app import App, load_event
from support.audit import by_outcome, for_action, only
from support.fakes import Outage, Throttled

SPIKE = SpikeRunbook()


def test_a_throttled_call_is_retried(app: App, invoke) -> None:
    # Given Lambda throttles the first two PutFunctionConcurrency calls
    throttling = Throttled(app.account.client, "PutFunctionConcurrency", times=2)

    invoke(SPIKE, load_event("latency-warning"))

    # Then botocore retried and the change went through
    assert throttling.calls == 3
    assert app.reserved_concurrency() == 200
    assert only(for_action(app.audit_events(), "set-reserved-concurrency"))["outcome"] == "applied"


def test_a_call_that_keeps_failing_is_audited_and_reraised(app: App, invoke) -> None:
    # Given API Gateway keeps answering 503 to stage updates, retries or not
    outage = Outage(app.clients().apigateway, "UpdateStage")

    # When the spike arrives, the invocation fails (so Lambda retries, then the DLQ keeps it)
    with pytest.raises(ClientError):
        invoke(SPIKE, load_event("latency-warning"))

    # Then the failure is in the audit trail, and the other action still ran
    assert outage.calls == 1
    events = app.audit_events()
    failed = only(by_outcome(events, "failed"))
    assert failed["action"]["name"] == "set-stage-cache"
    assert "ServiceUnavailable" in failed["reason"]
    assert only(for_action(events, "set-reserved-concurrency"))["outcome"] == "applied"
    assert app.stage_cache() == (False, None)

    # And Lambda's retry of the same notification acts on what is left to do
    outage.active = False
    invoke(SPIKE, load_event("latency-warning"))
    assert app.stage_cache() == (True, Decimal("1.6"))
    retried = app.audit_events()
    assert only(for_action(retried, "set-stage-cache"))["outcome"] == "applied"
    assert only(for_action(retried, "set-reserved-concurrency"))["outcome"] == "skipped"


class PartiallyFailingEventBridge:
    """EventBridge that reports some entries of the first calls as failed (FailedEntryCount)."""

    def __init__(self, client: Any, failing_calls: int) -> None:
        self._client = client
        self.failing_calls = failing_calls
        self.calls: list[int] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        if len(self.calls) > self.failing_calls:
            return self._client.put_events(Entries=Entries)  # type: ignore[no-any-return]
        # Everything but the last entry goes through; the last is reported as failed.
        delivered = self._client.put_events(Entries=Entries[:-1])["Entries"] if len(Entries) > 1 else []
        failure = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
        return {"FailedEntryCount": 1, "Entries": [*delivered, failure]}


def test_putevents_partial_failure_is_retried_and_nothing_is_dropped(app: App) -> None:
    events = PartiallyFailingEventBridge(app.events, failing_calls=1)
    publisher = AuditPublisher(events, app.bus, sleep=lambda _: None)  # type: ignore[arg-type]
    entries = [publisher.entry({"outcome": "applied", "n": n}, []) for n in range(3)]

    publisher.publish(entries)

    assert events.calls == [3, 1]
    delivered = sorted(event["detail"]["n"] for event in app.audit_events())
    assert delivered == [0, 1, 2]


def test_undeliverable_audit_events_are_logged_in_full_and_raised(app: App, caplog: pytest.LogCaptureFixture) -> None:
    events = PartiallyFailingEventBridge(app.events, failing_calls=99)
    publisher = AuditPublisher(events, app.bus, max_attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]
    entries = [publisher.entry({"outcome": "applied", "n": n}, []) for n in range(2)]

    with pytest.raises(AuditDeliveryError, match="1 of 2 audit events could not be delivered"):
        publisher.publish(entries)

    assert events.calls == [2, 1, 1]
    lost = [r.auditEntry for r in caplog.records if r.getMessage() == "audit event not delivered"]
    assert [json.loads(entry["Detail"]) for entry in lost] == [{"outcome": "applied", "n": 1}]


def test_more_than_ten_decisions_go_in_batches_of_ten(app: App) -> None:
    events = PartiallyFailingEventBridge(app.events, failing_calls=0)
    publisher = AuditPublisher(events, app.bus)  # type: ignore[arg-type]

    publisher.publish([publisher.entry({"outcome": "skipped", "n": n}, []) for n in range(23)])

    assert events.calls == [10, 10, 3]
    assert len(app.audit_events()) == 23


def test_a_failing_audit_bus_fails_the_invocation(app: App, invoke) -> None:
    # Given the audit bus does not exist (deleted by mistake): the decision cannot be recorded
    app.events.delete_event_bus(Name=app.bus)

    with pytest.raises(AuditDeliveryError):
        invoke(SPIKE, load_event("latency-warning"))
