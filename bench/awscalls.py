"""AWS calls per decision: every API call of each handler path, in-process moto.

Each path runs in a fresh moto world with the app's stand-ins. The handler is the runner with
the template's settings (tests' way: `remediation.runner.handle` with injected settings,
clients and a clock), so the clock can move past the hysteresis window. Only the calls of the
measured invocation are kept; the set-up (a spike before a scale-down, ...) is not counted.
"""

# ruff: noqa: PLC0415  (the layer, tests/ and tools/ are importable only once world.py put them on sys.path)

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calls import Call, CallLog, repeated_reads
from world import handler_overrides, moto_world

SERVICES = ("lambda", "apigateway", "cloudwatch", "dynamodb", "events", "rds", "ssm", "scheduler")
TRAFFIC_ALARMS = (
    "api-latency-warning",
    "api-latency-critical",
    "lambda-concurrency-warning",
    "lambda-concurrency-critical",
    "api-latency-p90",
)


@dataclass
class Path:
    key: str
    label: str
    handler: str
    event: str
    #: Run before the measured invocation (uncounted): (app, invoke) → None.
    setup: Callable[[Any, Callable[..., dict[str, Any]]], None] | None = None
    duplicate: bool = False
    extra: bool = False


class Harness:
    """One moto world, a runner invocation with the template's settings, and a call log."""

    def __init__(self, app: Any) -> None:
        from remediation.clients import Clients
        from support.fakes import FakeClock
        from world import answer_get_account_settings

        self.app = app
        self.clock = FakeClock()
        self.clients = Clients()
        self.log = CallLog().attach(*(self.clients.get(service) for service in SERVICES))
        answer_get_account_settings(self.clients.lambda_)

    def invoke(self, handler: str, event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        from remediation.runbooks.db_cpu import DbCpuRunbook
        from remediation.runbooks.error_rate import ErrorRateTriageRunbook
        from remediation.runbooks.scale_down import ScaleDownRunbook
        from remediation.runbooks.spike import SpikeRunbook
        from remediation.runner import handle
        from support.fakes import LambdaContext

        runbook = {
            "spike_handler": SpikeRunbook,
            "scale_down_handler": ScaleDownRunbook,
            "db_cpu_handler": DbCpuRunbook,
            "error_rate_triager": ErrorRateTriageRunbook,
        }[handler]()
        settings = self.app.settings(**{**handler_overrides(handler), **overrides})
        return handle(event, LambdaContext(), runbook, settings=settings, clients=self.clients, clock=self.clock)


def _spike_then_calm(app: Any, invoke: Callable[..., dict[str, Any]]) -> None:
    from support.app import STACK, load_event

    invoke("spike_handler", load_event("latency-warning"))
    for name in TRAFFIC_ALARMS:
        app.set_alarm(f"{STACK}-{name}", "OK")
    invoke.__self__.clock.advance(16 * 60)  # type: ignore[attr-defined]


def _alarm_ok(app: Any, _: Callable[..., dict[str, Any]]) -> None:
    from support.app import STACK

    app.set_alarm(f"{STACK}-api-latency-warning", "OK")


def _first_delivery(_: Any, invoke: Callable[..., dict[str, Any]]) -> None:
    from support.app import load_event

    invoke("spike_handler", load_event("latency-warning"))


def _throttling_metrics(app: Any, _: Callable[..., dict[str, Any]]) -> None:
    from support.app import alarm_message, load_event

    end = datetime.fromisoformat(alarm_message(load_event("error-rate-throttling"))["StateChangeTime"])
    function, api, db = (
        {"FunctionName": "printapp-api"},
        {"ApiName": "printapp-api", "Stage": "prod"},
        {"DBInstanceIdentifier": "printapp-db"},
    )
    app.put_metric("AWS/ApiGateway", "5XXError", api, [40, 55, 61], end)
    app.put_metric("AWS/ApiGateway", "Count", api, [500, 520, 540], end)
    app.put_metric("AWS/Lambda", "Invocations", function, [480, 500, 510], end)
    app.put_metric("AWS/Lambda", "Duration", function, [180, 210, 190], end)
    app.put_metric("AWS/Lambda", "Throttles", function, [40, 40, 40], end)
    app.put_metric("AWS/Lambda", "Errors", function, [0, 0, 0], end)
    app.put_metric("AWS/RDS", "CPUUtilization", db, [15, 20, 18], end)
    app.put_metric("AWS/RDS", "DatabaseConnections", db, [80, 85, 90], end)


PATHS = (
    Path("spike", "spike applied (latency-warning.json)", "spike_handler", "latency-warning"),
    Path(
        "duplicate",
        "duplicate (the same event again)",
        "spike_handler",
        "latency-warning",
        setup=_first_delivery,
        duplicate=True,
    ),
    Path("skipped", "skipped (alarm OK when re-read)", "spike_handler", "latency-warning", setup=_alarm_ok),
    Path(
        "scale_down",
        "scale-down (after a spike, alarms OK, 16 min later)",
        "scale_down_handler",
        "latency-recovered",
        setup=_spike_then_calm,
    ),
    Path("db_critical", "DB critical (db-cpu-critical.json)", "db_cpu_handler", "db-cpu-critical"),
    Path(
        "triage",
        "triage → throttling (error-rate-throttling.json)",
        "error_rate_triager",
        "error-rate-throttling",
        setup=_throttling_metrics,
    ),
    Path("db_warning", "DB warning (db-cpu-warning.json; extra)", "db_cpu_handler", "db-cpu-warning", extra=True),
)


def measure_path(path: Path) -> dict[str, Any]:
    from support.app import load_event

    with moto_world() as app:
        harness = Harness(app)
        if path.setup is not None:
            path.setup(app, harness.invoke)
        app.audit_events()
        harness.log.clear()
        result = harness.invoke(path.handler, load_event(path.event))
        calls = harness.log.take()
        audit = app.audit_events()
    return evaluate(path, calls, result, audit)


def evaluate(path: Path, calls: list[Call], result: dict[str, Any], audit: list[dict[str, Any]]) -> dict[str, Any]:
    put_events = [call for call in calls if call.operation == "PutEvents"]
    repeated = repeated_reads(calls)
    beyond_idempotency = [call for call in calls if not (call.service == "dynamodb" and "idempotency" in call.resource)]
    goals = {
        "each resource read at most once": not repeated,
        "one PutEvents": len(put_events) == (0 if path.duplicate else 1),
    }
    if path.duplicate:
        goals["nothing beyond the idempotency read"] = not beyond_idempotency
    return {
        "key": path.key,
        "label": path.label,
        "extra": path.extra,
        "calls": [str(call) for call in calls],
        "total": len(calls),
        "reads": sum(1 for call in calls if call.is_read),
        "state_table": sum(1 for call in calls if call.service == "dynamodb"),
        "repeated_reads": repeated,
        "put_events": len(put_events),
        "beyond_idempotency": [str(call) for call in beyond_idempotency] if path.duplicate else [],
        "decisions": [
            {"outcome": d.get("outcome"), "action": d.get("action"), "limit": d.get("limit")}
            for d in result.get("decisions", [])
        ],
        "duplicates": result.get("duplicates", 0),
        "audit_events": len(audit),
        "goals": goals,
    }


def measure(log: Any = print, only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    results = []
    for path in PATHS:
        if only and path.key not in only:
            continue
        results.append(measure_path(path))
        log(f"  AWS calls: {path.key} → {results[-1]['total']} calls")
    return results
