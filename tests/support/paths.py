"""The runbook's paths, end to end against moto: who takes which notification, what the world
is in before it, and the end state a clean run leaves. The fault sweep replays each with every
call failing once (tests/faults); the permission check runs each once and compares what it
called with what its function is allowed (tests/unit/test_permissions.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from moto import mock_aws

from remediation.approvals import handle_approval
from remediation.runbooks.base import Runbook
from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.error_rate import ErrorRateTriageRunbook
from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from remediation.verifier import handle_verification
from support.app import STACK, App, load_event
from support.fakes import FakeClock, LambdaContext
from support.world import API, calm_traffic_alarms, errors_with


@dataclass(frozen=True)
class Path:
    #: Who takes the event; None: the approval handler; VERIFIER: the verifier.
    runbook: Runbook | str | None
    #: An events/ file, unless `given` makes the event.
    event: str | None
    #: What the world is in before the notification (a spike for a scale-down, metrics for triage);
    #: it returns the event to deliver when it makes one (an approval of the request it made).
    given: Callable[[App, Callable[..., Any], FakeClock], Any]
    #: The end state a clean run leaves, read back from AWS.
    state: Callable[[App], Any]
    expected: Any
    #: Actions a clean run applies (one Remediation Applied each).
    applied: frozenset[str]
    settings: dict[str, str] = field(default_factory=dict)


def _nothing(app: App, invoke: Callable[..., Any], clock: FakeClock) -> None:
    pass


def _a_request_waits(app: App, invoke: Callable[..., Any], clock: FakeClock) -> dict[str, str]:
    invoke(DbCpuRunbook(), load_event("db-cpu-critical"))
    (request,) = app.audit_events()
    return {"decisionId": request["detail"]["decisionId"], "approver": "arn:aws:iam::123456789012:user/jane"}


VERIFIER = "verifier"


def _a_check_comes_due(app: App, invoke: Callable[..., Any], clock: FakeClock) -> dict[str, Any]:
    """A spike's 1.6 GB cache, ten minutes on, latency still high: its check fires (ineffective → 6.1 GB)."""
    invoke(SpikeRunbook(), load_event("latency-warning"))
    (cache,) = [e["detail"] for e in app.audit_events() if e["detail"]["action"]["name"] == "set-stage-cache"]
    schedule = app.scheduler.get_schedule(Name=f"verify-{cache['decisionId']}", GroupName=app.schedule_group)
    clock.advance(600)
    app.put_metric("AWS/ApiGateway", "Latency", API, [720, 760, 790], datetime.fromtimestamp(clock.now, UTC))
    event: dict[str, Any] = json.loads(schedule["Target"]["Input"])
    event["scheduleArn"] = schedule["Arn"]
    return event


def _after_a_spike(app: App, invoke: Callable[..., Any], clock: FakeClock) -> None:
    invoke(SpikeRunbook(), load_event("latency-warning"))
    calm_traffic_alarms(app)
    clock.advance(16 * 60)


def _traffic(app: App) -> Any:
    return app.reserved_concurrency(), app.stage_cache()


def _database(app: App) -> Any:
    instance = app.db_instance()
    return (
        instance["DBInstanceClass"],
        instance.get("MaxAllocatedStorage"),
        sorted(instance.get("ReadReplicaDBInstanceIdentifiers", [])),
    )


PATHS = {
    "spike": Path(
        SpikeRunbook(),
        "latency-warning",
        _nothing,
        _traffic,
        (200, (True, Decimal("1.6"))),
        frozenset({"set-reserved-concurrency", "set-stage-cache"}),
    ),
    "scale-down": Path(
        ScaleDownRunbook(),
        "latency-recovered",
        _after_a_spike,
        _traffic,
        (100, (False, None)),
        frozenset({"set-reserved-concurrency", "set-stage-cache"}),
    ),
    "db-warning": Path(
        DbCpuRunbook(),
        "db-cpu-warning",
        _nothing,
        _database,
        ("db.r5.large", 1000, ["printapp-db-replica-1"]),
        frozenset({"enable-storage-autoscaling", "add-read-replica"}),
    ),
    "db-critical": Path(
        DbCpuRunbook(),
        "db-cpu-critical",
        _nothing,
        _database,
        ("db.r5.xlarge", None, []),
        frozenset({"step-up-instance-class"}),
    ),
    "triage-throttling": Path(
        ErrorRateTriageRunbook(),
        "error-rate-throttling",
        lambda app, invoke, clock: errors_with(app, "error-rate-throttling", throttles=120),
        _traffic,
        (200, (False, None)),
        frozenset({"set-reserved-concurrency"}),
    ),
    "approval": Path(
        None,
        None,
        _a_request_waits,
        _database,
        ("db.r5.xlarge", None, []),
        frozenset({"step-up-instance-class"}),
        settings={"DB_APPROVAL_MODE": "manual"},
    ),
    "triage-database": Path(
        ErrorRateTriageRunbook(),
        "error-rate-db-saturation",
        lambda app, invoke, clock: errors_with(app, "error-rate-db-saturation", db_cpu=92),
        _database,
        ("db.r5.xlarge", None, []),
        frozenset({"step-up-instance-class"}),
    ),
    "verify-ineffective": Path(
        VERIFIER,
        None,
        _a_check_comes_due,
        _traffic,
        (200, (True, Decimal("6.1"))),
        frozenset({"set-stage-cache"}),
    ),
}


@contextmanager
def world(path: Path) -> Iterator[tuple[App, Callable[..., Any], FakeClock, Any]]:
    with mock_aws():
        app, clock = App(), FakeClock()

        def invoke(runbook: Runbook | str | None, event: Any) -> dict[str, Any]:
            given = {"settings": app.settings(**path.settings), "clients": app.clients(), "clock": clock}
            if runbook == VERIFIER:
                context = LambdaContext(function_name=f"{STACK}-verifier")
                return handle_verification(event, context, sleep=clock.sleep, **given)
            if runbook is None:
                return handle_approval(event, LambdaContext(), sleep=clock.sleep, **given)
            assert isinstance(runbook, Runbook)
            return handle(event, LambdaContext(), runbook, sleep=clock.sleep, **given)

        made = path.given(app, invoke, clock)
        app.audit_events()
        yield app, invoke, clock, made if made is not None else load_event(str(path.event))
