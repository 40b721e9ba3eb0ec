"""What the runbook reads before acting, recorded in the audit event as `evidence`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef

    from remediation.settings import Settings

logger = Logger()


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
