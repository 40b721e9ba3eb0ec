"""Any single failure of any AWS call, then Lambda's retries: the runbook's state, exactly once.

For each path, a clean run counts the AWS calls an invocation makes. Then, for every one of those
calls, a fresh world replays the path with that call failing once — before it reaches the service
(nothing happened) or after it took effect with its answer lost (a read timeout) — and Lambda
delivers the same notification again, up to its two retries. Every case must end:
- in the runbook's end state, with each change made exactly once (writes that reached AWS);
- never dropped: some attempt succeeds (a single fault leaves two retries to spare);
- with no lock left behind;
- with an audit trail that tells the truth: one `Remediation Applied` per change made, a
  `Remediation Failed` for the failure, no `Skipped: lock` standing in for a dropped alarm;
- with exactly one verification schedule per applied raise (SPEC §9), never none, never two.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError
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

pytestmark = pytest.mark.sweep

#: Calls that change the app: each must reach AWS exactly as often as in a clean run.
TARGET_WRITES = frozenset(
    {
        "PutFunctionConcurrency",
        "DeleteFunctionConcurrency",
        "UpdateStage",
        "ModifyDBInstance",
        "CreateDBInstanceReadReplica",
    }
)
#: Lambda's asynchronous invocation: the first attempt and two retries, a minute or two apart.
ATTEMPTS = 3
RETRY_DELAY_SECONDS = 60


class FaultInjector:
    """Wraps botocore's `_make_api_call`: counts calls while armed and fails one of them."""

    def __init__(self) -> None:
        self.armed = False
        self.calls: list[str] = []
        self.reached: list[str] = []
        self.fail_at: int | None = None
        self.mode = "before"

    def __call__(self, original: Callable[..., Any], client: BaseClient, operation: str, params: Any) -> Any:
        if not self.armed:
            return original(client, operation, params)
        index = len(self.calls)
        self.calls.append(operation)
        if index == self.fail_at and self.mode == "before":
            raise ClientError(
                {
                    "Error": {"Code": "ServiceUnavailable", "Message": f"injected: {operation} failed"},
                    "ResponseMetadata": {"HTTPStatusCode": 503},
                },
                operation,
            )
        result = original(client, operation, params)
        self.reached.append(operation)
        if index == self.fail_at and self.mode == "after":
            raise ReadTimeoutError(endpoint_url=f"injected: {operation} answer lost")
        return result


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
    fault = FaultInjector()
    original = BaseClient._make_api_call

    def wrapped(client: BaseClient, operation: str, params: Any) -> Any:
        return fault(original, client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", wrapped)
    return fault


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


@dataclass
class Outcome:
    succeeded: bool
    errors: list[str]
    state: Any
    writes: list[str]
    events: list[dict[str, Any]]
    locks: list[str]
    #: Verification schedules made during the case (not before it).
    schedules: list[str]


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


def _let_a_minute_pass(app: App, clock: FakeClock) -> None:
    """Between Lambda's retries time passes: for our clock, and for Powertools' in-progress
    records (they expire with the failed invocation's remaining time, on the real clock)."""
    clock.advance(RETRY_DELAY_SECONDS)
    for item in app.dynamodb.scan(TableName=app.table)["Items"]:
        if "in_progress_expiration" in item:
            app.dynamodb.update_item(
                TableName=app.table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )


def play(path: Path, injector: FaultInjector, fail_at: int | None, mode: str = "before") -> Outcome:
    with world(path) as (app, invoke, clock, event):
        before = {schedule["Name"] for schedule in app.schedules()}
        injector.calls, injector.reached = [], []
        injector.fail_at, injector.mode = fail_at, mode
        errors: list[str] = []
        succeeded = False
        for attempt in range(ATTEMPTS):
            if attempt:
                _let_a_minute_pass(app, clock)
            injector.armed = True
            try:
                invoke(path.runbook, event)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
            else:
                succeeded = True
            finally:
                injector.armed = False
            if succeeded:
                break
        locks = [
            item["id"]["S"]
            for item in app.dynamodb.scan(TableName=app.table)["Items"]
            if item["id"]["S"].startswith("lock#")
        ]
        return Outcome(
            succeeded,
            errors,
            path.state(app),
            [call for call in injector.reached if call in TARGET_WRITES],
            app.audit_events(),
            locks,
            sorted({schedule["Name"] for schedule in app.schedules()} - before),
        )


def violations(path: Path, clean: Outcome, case: Outcome, operation: str) -> list[str]:
    found = []
    if not case.succeeded:
        found.append(f"dropped: every attempt failed ({case.errors})")
    if case.state != path.expected:
        found.append(f"end state {case.state}, expected {path.expected}")
    if sorted(case.writes) != sorted(clean.writes):
        found.append(f"changes made {sorted(case.writes)}, expected each once: {sorted(clean.writes)}")
    if case.locks:
        found.append(f"locks left behind: {case.locks}")
    decisions = {e["detail"]["decisionId"]: e["detail"] for e in case.events}.values()
    applied = sorted(d["action"]["name"] for d in decisions if d["outcome"] == "applied")
    if applied != sorted(path.applied):
        found.append(f"Remediation Applied for {applied}, expected one each for {sorted(path.applied)}")
    raises = [d for d in decisions if d["outcome"] == "applied" and d["action"]["parameters"]["direction"] == "raise"]
    checks = sorted(f"verify-{d['decisionId']}" for d in raises)
    if case.schedules != checks:
        found.append(f"verification schedules {case.schedules}, expected one per applied raise: {checks}")
    if any(d["limit"] == "lock" and d["outcome"] == "skipped" for d in decisions):
        found.append("a Skipped: lock decision (an alarm dropped as if handled)")
    told = any(d["outcome"] == "failed" and "injected" in d["reason"] for d in decisions)
    if case.errors and operation != "PutEvents" and not told:
        found.append(f"the failure is in no Remediation Failed event ({case.errors})")
    return found


@pytest.mark.parametrize("name", list(PATHS))
@pytest.mark.parametrize("mode", ["before", "after"])
def test_a_single_fault_anywhere_ends_in_the_runbook_state_exactly_once(
    name: str, mode: str, injector: FaultInjector
) -> None:
    # Given a clean run of the path: its end state, its changes, its AWS calls
    path = PATHS[name]
    clean = play(path, injector, fail_at=None)
    calls = list(injector.calls)
    assert clean.succeeded
    assert clean.state == path.expected
    assert violations(path, clean, clean, "") == []

    # When each of those calls fails once (before it takes effect, or after with the answer lost),
    # then Lambda retries
    found = {}
    for index, operation in enumerate(calls):
        case = play(path, injector, fail_at=index, mode=mode)
        problems = violations(path, clean, case, operation)
        if problems:
            found[f"call {index} {operation} fails {mode} effect"] = problems

    # Then every case ends in the runbook's state, exactly once, never dropped, truthfully audited
    assert found == {}, "\n".join(f"{case}: {problems}" for case, problems in found.items())
