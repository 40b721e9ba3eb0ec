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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

from support.app import App
from support.fakes import FakeClock
from support.paths import PATHS, Path, world

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
