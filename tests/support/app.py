"""The print-on-demand app's resources, as stand-ins in moto, and ways to look at them.

Everything a test asserts is read back from the (moto) AWS APIs, like an on-call engineer
would read it from the console, not taken from the handler's own report.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import moto  # noqa: F401  (imported before SESSION: a session takes the handlers moto registers)

from remediation.clients import Clients
from remediation.settings import Settings
from standins import AccountSettingsLambda, create_standins
from support.fakes import ACCOUNT_ID, REGION

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
STACK = "printapp-remediation"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{STACK}-alarms"
VERIFIER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK}-verifier"
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK}-VerifySchedulerRole-0123456789AB"
API_DIMENSIONS = [{"Name": "ApiName", "Value": "printapp-api"}, {"Name": "Stage", "Value": "prod"}]

ERROR_RATE_QUERIES = [
    {
        "Id": "error_rate",
        "Expression": "100 * errors / requests",
        "Label": "API 5XX error rate (%)",
        "ReturnData": True,
    },
    {
        "Id": "errors",
        "ReturnData": False,
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "5XXError", "Dimensions": API_DIMENSIONS},
            "Period": 60,
            "Stat": "Sum",
        },
    },
    {
        "Id": "requests",
        "ReturnData": False,
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count", "Dimensions": API_DIMENSIONS},
            "Period": 60,
            "Stat": "Sum",
        },
    },
]

#: The template's alarms, as the events/ files name them.
ALARMS: dict[str, dict[str, Any]] = {
    f"{STACK}-api-latency-warning": {
        "Namespace": "AWS/ApiGateway",
        "MetricName": "Latency",
        "Dimensions": API_DIMENSIONS,
        "Statistic": "Average",
        "Threshold": 500.0,
    },
    f"{STACK}-api-latency-critical": {
        "Namespace": "AWS/ApiGateway",
        "MetricName": "Latency",
        "Dimensions": API_DIMENSIONS,
        "Statistic": "Average",
        "Threshold": 1000.0,
    },
    f"{STACK}-lambda-concurrency-warning": {
        "Namespace": "AWS/Lambda",
        "MetricName": "ConcurrentExecutions",
        "Dimensions": [{"Name": "FunctionName", "Value": "printapp-api"}],
        "Statistic": "Maximum",
        "Threshold": 500.0,
    },
    f"{STACK}-lambda-concurrency-critical": {
        "Namespace": "AWS/Lambda",
        "MetricName": "ConcurrentExecutions",
        "Dimensions": [{"Name": "FunctionName", "Value": "printapp-api"}],
        "Statistic": "Maximum",
        "Threshold": 800.0,
    },
    f"{STACK}-db-cpu-warning": {
        "Namespace": "AWS/RDS",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "printapp-db"}],
        "Statistic": "Average",
        "Threshold": 60.0,
    },
    f"{STACK}-db-cpu-critical": {
        "Namespace": "AWS/RDS",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "printapp-db"}],
        "Statistic": "Average",
        "Threshold": 80.0,
    },
    f"{STACK}-api-error-rate-warning": {"Metrics": ERROR_RATE_QUERIES, "Threshold": 1.0},
    f"{STACK}-api-error-rate-critical": {"Metrics": ERROR_RATE_QUERIES, "Threshold": 5.0},
    f"{STACK}-api-latency-p90": {
        "Namespace": "AWS/ApiGateway",
        "MetricName": "Latency",
        "Dimensions": API_DIMENSIONS,
        "ExtendedStatistic": "p90",
        "Threshold": 500.0,
    },
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def alarm_message(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event["Records"][0]["Sns"]["Message"])  # type: ignore[no-any-return]


def with_message(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same SNS event with fields of the alarm message changed (None removes a field)."""
    event = copy.deepcopy(event)
    message = alarm_message(event)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def with_sns(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["Records"][0]["Sns"].update(changes)
    return event


#: One session for every test's clients: botocore then loads each service's model once per run,
#: not once per test (moto resets boto3's default session whenever a mock starts). Made after
#: moto is imported, so the session carries moto's handlers.
SESSION = boto3.Session(region_name=REGION)


def client(service: str) -> Any:
    return SESSION.client(service)  # type: ignore[call-overload]


class App:
    """Stand-ins for printapp-api (function, REST API, stage) plus this project's own table and bus."""

    def __init__(self) -> None:
        self.lambda_ = client("lambda")
        self.apigateway = client("apigateway")
        self.cloudwatch = client("cloudwatch")
        self.dynamodb = client("dynamodb")
        self.events = client("events")
        self.sqs = client("sqs")
        self.ssm = client("ssm")
        self.rds = client("rds")
        self.scheduler = client("scheduler")
        self.table = f"{STACK}-state"
        self.bus = f"{STACK}-audit"
        self.schedule_group = f"{STACK}-verify"
        self.scheduler.create_schedule_group(Name=self.schedule_group)
        standins = create_standins(client)
        self.function_name = standins.function_name
        self.rest_api_id = standins.rest_api_id
        self.db_instance_id = standins.db_instance_id
        self._create_table()
        self.audit_queue_url = self._create_audit_capture()
        for name in ALARMS:
            self.put_alarm(name)
        # The handler's own clients come from our factory, so its retry policy is what is tested;
        # only Lambda is wrapped, to add the GetAccountSettings that moto lacks.
        self.account = AccountSettingsLambda(Clients(session=SESSION).lambda_)
        self.handler_clients = Clients(overrides={"lambda": self.account}, session=SESSION)

    # --- setup -----------------------------------------------------------------------------

    def _create_table(self) -> None:
        self.dynamodb.create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.dynamodb.update_time_to_live(
            TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )

    def _create_audit_capture(self) -> str:
        """The template's example subscriber is a rule → log group; here the rule feeds a queue."""
        self.events.create_event_bus(Name=self.bus)
        queue_url: str = self.sqs.create_queue(QueueName="audit-capture")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(
            Name="audit-capture", EventBusName=self.bus, EventPattern=json.dumps({"source": ["printapp.remediation"]})
        )
        self.events.put_targets(
            Rule="audit-capture", EventBusName=self.bus, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        return queue_url

    def put_alarm(self, name: str, state: str = "ALARM") -> None:
        spec = dict(ALARMS[name])
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            Period=60,
            EvaluationPeriods=3,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[TOPIC_ARN],
            OKActions=[TOPIC_ARN],
            **spec,
        )
        self.set_alarm(name, state)

    # --- what the handlers are given -----------------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        environ = {
            "AUDIT_BUS_NAME": self.bus,
            "STATE_TABLE_NAME": self.table,
            "TARGET_REST_API_ID": self.rest_api_id,
            "VERIFY_SCHEDULE_GROUP": self.schedule_group,
            "VERIFIER_FUNCTION_ARN": VERIFIER_ARN,
            "SCHEDULER_ROLE_ARN": SCHEDULER_ROLE_ARN,
            **{key: str(value) for key, value in overrides.items()},
        }
        return Settings.from_environ(environ)

    def clients(self) -> Clients:
        return self.handler_clients

    # --- the world, as read back from AWS ------------------------------------------------------

    def set_alarm(self, name: str, state: str) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")

    def reserved_concurrency(self) -> int | None:
        return self.lambda_.get_function_concurrency(FunctionName=self.function_name).get(
            "ReservedConcurrentExecutions"
        )

    def set_reserved_concurrency(self, value: int | None) -> None:
        if value is None:
            self.lambda_.delete_function_concurrency(FunctionName=self.function_name)
        else:
            self.lambda_.put_function_concurrency(FunctionName=self.function_name, ReservedConcurrentExecutions=value)

    def stage_cache(self) -> tuple[bool, Decimal | None]:
        stage = self.apigateway.get_stage(restApiId=self.rest_api_id, stageName="prod")
        enabled = bool(stage.get("cacheClusterEnabled"))
        return enabled, Decimal(str(stage["cacheClusterSize"])) if enabled else None

    def set_stage_cache(self, enabled: bool, size: str = "0.5") -> None:
        self.apigateway.update_stage(
            restApiId=self.rest_api_id,
            stageName="prod",
            patchOperations=[
                {"op": "replace", "path": "/cacheClusterEnabled", "value": str(enabled).lower()},
                {"op": "replace", "path": "/cacheClusterSize", "value": size},
            ],
        )

    def put_metric(
        self, namespace: str, metric: str, dimensions: dict[str, str], values: list[float], end: datetime
    ) -> None:
        """Datapoints one minute apart, the last one a minute before `end` (the alarm's state change)."""
        self.cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Value": value,
                    "Timestamp": end - timedelta(minutes=len(values) - n),
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                }
                for n, value in enumerate(values)
            ],
        )

    def db_instance(self) -> dict[str, Any]:
        return self.rds.describe_db_instances(DBInstanceIdentifier=self.db_instance_id)["DBInstances"][0]  # type: ignore[return-value]

    def set_db_instance_class(self, instance_class: str) -> None:
        self.rds.modify_db_instance(
            DBInstanceIdentifier=self.db_instance_id, DBInstanceClass=instance_class, ApplyImmediately=True
        )

    def schedules(self) -> list[dict[str, Any]]:
        """The verification schedules waiting in the group, in full (GetSchedule)."""
        names = [
            item["Name"]
            for page in self.scheduler.get_paginator("list_schedules").paginate(GroupName=self.schedule_group)
            for item in page.get("Schedules", [])
        ]
        return [self.scheduler.get_schedule(Name=name, GroupName=self.schedule_group) for name in names]

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event delivered to the bus so far (drains the capture queue)."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.audit_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.audit_queue_url, ReceiptHandle=message["ReceiptHandle"])
