"""What the runbook reads before acting, recorded in the audit event as `evidence`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

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
