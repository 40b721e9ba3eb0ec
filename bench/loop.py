"""The closed loop, timed in the local story: alarm state change → Applied → Verified.

Plays the local story's closed-loop chapter (tools/demo.py) against the local AWS, with the
deployed functions, and reads the times off the audit trail: each `Remediation Applied` of the
spike handler from its alarm's StateChangeTime, and each `Remediation Verified` from the same
state change, less the configured verify delay of every round it took (the time the schedule
deliberately waits). The emulator fires one-time schedules on a 10 s sweep, so the verified
figure carries up to 10 s of the emulator's own per round; EventBridge Scheduler on AWS does not
sweep like that. SNS → Lambda delivery on AWS (the anchor) is the published p50 73 ms, p99 225 ms.
"""

# ruff: noqa: PLC0415  (tools/ is importable only once world.py put it on sys.path)

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime
from typing import Any

#: SNS → Lambda delivery, p50 and p99 in seconds: the anchor the issue gives.
SNS_TO_LAMBDA = {"p50": 0.073, "p99": 0.225}


def measure(log: Callable[[str], None]) -> dict[str, Any]:
    import demo
    from local_aws import LocalAws, audit_capture

    with LocalAws() as aws:
        outputs, standins = demo.deploy(aws, lambda message: log(f"  {message}"))
        alarm_queue = demo.subscribe_alarm_capture(aws, outputs["AlarmTopicArn"])
        with audit_capture(aws, outputs["AuditBusName"]) as audit_queue:
            story = demo.Story(
                aws,
                outputs,
                standins,
                audit_queue=audit_queue,
                alarm_queue=alarm_queue,
                on_step=lambda title: log(f"  {title}"),
            )
            story.prepare()
            story.closed_loop()
    return figures([event for result in story.results for event in result.events], demo.VERIFY_AFTER_SECONDS)


def figures(events: list[dict[str, Any]], delay_seconds: float) -> dict[str, Any]:
    """Seconds from each decision's alarm state change, with the deliberate waits taken out."""
    applied, verified = [], []
    for event in events:
        detail = event["detail"]
        alarm = detail.get("alarm") or {}
        if not alarm.get("stateChangeTime"):
            continue
        since = (
            datetime.fromisoformat(detail["timestamp"]) - datetime.fromisoformat(alarm["stateChangeTime"])
        ).total_seconds()
        if detail["outcome"] == "applied" and detail["handler"] == "spike_handler":
            applied.append(since)
        elif detail["outcome"] == "verified":
            verified.append(since - delay_seconds * detail["verifies"]["round"])
    return {
        "delaySeconds": delay_seconds,
        "applied": _stats(applied),
        "verified": _stats(verified),
        "anchor": SNS_TO_LAMBDA,
    }


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "worst": None}
    return {"n": len(values), "median": statistics.median(values), "worst": max(values)}
