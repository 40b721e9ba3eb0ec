"""Replay speed: state changes replayed per second, for a generated two-week history.

The history is generated from the template's own alarms (the ten runbook alarms on the alarm
topic, resolved for a stack as CloudFormation would, in the AWS CLI's describe-alarms form):
incidents of a few minutes to an hour, a warning first, sometimes its critical alarm, then OK,
with a seeded random generator, until the wanted number of state changes. It is replayed without
an account (historical metrics missing, as `--no-account`), through the real handlers.

Beside the rate: the AWS calls the simulation made, and the share of the run spent in them
(they go to moto, in process): that share says what a faster replay has to replace.
"""

# ruff: noqa: PLC0415  (tools/ is importable only once world.py put it on sys.path)

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

STACK, REGION, ACCOUNT = "printapp-remediation", "us-east-1", "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-alarms"
#: Warning alarm → its critical alarm, for the incidents that get worse.
_PAIRS = ("api-latency", "lambda-concurrency", "db-cpu", "api-error-rate", "s3-request-rate")


def template_alarms() -> dict[str, Any]:
    """The template's runbook alarms as `aws cloudwatch describe-alarms` prints them."""
    import world
    from cfn_template import Resolver, Stack, load_template

    template = load_template(world.ROOT / "template.yaml")
    resolver = Resolver(template, Stack(STACK, REGION, ACCOUNT), {"TargetRestApiId": "a1b2c3d4e5"})
    alarms = []
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::CloudWatch::Alarm" or properties.get("AlarmActions") != [{"Ref": "AlarmTopic"}]:
            continue
        actions = {key: [TOPIC] for key in ("AlarmActions", "OKActions") if key in properties}
        alarm = _typed(resolver.resolve({key: value for key, value in properties.items() if key not in actions}))
        alarm.update(actions)
        alarm["AlarmArn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['AlarmName']}"
        alarm.setdefault("ActionsEnabled", True)
        alarms.append(alarm)
    return {"MetricAlarms": alarms}


#: Parameters resolve to text; DescribeAlarms gives these as numbers.
_NUMBERS = {"Threshold": float, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Period": int}


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _NUMBERS[key](item) if key in _NUMBERS else _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return value


def generated_history(alarms: dict[str, Any], changes: int, *, days: int = 14, seed: int = 7) -> dict[str, Any]:
    """About `changes` StateUpdate items over `days`, oldest last (as DescribeAlarmHistory pages)."""
    rng = random.Random(seed)
    names = {alarm["AlarmName"] for alarm in alarms["MetricAlarms"]}
    start = datetime(2026, 11, 16, tzinfo=UTC)
    items: list[dict[str, Any]] = []
    # An incident is two changes (warning ALARM, OK) or four (and its critical alarm): ~2.6 on average.
    gap = timedelta(days=days) / (changes / 2.6)
    moment = start
    while len(items) < changes:
        moment += gap * rng.uniform(0.3, 1.7)
        signal = rng.choice(_PAIRS)
        warning, critical = f"{STACK}-{signal}-warning", f"{STACK}-{signal}-critical"
        lasting = timedelta(minutes=rng.uniform(4, 60))
        steps = [(warning, "OK", "ALARM", moment)]
        if critical in names and rng.random() < 0.3:
            steps += [
                (critical, "OK", "ALARM", moment + lasting / 4),
                (critical, "ALARM", "OK", moment + lasting / 2),
            ]
        steps.append((warning, "ALARM", "OK", moment + lasting))
        for name, old, new, at in steps:
            items.append(
                {
                    "AlarmName": name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": at.isoformat(),
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": f"Alarm updated from {old} to {new}",
                    "HistoryData": json.dumps(
                        {
                            "version": "1.0",
                            "oldState": {"stateValue": old},
                            "newState": {"stateValue": new, "stateReason": "Threshold Crossed (generated)"},
                        }
                    ),
                }
            )
        moment += lasting
    return {"AlarmHistoryItems": list(reversed(items[:changes]))}


@contextmanager
def _counted() -> Iterator[tuple[Counter[str], list[float]]]:
    """Every AWS call made meanwhile, by service, and the seconds spent in them."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    spent = [0.0]
    original = BaseClient._make_api_call

    def counting(client: BaseClient, operation: str, params: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            spent[0] += time.perf_counter() - began
            calls[client.meta.service_model.service_name] += 1

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls, spent
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def measure(changes: int, log: Callable[[str], None]) -> dict[str, Any]:
    import replay

    replay._quiet_handlers()
    alarms = template_alarms()
    history = generated_history(alarms, changes)
    state_changes, left_out = replay.state_changes(history, alarms, (TOPIC,))
    log(f"  replaying {len(state_changes)} state changes of {len(alarms['MetricAlarms'])} alarms over two weeks")
    with _counted() as (calls, spent):
        began = time.perf_counter()
        result = replay.simulate(state_changes, left_out=left_out)
        seconds = time.perf_counter() - began
    return {
        "alarms": len(alarms["MetricAlarms"]),
        "changes": len(state_changes),
        "decisions": len(result.decisions),
        "seconds": seconds,
        "perSecond": len(state_changes) / seconds if seconds else None,
        "awsCalls": sum(calls.values()),
        "awsCallsByService": dict(calls.most_common()),
        "awsSeconds": spent[0],
        "outcomes": dict(Counter(d["outcome"] for d in result.decisions).most_common()),
    }
