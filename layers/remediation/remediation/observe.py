"""The engine's reads: what a runbook asked for (`Need`), read once, handed over as `Facts`.

Runbooks never read AWS themselves; this is where the alarm is re-read (verify before acting),
the traffic and the triage components are measured, and the state table's history is looked up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from remediation import actions
from remediation.actions.db_instance import describe_instance, instance_state
from remediation.alarm import AlarmConfig, MetricIdentity
from remediation.errors import UnknownAlarm
from remediation.intents import Facts, History, Need
from remediation.signals import TRAFFIC_SIGNALS, recognise_metrics

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricAlarmTypeDef, MetricDataQueryTypeDef

    from remediation.alarm import AlarmNotification
    from remediation.clients import Clients
    from remediation.settings import Settings
    from remediation.state import StateStore

logger = Logger()

#: Shortest window read for triage when the alarm's own is shorter (CloudWatch's 1-minute resolution).
_MIN_TRIAGE_WINDOW = timedelta(minutes=5)


def observe(
    needs: Iterable[Need],
    alarm: AlarmNotification,
    *,
    settings: Settings,
    clients: Clients,
    state: StateStore,
) -> Facts:
    """Read what was asked for, and nothing else."""
    needs = frozenset(needs)
    facts: dict[str, Any] = {"read": needs}
    cloudwatch = clients.cloudwatch
    if Need.ALARM in needs:
        facts["alarm"] = read_alarm(cloudwatch, alarm.name)
    if Need.TRAFFIC in needs:
        facts["traffic"] = read_traffic(cloudwatch, settings)
    if Need.TRIAGE_COMPONENTS in needs:
        start, end = evaluation_window(alarm)
        facts["triage_window"] = (start.isoformat(), end.isoformat())
        facts["components"] = read_components(cloudwatch, settings, start, end)
    if Need.FIRING_TRAFFIC_ALARMS in needs:
        facts["firing_traffic_alarms"] = tuple(firing_traffic_alarms(cloudwatch, settings))
    history: dict[str, History] = {}
    if Need.SCALE_HISTORY in needs:
        traffic = (actions.SetReservedConcurrency(clients, settings), actions.SetStageCache(clients, settings))
        found = state.histories([(action.name, action.target()) for action in traffic])
        for action in traffic:
            last, baseline = found[(action.name, action.target())]
            history[action.name] = History(last.applied_at if last else None, baseline)
        facts["raises"] = {key: last for key, (last, _) in found.items()}
    if Need.DATABASE in needs:
        instance_id = settings.target_db_instance_id
        facts["database"] = instance_state(describe_instance(clients.rds, instance_id))
        step_up = actions.StepUpInstanceClass.name
        history[step_up] = History(baseline=state.baseline(step_up, instance_id))
    facts["history"] = history
    return Facts(**facts)


def _metrics_of(alarm: MetricAlarmTypeDef) -> tuple[MetricIdentity, ...]:
    if alarm.get("MetricName"):
        return (
            MetricIdentity(
                alarm.get("Namespace", ""),
                alarm["MetricName"],
                tuple((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])),
            ),
        )
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
    return tuple(identities)


def read_alarm(cloudwatch: CloudWatchClient, name: str) -> AlarmConfig | None:
    """The alarm as CloudWatch has it now; None when it no longer exists."""
    config, _ = read_alarm_with_metric(cloudwatch, name)
    return config


def read_alarm_with_metric(
    cloudwatch: CloudWatchClient, name: str
) -> tuple[AlarmConfig | None, MetricAlarmTypeDef | None]:
    """The alarm's configuration, and the metric alarm as DescribeAlarms gives it (its metric query)."""
    response = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    for metric_alarm in response.get("MetricAlarms", []):
        return (
            AlarmConfig(
                name=metric_alarm["AlarmName"],
                state=metric_alarm["StateValue"],
                threshold=metric_alarm.get("Threshold"),
                comparison=metric_alarm.get("ComparisonOperator"),
                metrics=_metrics_of(metric_alarm),
                period=alarm_period(metric_alarm),
                metric_math=bool(metric_alarm.get("Metrics")),
            ),
            metric_alarm,
        )
    for composite in response.get("CompositeAlarms", []):
        return AlarmConfig(composite["AlarmName"], composite["StateValue"], None, None, ()), None
    return None, None


def alarm_period(metric_alarm: MetricAlarmTypeDef) -> int | None:
    queries = metric_alarm.get("Metrics", [])
    return metric_alarm.get("Period") or next(
        (q["MetricStat"]["Period"] for q in queries if "MetricStat" in q and "Period" in q["MetricStat"]), None
    )


