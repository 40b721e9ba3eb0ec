"""A small model of the print-on-demand app, for the local story's closed loop (SPEC §9).

Latency falls when reserved concurrency and the stage cache rise; Lambda errors rise when more
concurrency meets a database that cannot take the connections. The model reads the capacity the
remediation controls back from the local AWS, computes the signals from it, publishes the guard
signals (Lambda Errors, Throttles) to the local CloudWatch, and moves the latency alarm as
CloudWatch would (state follows the value against the threshold).

Why it sets the alarm itself: ministack evaluates alarms only inside PutMetricData, ignoring
dimensions and averaging the whole evaluation window, so publishing the latency series would make
its alarms flap on stale datapoints. The model publishes what no template alarm evaluates, and
says the alarm's state in CloudWatch's words (the value, the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: The template's latency warning threshold (ms).
LATENCY_WARNING_MS = 500.0


@dataclass
class AppModel:
    """`load`: requests the app must serve, as a multiple of a normal day's peak."""

    load: float = 1.0
    #: Connections the database takes before it refuses (in concurrent executions); None: no limit.
    database_connections: float | None = None

    def latency_ms(self, capacity: dict[str, Any]) -> float:
        concurrency = float(capacity.get("reservedConcurrency") or 100)
        cache_gb = float(capacity.get("cacheSizeGb") or 0) if capacity.get("cacheEnabled") else 0.0
        # Served from the cache: a share that grows with its size (1.6 GB ≈ 45 %, 6.1 GB ≈ 75 %).
        cached = min(0.8, 0.2 * cache_gb**0.6) if cache_gb else 0.0
        uncached = self.load * (1 - cached)
        return round(180 + 450 * uncached * 100 / concurrency, 1)

    def lambda_errors_per_minute(self, capacity: dict[str, Any]) -> float:
        if self.database_connections is None:
            return 0.0
        concurrency = float(capacity.get("reservedConcurrency") or 100)
        return max(0.0, round((concurrency - self.database_connections) * 0.4, 1))

    def signals(self, capacity: dict[str, Any]) -> dict[str, float]:
        return {"latency": self.latency_ms(capacity), "lambda_errors": self.lambda_errors_per_minute(capacity)}


def publish(cloudwatch: Any, function_name: str, signals: dict[str, float], minutes: int = 3) -> None:
    """The guard signals for the last `minutes`, one datapoint a minute (the last one now)."""
    now = datetime.now(UTC)
    dimensions = [{"Name": "FunctionName", "Value": function_name}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": dimensions,
                "Timestamp": now - timedelta(minutes=m),
                "Value": signals["lambda_errors"],
            }
            for m in range(minutes)
        ],
    )
