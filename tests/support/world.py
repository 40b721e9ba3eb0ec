"""Ways to put the app's world in a state the runbook's stories start from."""

from __future__ import annotations

import json
from datetime import datetime

from support.app import STACK, App, load_event

FUNCTION = {"FunctionName": "printapp-api"}
API = {"ApiName": "printapp-api", "Stage": "prod"}
DB = {"DBInstanceIdentifier": "printapp-db"}

#: The template's traffic alarms (and the hand-made-style p90 one in ALARMS).
TRAFFIC_ALARMS = (
    f"{STACK}-api-latency-warning",
    f"{STACK}-api-latency-critical",
    f"{STACK}-lambda-concurrency-warning",
    f"{STACK}-lambda-concurrency-critical",
    f"{STACK}-api-latency-p90",
)


def calm_traffic_alarms(app: App) -> None:
    """Every traffic alarm back to OK."""
    for name in TRAFFIC_ALARMS:
        app.set_alarm(name, "OK")


def changed_at(event_name: str) -> datetime:
    message = json.loads(load_event(event_name)["Records"][0]["Sns"]["Message"])
    return datetime.fromisoformat(message["StateChangeTime"])


def errors_with(app: App, event_name: str, *, throttles: float = 0, errors: float = 0, db_cpu: float = 20) -> None:
    """The app's metrics in an error-rate alarm's window: 5XX high, plus whatever the cause is."""
    end = changed_at(event_name)
    app.put_metric("AWS/ApiGateway", "5XXError", API, [40, 55, 61], end)
    app.put_metric("AWS/ApiGateway", "Count", API, [500, 520, 540], end)
    app.put_metric("AWS/Lambda", "Invocations", FUNCTION, [480, 500, 510], end)
    app.put_metric("AWS/Lambda", "Duration", FUNCTION, [180, 210, 190], end)
    app.put_metric("AWS/Lambda", "Throttles", FUNCTION, [throttles / 3] * 3, end)
    app.put_metric("AWS/Lambda", "Errors", FUNCTION, [errors / 3] * 3, end)
    app.put_metric("AWS/RDS", "CPUUtilization", DB, [db_cpu - 5, db_cpu, db_cpu - 2], end)
    app.put_metric("AWS/RDS", "DatabaseConnections", DB, [80, 85, 90], end)
