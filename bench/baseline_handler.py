"""A minimal hand-written boto3 spike handler: what the benchmark compares the engine with.

What an engineer would write in an afternoon: no framework, clients created on first use,
nothing created at import. Per SNS record: dedup the alarm state change with one conditional
PutItem (AlarmArn + StateChangeTime + NewStateValue, TTL a day), re-read the alarm, read the
traffic, raise reserved concurrency to 200 within the account's headroom, enable the stage
cache at 1.6 GB, and send one PutEvents with one entry per decision.

It has none of the engine's cooldowns, locks, storm breaker, baselines, kill switch, dry run,
typed parsing or trust boundary: the difference in cost is the price of those.
"""

import datetime
import json
import os
import time

import boto3

TARGET_CONCURRENCY = 200
UNRESERVED_FLOOR = 100
CACHE_SIZE = "1.6"
DEDUP_SECONDS = 24 * 3600

_clients = {}


def _client(name):
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def lambda_handler(event, context):
    return handle(event, _client, time_now=None)


def handle(event, client, time_now=None):
    """`client(name)` gives the boto3 client of a service (the benchmark hands in moto's)."""
    now = time_now or time.time()
    decisions = []
    duplicates = 0
    entries = []
    for record in event.get("Records", []):
        alarm = json.loads(record["Sns"]["Message"])
        if not _first_delivery(client("dynamodb"), alarm, now):
            duplicates += 1
            continue
        for decision in _remediate(client, alarm):
            decisions.append(decision)
            entries.append(
                {
                    "Source": "printapp.remediation",
                    "DetailType": "Remediation Applied" if decision["outcome"] == "applied" else "Remediation Skipped",
                    "Detail": json.dumps({**decision, "alarm": alarm.get("AlarmName")}),
                    "EventBusName": os.environ["AUDIT_BUS_NAME"],
                }
            )
    if entries:
        client("events").put_events(Entries=entries)
    print(json.dumps({"decisions": decisions, "duplicates": duplicates}))
    return {"decisions": decisions, "duplicates": duplicates}


def _first_delivery(dynamodb, alarm, now):
    key = f"dedup#{alarm.get('AlarmArn')}#{alarm['StateChangeTime']}#{alarm['NewStateValue']}"
    try:
        dynamodb.put_item(
            TableName=os.environ["STATE_TABLE_NAME"],
            Item={"id": {"S": key}, "expiration": {"N": str(int(now + DEDUP_SECONDS))}},
            ConditionExpression="attribute_not_exists(id)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _remediate(client, alarm):
    cloudwatch = client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
    if not found or found[0]["StateValue"] != "ALARM":
        return [{"outcome": "skipped", "reason": "alarm no longer in ALARM"}]
    end = datetime.datetime.now(datetime.UTC)
    traffic = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "requests",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApiGateway",
                        "MetricName": "Count",
                        "Dimensions": [
                            {"Name": "ApiName", "Value": os.environ.get("TARGET_API_NAME", "printapp-api")},
                            {"Name": "Stage", "Value": os.environ.get("TARGET_API_STAGE", "prod")},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=end - datetime.timedelta(hours=1),
        EndTime=end,
    )["MetricDataResults"]
    requests = [v for result in traffic for v in result.get("Values", [])]
    return [_concurrency(client("lambda"), requests), _cache(client("apigateway"))]


def _concurrency(lambda_, requests):
    function = os.environ.get("TARGET_FUNCTION_NAME", "printapp-api")
    current = lambda_.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
    if current is not None and current >= TARGET_CONCURRENCY:
        return {"outcome": "skipped", "action": "concurrency", "reason": f"already {current}"}
    unreserved = lambda_.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    granted = min(TARGET_CONCURRENCY, (current or 0) + unreserved - UNRESERVED_FLOOR)
    if granted <= (current or 0):
        return {"outcome": "skipped", "action": "concurrency", "reason": "no account headroom"}
    lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=granted)
    return {"outcome": "applied", "action": "concurrency", "before": current, "after": granted, "traffic": requests}


def _cache(apigateway):
    api, stage_name = os.environ["TARGET_REST_API_ID"], os.environ.get("TARGET_API_STAGE", "prod")
    stage = apigateway.get_stage(restApiId=api, stageName=stage_name)
    if stage.get("cacheClusterEnabled") and float(stage.get("cacheClusterSize", 0)) >= float(CACHE_SIZE):
        return {"outcome": "skipped", "action": "cache", "reason": "already enabled"}
    apigateway.update_stage(
        restApiId=api,
        stageName=stage_name,
        patchOperations=[
            {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
            {"op": "replace", "path": "/cacheClusterSize", "value": CACHE_SIZE},
        ],
    )
    return {"outcome": "applied", "action": "cache", "after": CACHE_SIZE}
