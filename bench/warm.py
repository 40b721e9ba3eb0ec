"""Warm per-alarm time and the alarm storm, against in-process moto.

Ours: `functions/spike_handler/app.py` `lambda_handler` (Powertools decorators and all), loaded
once with the template's environment (tracing off: there is no X-Ray daemon here; the verifier
and its schedule group as deployed, so each applied raise schedules its check), its clients from
the engine's own factory. Theirs, with plain boto3 clients: bench/careful_handler.py (the same
decisions, written by hand: the yardstick of the goal) and bench/baseline_handler.py (the
afternoon's handler, no safety rules). All talk to the same moto state; GetAccountSettings is
answered the same way for all.
"""

# ruff: noqa: PLC0415  (the layer, tests/ and tools/ are importable only once world.py put them on sys.path)

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import logging
import os
import random
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import baseline_handler
import careful_handler
from awscalls import SERVICES
from calls import CallLog
from world import ROOT, answer_get_account_settings, moto_world, patched_environ, template_environment

Handler = Callable[[dict[str, Any]], dict[str, Any]]


_SINK = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)


@contextmanager
def quiet() -> Iterator[None]:
    """Handlers log to stdout (as in Lambda, where it costs the same); here it goes to /dev/null.

    Powertools' handlers keep the stdout they found when created, so they are pointed at the
    sink too: the logging work still happens, only the bytes go nowhere.
    """
    streams = []
    for handler in logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")).handlers:
        if isinstance(handler, logging.StreamHandler):
            streams.append((handler, handler.setStream(_SINK)))
    try:
        with contextlib.redirect_stdout(_SINK), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics")
            yield
    finally:
        for handler, stream in streams:
            if stream is not None:
                handler.setStream(stream)


