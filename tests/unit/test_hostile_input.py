"""Hostile input: never a crash, never a write, and its rejection always reaches the bus.

Specific cases first (each one a bug a sweep found), then a seeded generator: 10,000 mutations of
the events/ notifications through every handler, in one world per handler.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from moto import mock_aws

from remediation.approvals import handle_approval
from remediation.errors import AlarmRejected
from remediation.runbooks.base import Runbook
from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runbooks.error_rate import ErrorRateTriageRunbook
from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from support.app import EVENTS, ROOT, App, alarm_message, load_event, with_message, with_sns
from support.audit import CallRecorder, only
from support.fakes import FakeClock, LambdaContext

RUNBOOKS = [SpikeRunbook(), ScaleDownRunbook(), DbCpuRunbook(), ErrorRateTriageRunbook()]
SCHEMA = json.loads((ROOT / "schemas" / "audit-event.schema.json").read_text())
DETAIL_VALIDATOR = Draft4Validator(
    {**SCHEMA["definitions"]["RemediationDecision"], "definitions": SCHEMA["definitions"]}
)
ENTRY_LIMIT = 256 * 1024


class RecordingEventBridge:
    """EventBridge's PutEvents, checked the way EventBridge checks an entry, and kept."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.problems: list[str] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        for entry in Entries:
            size = sum(len(entry[key].encode("utf-8")) for key in ("Detail", "DetailType", "Source"))
            if size > ENTRY_LIMIT:
                self.problems.append(f"an entry of {size} bytes, over EventBridge's {ENTRY_LIMIT}")
            try:
                json.loads(entry["Detail"], parse_constant=_refuse)
            except ValueError as error:
                self.problems.append(f"a Detail EventBridge would refuse: {error}")
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(n)} for n in range(len(Entries))]}


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.fixture
def dropped_log_lines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every log line that could not be written (logging swallows the error and loses the line)."""
    dropped: list[str] = []

    def record(handler: logging.Handler, record: logging.LogRecord) -> None:
        dropped.append(str(record.msg)[:200])

    monkeypatch.setattr(logging.Handler, "handleError", record)
    return dropped


class World:
    def __init__(self, app: App) -> None:
        self.app = app
        self.events = RecordingEventBridge()
        clients = app.clients()
        self.clients = type(clients)(overrides={**clients._clients, "events": self.events})
        self.recorder = CallRecorder(
            *(clients.get(s) for s in ("lambda", "apigateway", "cloudwatch", "dynamodb", "rds", "ssm"))
        )
        self.clock = FakeClock()

    def deliver(
        self, runbook: Runbook | None, event: Any, **settings: Any
    ) -> tuple[dict[str, Any] | BaseException, list[str], list[dict[str, Any]]]:
        """The result (or what escaped), the writes made, and the audit details sent.
        (No runbook: the approval handler.)"""
        calls, sent = len(self.recorder.calls), len(self.events.entries)
        given = {
            "settings": self.app.settings(**settings),
            "clients": self.clients,
            "clock": self.clock,
            "sleep": self.clock.sleep,
        }
        try:
            result: dict[str, Any] | BaseException = (
                handle(event, LambdaContext(), runbook, **given)
                if runbook
                else handle_approval(event, LambdaContext(), **given)
            )
        except Exception as error:
            result = error
        writes = [
            c
            for c in self.recorder.calls[calls:]
            if c.startswith(("Put", "Update", "Delete", "Create", "Modify", "Transact"))
        ]
        details = [json.loads(entry["Detail"]) for entry in self.events.entries[sent:]]
        return result, writes, details


@pytest.fixture
def world(app: App) -> World:
    return World(app)


# --- what sweeps found -------------------------------------------------------------------------


def _raw_threshold(literal: str) -> dict[str, Any]:
    event = load_event("db-cpu-critical")
    message = event["Records"][0]["Sns"]["Message"]
    event["Records"][0]["Sns"]["Message"] = message.replace('"Threshold": 80.0', f'"Threshold": {literal}')
    assert literal in event["Records"][0]["Sns"]["Message"]
    return event


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_threshold_is_bad_input(world: World, literal: str) -> None:
    result, writes, details = world.deliver(DbCpuRunbook(), _raw_threshold(literal))

    assert not isinstance(result, BaseException)
    assert writes == []
    assert world.app.db_instance()["DBInstanceClass"] == "db.r5.large"
    (rejected,) = details
    assert (rejected["outcome"], rejected["limit"]) == ("rejected", "input")
    assert "non-finite number" in rejected["reason"]
    assert world.events.problems == []


def test_an_enormous_evaluation_window_is_bad_input_not_an_overflow(world: World) -> None:
    event = load_event("error-rate-critical")
    trigger = {**alarm_message(event)["Trigger"], "EvaluationPeriods": 10**30}

    result, writes, details = world.deliver(ErrorRateTriageRunbook(), with_message(event, Trigger=trigger))

    assert not isinstance(result, BaseException)
    assert writes == []
    assert only(details)["outcome"] == "rejected"


def test_a_huge_quoted_input_keeps_its_rejection_under_the_entry_limit(world: World) -> None:
    # Given a notification through another account's topic, carrying 120 KB of non-ASCII text
    # (SNS counts UTF-8 bytes; escaped in JSON it is three times that)
    message = {**alarm_message(load_event("latency-warning")), "NewStateReason": "éü😀" * 15_000}
    event = with_sns(
        load_event("latency-warning"),
        TopicArn="arn:aws:sns:us-east-1:210987654321:elsewhere",
        Message=json.dumps(message, ensure_ascii=False),
    )

    _result, writes, details = world.deliver(SpikeRunbook(), event)

    # Then it is rejected, and the rejection still reaches the bus: valid, under the limit, saying what was cut
    assert writes == []
    rejected = only(details)
    assert (rejected["outcome"], rejected["limit"]) == ("rejected", "trust-boundary")
    assert rejected["truncated"] == ["alarm.reason"]
    assert "characters cut]" in rejected["alarm"]["reason"]
    assert world.events.problems == []
    assert not list(DETAIL_VALIDATOR.iter_errors(rejected))


def test_lone_surrogates_never_cost_a_log_line(world: World, dropped_log_lines: list[str]) -> None:
    event = with_message(load_event("latency-warning"), AlarmName="latency \ud800 (Jane)")
    event = with_sns(event, MessageId="id-\udc00")

    result, _, details = world.deliver(SpikeRunbook(), event)

    assert not isinstance(result, BaseException)
    assert dropped_log_lines == []
    assert "latency \ufffd (Jane)" in json.dumps(details, ensure_ascii=False)


# --- the generated sweep -----------------------------------------------------------------------

SEED = 20261202
CASES = 10_000
HOSTILE_VALUES: list[Any] = [
    None,
    "",
    " ",
    "x" * 5000,
    "\ud800",
    "é😀\u202e",
    0,
    -1,
    10**30,
    -(10**30),
    1.5e308,
    True,
    [],
    {},
    [[[[[]]]]],
    {"name": "ApiName", "value": "printapp-api"},
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x",
    "arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x",
    "2026-11-27T03:01:12.345+0000",
    "not a time",
    "GreaterThanThreshold",
    "LessThanThreshold",
]
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "123456789012345678901234567890"]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))


def _set(node: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(node) if isinstance(node, dict) else list(node)
    if delete and not rest:
        copy.pop(head)
    else:
        copy[head] = _set(node[head], rest, value, delete=delete)
    return copy


def _mutate(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    """One to three hostile changes to the SNS envelope or to the alarm message inside it."""
    for _ in range(rng.randint(1, 3)):
        sns = (
            event.get("Records", [{}])[0].get("Sns", {})
            if isinstance(event.get("Records"), list) and event["Records"] and isinstance(event["Records"][0], dict)
            else {}
        )
        message = sns.get("Message") if isinstance(sns, dict) else None
        inside = isinstance(message, str) and rng.random() < 0.75
        if inside:
            try:
                payload = json.loads(message)
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                continue
            target = payload
        else:
            target = event
        paths = [p for p in _leaves(target) if p]
        if not paths:
            continue
        path = rng.choice(paths)
        roll = rng.random()
        if roll < 0.2:
            target = _set(target, path, None, delete=True)
        elif roll < 0.85:
            target = _set(target, path, rng.choice(HOSTILE_VALUES))
        else:
            marker = "__RAW__"
            target = _set(target, path, marker)
            if inside:
                text = json.dumps(target).replace(f'"{marker}"', rng.choice(RAW_NUMBERS))
                event = _set(event, ("Records", 0, "Sns", "Message"), text)
                continue
        event = _set(event, ("Records", 0, "Sns", "Message"), json.dumps(target)) if inside else target
    return event


def _generated(seed: int, count: int, *extra: dict[str, Any]) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    originals = [json.loads(path.read_text()) for path in sorted(Path(EVENTS).glob("*.json"))] + list(extra)
    for _ in range(count):
        yield _mutate(rng, rng.choice(originals))


@pytest.mark.sweep
@pytest.mark.parametrize("runbook", [*RUNBOOKS, None], ids=lambda runbook: runbook.name if runbook else "approval")
def test_ten_thousand_generated_events_never_crash_and_rejections_never_write(
    runbook: Runbook | None, dropped_log_lines: list[str]
) -> None:
    with mock_aws():
        world = World(App())
        # For the approval handler: approvals of a request that waits, and of one that does not.
        world.deliver(DbCpuRunbook(), load_event("db-cpu-critical"), DB_APPROVAL_MODE="manual")
        (request,) = [json.loads(e["Detail"])["decisionId"] for e in world.events.entries]
        approvals = (
            {"decisionId": request, "approver": "arn:aws:iam::123456789012:user/jane"},
            {"decisionId": "00000000-0000-4000-8000-000000000000", "approver": "jane"},
        )
        crashes, writes_on_rejected, invalid = [], [], []
        for number, event in enumerate(_generated(SEED, CASES, *approvals)):
            result, writes, details = world.deliver(runbook, event)
            if isinstance(result, BaseException) and not isinstance(result, AlarmRejected):
                crashes.append(f"#{number}: {type(result).__name__}: {result}"[:300])
            if details and all(d["outcome"] == "rejected" for d in details) and writes:
                writes_on_rejected.append(f"#{number}: {writes}")
            if number % 50 == 0:
                invalid += [f"#{number}: {e.message}"[:300] for d in details for e in DETAIL_VALIDATOR.iter_errors(d)]

    assert crashes == []
    assert writes_on_rejected == []
    assert world.events.problems == []
    assert invalid == []
    assert dropped_log_lines == []
