"""The checks that make it safe to act at 3 a.m. without a human (SPEC §4).

Each check either passes quietly or raises the typed error that names its limit; the runner
turns that into the audit event. None of them writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from remediation.alarm import Arn, MetricIdentity
from remediation.errors import (
    AlarmNoLongerFiring,
    CooldownActive,
    HysteresisActive,
    RemediationDisabled,
    TrafficAlarmActive,
    UnknownAlarm,
    UntrustedSource,
)
from remediation.signals import TRAFFIC_SIGNALS, recognise_metrics

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ssm import SSMClient

    from remediation.alarm import AlarmDelivery, AlarmNotification
    from remediation.settings import Settings

logger = Logger()


def own_account(invoked_function_arn: str | None) -> str:
    arn = Arn.parse(invoked_function_arn or "")
    if arn is None:
        raise UntrustedSource(f"cannot tell this function's account from {invoked_function_arn!r}")
    return arn.account


def check_trust(delivery: AlarmDelivery, settings: Settings, account: str) -> None:
    """Act only on a trusted topic AND an alarm of our own account (both must hold)."""
    context = {"topic_arn": delivery.topic_arn, "message_id": delivery.message_id, "alarm_name": delivery.alarm.name}
    if settings.alarm_topic_arns:
        if delivery.topic_arn not in settings.alarm_topic_arns:
            raise UntrustedSource(f"topic {delivery.topic_arn} is not in ALARM_TOPIC_ARNS", **context)
    else:
        topic = Arn.parse(delivery.topic_arn)
        if topic is None or topic.account != account:
            raise UntrustedSource(
                f"topic {delivery.topic_arn} is not in this function's account {account} (ALARM_TOPIC_ARNS unset)",
                **context,
            )
    if delivery.alarm.account_id != account:
        raise UntrustedSource(
            f"alarm belongs to account {delivery.alarm.account_id}, not this function's account {account}",
            **context,
        )


def check_kill_switch(settings: Settings, ssm: SSMClient) -> None:
    """`REMEDIATION_ENABLED=false`, or the SSM parameter saying so, makes every handler audit-only."""
    if not settings.remediation_enabled:
        raise RemediationDisabled("kill switch: REMEDIATION_ENABLED=false, audit only")
    if not settings.kill_switch_parameter:
        return
    try:
        value = ssm.get_parameter(Name=settings.kill_switch_parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            logger.warning(
                "kill switch parameter not found; remediation stays enabled",
                extra={"parameter": settings.kill_switch_parameter},
            )
            return
        # Not knowing whether someone pulled the switch is a reason not to act.
        raise RemediationDisabled(
            f"kill switch {settings.kill_switch_parameter} could not be read ({error}); not acting"
        ) from error
    if value.strip().lower() in {"false", "0", "off", "no", "disabled"}:
        raise RemediationDisabled(
            f"kill switch: SSM parameter {settings.kill_switch_parameter} is {value!r}, audit only"
        )


def _alarm_metrics(alarm: dict[str, Any]) -> list[MetricIdentity]:
    if alarm.get("MetricName"):
        return [
            MetricIdentity(
                alarm.get("Namespace", ""),
                alarm["MetricName"],
                tuple((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])),
            )
        ]
    identities = []
    for query in alarm.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric")
        if metric:
            identities.append(
                MetricIdentity(
                    metric.get("Namespace", ""),
                    metric.get("MetricName", ""),
                    tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
                )
            )
    return identities


def verify_alarm_state(cloudwatch: CloudWatchClient, alarm: AlarmNotification, expected: str) -> None:
    """Re-read the alarm: notifications can be late, and the world may have moved on."""
    response = cloudwatch.describe_alarms(AlarmNames=[alarm.name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    found = response.get("MetricAlarms", []) + response.get("CompositeAlarms", [])  # type: ignore[operator]
    if not found:
        raise AlarmNoLongerFiring(f"alarm {alarm.name} no longer exists")
    state = found[0]["StateValue"]
    if state != expected:
        raise AlarmNoLongerFiring(f"alarm {alarm.name} is {state} now, no longer {expected}: nothing to do")


def firing_traffic_alarms(cloudwatch: CloudWatchClient, settings: Settings) -> list[str]:
    """Traffic alarms on the app's resources still in ALARM (whoever created them)."""
    firing = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM", AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            try:
                found = recognise_metrics(_alarm_metrics(alarm), settings)  # type: ignore[arg-type]
            except UnknownAlarm:
                continue  # watches another API or function: not ours to wait for
            if found and found[0] in TRAFFIC_SIGNALS:
                firing.append(alarm["AlarmName"])
    return firing


def check_no_traffic_alarm_firing(cloudwatch: CloudWatchClient, settings: Settings) -> None:
    firing = firing_traffic_alarms(cloudwatch, settings)
    if firing:
        raise TrafficAlarmActive(f"traffic alarm still in ALARM: {', '.join(sorted(firing))}; keeping the scale-up")


def check_cooldown(last_raise: float | None, now: float, cooldown_seconds: int, what: str) -> None:
    if last_raise is not None and now - last_raise < cooldown_seconds:
        raise CooldownActive(f"{what} was raised {int(now - last_raise)} s ago; cooldown is {cooldown_seconds} s")


def check_hysteresis(last_raises: Iterable[float | None], now: float, hysteresis_seconds: int) -> None:
    latest = max((t for t in last_raises if t is not None), default=None)
    if latest is not None and now - latest < hysteresis_seconds:
        raise HysteresisActive(f"last scale-up was {int(now - latest)} s ago; scale-down waits {hysteresis_seconds} s")