class Contenders:
    """Both handlers, wired to one moto world."""

    def __init__(self, app: Any, **environment: str) -> None:
        import boto3

        from remediation.clients import default_clients
        from remediation.settings import current_settings
        from support.app import SCHEDULER_ROLE_ARN
        from support.fakes import LambdaContext

        self.app = app
        variables = {
            **template_environment("spike_handler"),
            "AUDIT_BUS_NAME": app.bus,
            "STATE_TABLE_NAME": app.table,
            "TARGET_REST_API_ID": app.rest_api_id,
            "VERIFY_SCHEDULE_GROUP": app.schedule_group,
            "SCHEDULER_ROLE_ARN": SCHEDULER_ROLE_ARN,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **environment,
        }
        self._environ = patched_environ(variables)
        self._environ.__enter__()
        current_settings.cache_clear()
        default_clients.cache_clear()
        spec = importlib.util.spec_from_file_location("bench_spike_app", ROOT / "functions/spike_handler/app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self._ours = module.lambda_handler
        self._context = LambdaContext()
        self.log = CallLog()
        ours = default_clients()
        self.log.attach(*(ours.get(service) for service in SERVICES))
        answer_get_account_settings(ours.lambda_)
        theirs = {service: boto3.client(service) for service in SERVICES}
        self.log.attach(*theirs.values())
        answer_get_account_settings(theirs["lambda"])
        self._theirs_clients = theirs

    def close(self) -> None:
        self._environ.__exit__(None, None, None)

    def ours(self, event: dict[str, Any]) -> dict[str, Any]:
        with quiet():
            return self._ours(event, self._context)  # type: ignore[no-any-return]

    def theirs(self, event: dict[str, Any]) -> dict[str, Any]:
        with quiet():
            return baseline_handler.handle(event, self._theirs_clients.__getitem__)

    def careful(self, event: dict[str, Any]) -> dict[str, Any]:
        with quiet():
            return careful_handler.handle(event, self._theirs_clients.__getitem__)  # type: ignore[no-any-return]

    def reset(self) -> None:
        """The app back to its everyday values, the state table empty, no check scheduled, the
        audit queue drained."""
        app = self.app
        app.set_reserved_concurrency(100)
        app.set_stage_cache(False)
        for page in app.dynamodb.get_paginator("scan").paginate(TableName=app.table, ProjectionExpression="id"):
            for item in page["Items"]:
                app.dynamodb.delete_item(TableName=app.table, Key={"id": item["id"]})
        for page in app.scheduler.get_paginator("list_schedules").paginate(GroupName=app.schedule_group):
            for schedule in page.get("Schedules", []):
                app.scheduler.delete_schedule(Name=schedule["Name"], GroupName=app.schedule_group)
        app.audit_events()


def _applied(result: dict[str, Any]) -> int:
    return sum(1 for decision in result.get("decisions", []) if decision.get("outcome") == "applied")


def measure_warm(runs: int, log: Any = print) -> dict[str, Any]:
    from support.app import load_event

    event = load_event("latency-warning")
    with moto_world() as app:
        contenders = Contenders(app)
        try:
            entries: dict[str, Handler] = {
                "ours": contenders.ours,
                "careful": contenders.careful,
                "baseline": contenders.theirs,
            }
            times: dict[str, list[float]] = {name: [] for name in entries}
            calls: dict[str, int] = {}
            in_calls: dict[str, list[float]] = {name: [] for name in entries}
            for handler in entries.values():  # warm-up: clients, models, first-use costs
                contenders.reset()
                handler(copy.deepcopy(event))
            for _ in range(runs):
                for name, handler in entries.items():
                    contenders.reset()
                    given = copy.deepcopy(event)
                    contenders.log.clear()
                    started = time.perf_counter()
                    result = handler(given)
                    elapsed = time.perf_counter() - started
                    in_calls[name].append(contenders.log.seconds)
                    calls[name] = len(contenders.log.take())
                    if _applied(result) != 2:
                        raise RuntimeError(f"{name} did not apply both spike actions: {result}")
                    times[name].append(elapsed)
            log(f"  warm: {runs} runs each")
        finally:
            contenders.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    result: dict[str, Any] = {"runs": runs}
    for name, values in times.items():
        result[f"{name}_ms"] = medians[name] * 1000
        result[f"{name}_spread_ms"] = (min(values) * 1000, max(values) * 1000)
        result[f"{name}_calls"] = calls[name]
    result["in_calls_ms"] = {name: statistics.median(values) * 1000 for name, values in in_calls.items()}
    # The goal's yardstick is the hand-written handler making the same decisions.
    result["ratio"] = medians["ours"] / medians["careful"]
    result["ratio_afternoon"] = medians["ours"] / medians["baseline"]
    return result


def storm_events(distinct: int, deliveries: int, seed: int = 20261127) -> list[dict[str, Any]]:
    """`distinct` state changes of the latency alarm (StateChangeTime apart), each delivered
    `deliveries` times, shuffled with a fixed seed."""
    from support.app import alarm_message, load_event

    template = load_event("latency-warning")
    message = alarm_message(template)
    first = datetime.strptime(message["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    events = []
    for change in range(distinct):
        changed_at = first + timedelta(seconds=change)
        stamp = changed_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{changed_at.microsecond // 1000:03d}+0000"
        for delivery in range(deliveries):
            event = copy.deepcopy(template)
            sns = event["Records"][0]["Sns"]
            sns["Message"] = json.dumps({**message, "StateChangeTime": stamp})
            sns["MessageId"] = f"{change:04d}-{delivery:04d}-storm"
            events.append(event)
    random.Random(seed).shuffle(events)
    return events


def _storm_once(contenders: Contenders, handler: Handler, events: list[dict[str, Any]]) -> dict[str, Any]:
    contenders.reset()
    contenders.log.clear()
    decisions: list[dict[str, Any]] = []
    duplicates = 0
    started = time.perf_counter()
    for event in events:
        result = handler(event)
        decisions.extend(result.get("decisions", []))
        duplicates += result.get("duplicates", 0)
    elapsed = time.perf_counter() - started
    calls = contenders.log.take()
    audit = contenders.app.audit_events()
    return {
        "seconds": elapsed,
        "per_second": len(events) / elapsed,
        "decisions": len(decisions),
        "outcomes": dict(Counter(str(d.get("outcome")) for d in decisions)),
        "limits": dict(
            Counter(str(d.get("limit") or d.get("reason")) for d in decisions if d.get("outcome") != "applied")
        ),
        "duplicates": duplicates,
        "calls": len(calls),
        "writes": dict(Counter(c.operation for c in calls if c.operation in ("PutFunctionConcurrency", "UpdateStage"))),
        "audit_events": audit,
    }


def measure_storm(distinct: int, deliveries: int, log: Any = print) -> dict[str, Any]:
    events = storm_events(distinct, deliveries)
    with moto_world() as app:
        # A long cooldown: after the first change, later distinct changes are decided, not acted on.
        contenders = Contenders(app, COOLDOWN_SECONDS="86400")
        try:
            ours = _storm_once(contenders, contenders.ours, copy.deepcopy(events))
            log(f"  storm: ours {ours['per_second']:.0f} notifications/s")
            careful = _storm_once(contenders, contenders.careful, copy.deepcopy(events))
            log(f"  storm: hand-written, same decisions {careful['per_second']:.0f} notifications/s")
            theirs = _storm_once(contenders, contenders.theirs, copy.deepcopy(events))
            log(f"  storm: hand-written {theirs['per_second']:.0f} notifications/s")
        finally:
            contenders.close()
    audit = ours.pop("audit_events")
    theirs.pop("audit_events")
    careful.pop("audit_events")
    changes_decided = len({event["detail"]["correlationId"] for event in audit})
    expected_duplicates = distinct * (deliveries - 1)
    checks = {
        f"exactly {distinct} state changes decided (distinct correlation ids in the audit trail)": changes_decided
        == distinct,
        f"{expected_duplicates} deliveries recognised as duplicates": ours["duplicates"] == expected_duplicates,
        f"{2 * distinct} decisions (2 actions × {distinct} changes), {2 * distinct} audit events": ours["decisions"]
        == 2 * distinct
        and len(audit) == 2 * distinct,
        "each change applied once (1 PutFunctionConcurrency, 1 UpdateStage)": ours["writes"]
        == {"PutFunctionConcurrency": 1, "UpdateStage": 1},
        "hand-written (both): same duplicates, same writes": all(
            other["duplicates"] == expected_duplicates
            and other["writes"] == {"PutFunctionConcurrency": 1, "UpdateStage": 1}
            for other in (careful, theirs)
        ),
    }
    failed = [check for check, ok in checks.items() if not ok]
    if failed:
        raise RuntimeError(f"alarm storm checks failed: {failed}; ours={ours}; careful={careful}; theirs={theirs}")
    return {
        "notifications": len(events),
        "distinct": distinct,
        "deliveries": deliveries,
        "ours": ours,
        "careful": careful,
        "baseline": theirs,
        "changes_decided": changes_decided,
        "ratio_throughput": ours["per_second"] / careful["per_second"],
        "ratio_throughput_afternoon": ours["per_second"] / theirs["per_second"],
        "checks": list(checks),
    }
