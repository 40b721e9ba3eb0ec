"""The runbook's table (SPEC §2): which metric is which signal, and at what level.

Alarms are recognised by what they watch (namespace, metric name, the dimension that names
the app's resource), never by their name, so alarms that people create by hand are handled
exactly like the template's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from msgspec import Struct

from remediation.alarm import AlarmConfig, AlarmNotification, MetricIdentity
from remediation.errors import NotApplicable, UnknownAlarm
from remediation.settings import Settings


class Signal(StrEnum):
    API_LATENCY = "api-latency"
    LAMBDA_CONCURRENCY = "lambda-concurrency"
    API_ERROR_RATE = "api-error-rate"
    DB_CPU = "db-cpu"
    S3_REQUEST_RATE = "s3-request-rate"


#: The alarms whose OK transition may lead to a scale-down, and whose ALARM blocks one.
TRAFFIC_SIGNALS = frozenset({Signal.API_LATENCY, Signal.LAMBDA_CONCURRENCY})


class Level(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class _Rule(Struct, frozen=True):
    signal: Signal
    namespace: str
    metric_names: frozenset[str]
    dimension: str
    #: Settings attribute holding the app's resource name for `dimension`.
    target_setting: str


# Order matters: an error-rate alarm reads `Count` too, so 5XXError is looked for first.
_RULES = (
    _Rule(Signal.API_ERROR_RATE, "AWS/ApiGateway", frozenset({"5XXError"}), "ApiName", "target_api_name"),
    _Rule(Signal.API_LATENCY, "AWS/ApiGateway", frozenset({"Latency"}), "ApiName", "target_api_name"),
    _Rule(
        Signal.LAMBDA_CONCURRENCY,
        "AWS/Lambda",
        frozenset({"ConcurrentExecutions"}),
        "FunctionName",
        "target_function_name",
    ),
    _Rule(Signal.DB_CPU, "AWS/RDS", frozenset({"CPUUtilization"}), "DBInstanceIdentifier", "target_db_instance_id"),
    _Rule(
        Signal.S3_REQUEST_RATE,
        "AWS/S3",
        frozenset({"AllRequests", "GetRequests", "PutRequests"}),
        "BucketName",
        "media_bucket_name",
    ),
)


class Recognised(Struct, frozen=True):
    signal: Signal
    level: Level
    #: The app resource the alarm watches (function, API, DB instance, bucket).
    resource: str


def _matches(rule: _Rule, metrics: Iterable[MetricIdentity]) -> list[MetricIdentity]:
    return [m for m in metrics if m.namespace == rule.namespace and m.metric_name in rule.metric_names]


def _resource(rule: _Rule, metric: MetricIdentity, settings: Settings) -> str:
    expected = str(getattr(settings, rule.target_setting))
    actual = metric.dimension(rule.dimension)
    if actual is None:
        raise UnknownAlarm(
            f"{rule.namespace} {metric.metric_name} alarm has no {rule.dimension} dimension: "
            "cannot tell which resource it watches"
        )
    if expected and actual != expected:
        raise UnknownAlarm(f"alarm watches {rule.dimension}={actual}, not the app's {expected}")
    if rule.namespace == "AWS/ApiGateway":
        stage = metric.dimension("Stage")
        if stage is not None and stage != settings.target_api_stage:
            raise UnknownAlarm(f"alarm watches stage {stage}, not the app's {settings.target_api_stage}")
    return actual


def _critical_boundary(signal: Signal, settings: Settings) -> float:
    return {
        Signal.API_LATENCY: settings.latency_critical_ms,
        Signal.LAMBDA_CONCURRENCY: settings.concurrency_critical,
        Signal.API_ERROR_RATE: settings.error_rate_critical_percent,
        Signal.DB_CPU: settings.db_cpu_critical_percent,
        Signal.S3_REQUEST_RATE: settings.s3_requests_critical_per_second,
    }[signal]


def _level(signal: Signal, threshold: float, period: int | None, metric_math: bool, settings: Settings) -> Level:
    if signal is Signal.S3_REQUEST_RATE and not metric_math and period:
        # A plain S3 request-metric alarm counts requests per period; the table speaks per second.
        threshold = threshold / period
    return Level.CRITICAL if threshold >= _critical_boundary(signal, settings) else Level.WARNING


def recognise_metrics(metrics: Iterable[MetricIdentity], settings: Settings) -> tuple[Signal, str] | None:
    """The signal and resource a set of metrics stands for, or None when it is none of the table's."""
    metrics = list(metrics)
    for rule in _RULES:
        matched = _matches(rule, metrics)
        if matched:
            return rule.signal, _resource(rule, matched[0], settings)
    return None


def _recognised(
    name: str,
    metrics: tuple[MetricIdentity, ...],
    *,
    threshold: float | None,
    period: int | None,
    metric_math: bool,
    settings: Settings,
) -> Recognised:
    found = recognise_metrics(metrics, settings)
    if found is None:
        watched = ", ".join(f"{m.namespace} {m.metric_name}" for m in metrics) or "nothing"
        raise UnknownAlarm(f"alarm {name!r} watches {watched}: not a signal of the runbook")
    signal, resource = found
    return Recognised(signal, _level(signal, threshold or 0.0, period, metric_math, settings), resource)


def recognise(alarm: AlarmNotification, settings: Settings) -> Recognised:
    """Which row of the runbook's table a notification says it is. Raises `UnknownAlarm`."""
    trigger = alarm.Trigger
    period = trigger.Period if trigger else None
    return _recognised(
        alarm.name,
        alarm.metrics,
        threshold=alarm.threshold,
        period=period,
        metric_math=bool(trigger and trigger.is_metric_math),
        settings=settings,
    )


def reconcile(alarm: AlarmNotification, config: AlarmConfig, settings: Settings) -> tuple[Recognised, list[str]]:
    """Which row the alarm's own configuration says it is: that decides, not the message.

    Returns it with what the message said differently (for the audit event). Raises
    `NotApplicable` for an alarm that does not fire on high load (a cost alarm on low CPU, say)
    or that watches nothing of the runbook's table any more.
    """
    if not config.fires_on_high_load:
        raise NotApplicable(
            f"alarm {config.name} fires when its metric is {config.comparison} {config.threshold:g}: "
            "not a load signal, so no runbook acts on it"
            if config.threshold is not None
            else f"alarm {config.name} has no threshold comparison: not a load signal"
        )
    try:
        recognised = _recognised(
            config.name,
            config.metrics,
            threshold=config.threshold,
            period=config.period,
            metric_math=config.metric_math,
            settings=settings,
        )
    except UnknownAlarm as error:
        raise NotApplicable(f"as configured now, {error}") from error
    trigger = alarm.Trigger
    said = {
        "threshold": (alarm.threshold, config.threshold),
        "comparison": (trigger.ComparisonOperator if trigger else None, config.comparison),
        "metrics": (
            sorted(f"{m.namespace} {m.metric_name}" for m in alarm.metrics),
            sorted(f"{m.namespace} {m.metric_name}" for m in config.metrics),
        ),
    }
    notes = [
        f"the notification says {field} {message!r}, the alarm is configured with {configured!r}"
        for field, (message, configured) in said.items()
        if message != configured
    ]
    return recognised, notes