def read_alarm_metric(
    cloudwatch: CloudWatchClient, metric_alarm: MetricAlarmTypeDef, start: datetime, end: datetime
) -> tuple[str, list[float]]:
    """The series the alarm evaluates, over [start, end], oldest first: its metric with its
    statistic, or the expression a metric-math alarm returns. (label, values)."""
    queries: list[MetricDataQueryTypeDef]
    if metric_alarm.get("MetricName"):
        label = f"{metric_alarm.get('Namespace', '')} {metric_alarm['MetricName']}".strip()
        stat = metric_alarm.get("Statistic") or metric_alarm.get("ExtendedStatistic") or "Average"
        wanted: str | None = "symptom"
        queries = [
            {
                "Id": "symptom",
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric_alarm.get("Namespace", ""),
                        "MetricName": metric_alarm["MetricName"],
                        "Dimensions": [
                            {"Name": d["Name"], "Value": d["Value"]} for d in metric_alarm.get("Dimensions", [])
                        ],
                    },
                    "Period": metric_alarm.get("Period") or 60,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        ]
    else:
        queries = [dict(query) for query in metric_alarm.get("Metrics", [])]  # type: ignore[misc]
        returned: Mapping[str, Any] = next((q for q in queries if q.get("ReturnData", True)), {})
        label = str(returned.get("Label") or returned.get("Expression") or "metric math")
        wanted = returned.get("Id")
    if not queries:
        return "", []
    response = cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    for result in response.get("MetricDataResults", []):
        if result.get("Id") == wanted:
            pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
            return label, [value for _, value in pairs]
    return label, []


def firing_traffic_alarms(cloudwatch: CloudWatchClient, settings: Settings) -> list[str]:
    """Traffic alarms on the app's resources still in ALARM (whoever created them)."""
    firing = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM", AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            try:
                found = recognise_metrics(_metrics_of(alarm), settings)
            except UnknownAlarm:
                continue  # watches another API or function: not ours to wait for
            if found and found[0] in TRAFFIC_SIGNALS:
                firing.append(alarm["AlarmName"])
    return firing


def evaluation_window(alarm: AlarmNotification) -> tuple[datetime, datetime]:
    """The alarm's evaluation window, ending at its state change (at least five minutes)."""
    trigger = alarm.Trigger
    period = 60
    periods = 1
    if trigger is not None:
        period = trigger.Period or next(
            (q.MetricStat.Period for q in trigger.Metrics if q.MetricStat and q.MetricStat.Period), 60
        )
        periods = trigger.EvaluationPeriods
    end = alarm.changed_at
    return end - max(timedelta(seconds=period * periods), _MIN_TRIAGE_WINDOW), end


def read_traffic(cloudwatch: CloudWatchClient, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Runbook step 1: API requests per minute over the last hour (AWS/ApiGateway `Count`, Sum)."""
    end = now or datetime.now(UTC)
    try:
        response = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "requests",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApiGateway",
                            "MetricName": "Count",
                            "Dimensions": [
                                {"Name": "ApiName", "Value": settings.target_api_name},
                                {"Name": "Stage", "Value": settings.target_api_stage},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=end - timedelta(hours=1),
            EndTime=end,
        )
    except (ClientError, BotoCoreError) as error:
        # Evidence helps the human who reads the trail; missing it must not stop the remediation.
        logger.warning("could not read traffic", extra={"error": str(error)})
        return {"metric": "AWS/ApiGateway Count", "error": str(error)}
    values = [v for result in response["MetricDataResults"] for v in result.get("Values", [])]
    return {
        "metric": "AWS/ApiGateway Count",
        "periodSeconds": 60,
        "window": "PT1H",
        "datapoints": len(values),
        # GetMetricData returns newest first.
        "latestPerMinute": values[0] if values else None,
        "peakPerMinute": max(values) if values else None,
        "meanPerMinute": round(sum(values) / len(values), 2) if values else None,
    }


# id → (namespace, metric, statistic, dimension key of the app resource). One GetMetricData call.
_COMPONENTS: dict[str, tuple[str, str, str, str]] = {
    "lambdaErrors": ("AWS/Lambda", "Errors", "Sum", "function"),
    "lambdaThrottles": ("AWS/Lambda", "Throttles", "Sum", "function"),
    "lambdaInvocations": ("AWS/Lambda", "Invocations", "Sum", "function"),
    "lambdaDurationMs": ("AWS/Lambda", "Duration", "Average", "function"),
    "api5xx": ("AWS/ApiGateway", "5XXError", "Sum", "api"),
    "apiRequests": ("AWS/ApiGateway", "Count", "Sum", "api"),
    "dbCpuPercent": ("AWS/RDS", "CPUUtilization", "Maximum", "db"),
    "dbConnections": ("AWS/RDS", "DatabaseConnections", "Maximum", "db"),
}


def read_components(
    cloudwatch: CloudWatchClient, settings: Settings, start: datetime, end: datetime
) -> dict[str, float | None]:
    """The component metrics of an error-rate window, in one GetMetricData call.

    Sums are totals over the window; averages and maxima are over the window too.
    """
    dimensions: dict[str, list[DimensionTypeDef]] = {
        "function": [{"Name": "FunctionName", "Value": settings.target_function_name}],
        "api": [
            {"Name": "ApiName", "Value": settings.target_api_name},
            {"Name": "Stage", "Value": settings.target_api_stage},
        ],
        "db": [{"Name": "DBInstanceIdentifier", "Value": settings.target_db_instance_id}],
    }
    # One period spanning the window: a total (or maximum) per component, not a series.
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    queries: list[MetricDataQueryTypeDef] = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions[resource]},
                "Period": period,
                "Stat": stat,
            },
        }
        for query_id, (namespace, metric, stat, resource) in _COMPONENTS.items()
    ]
    response = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    found: dict[str, float | None] = dict.fromkeys(_COMPONENTS)
    for result in response["MetricDataResults"]:
        values = result.get("Values", [])
        query_id = result.get("Id", "")
        if query_id in found and values:
            statistic = _COMPONENTS[query_id][2]
            found[query_id] = sum(values) if statistic == "Sum" else max(values)
    return found
