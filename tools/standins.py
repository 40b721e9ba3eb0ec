"""Stand-ins for the print-on-demand app: what the runbook acts on, in moto or the local emulator.

The app itself (API function, REST API and its `prod` stage, PostgreSQL instance) is not part
of this project; tests and the demo create look-alikes with the runbook's everyday values:
reserved concurrency 100, stage cache off, db.r5.large.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FUNCTION_NAME = "printapp-api"
API_NAME = "printapp-api"
STAGE = "prod"
DB_INSTANCE_ID = "printapp-db"
EVERYDAY_RESERVED_CONCURRENCY = 100
EVERYDAY_INSTANCE_CLASS = "db.r5.large"


@dataclass(frozen=True)
class StandIns:
    function_name: str
    rest_api_id: str
    stage: str
    db_instance_id: str


def create_standins(
    client: Callable[[str], Any],
    *,
    function_name: str = FUNCTION_NAME,
    api_name: str = API_NAME,
    stage: str = STAGE,
    db_instance_id: str = DB_INSTANCE_ID,
) -> StandIns:
    """Create the app's stand-ins with `client(service)` (boto3 clients for moto or an emulator),
    under the app's names (the runbook's defaults, or a deployment's TARGET_* settings)."""
    iam, lambda_, apigateway, rds = client("iam"), client("lambda"), client("apigateway"), client("rds")
    role = iam.create_role(
        RoleName=f"{function_name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    lambda_.create_function(
        FunctionName=function_name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    lambda_.put_function_concurrency(
        FunctionName=function_name, ReservedConcurrentExecutions=EVERYDAY_RESERVED_CONCURRENCY
    )

    rest_api_id: str = apigateway.create_rest_api(name=api_name)["id"]
    root = apigateway.get_resources(restApiId=rest_api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=rest_api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=rest_api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=rest_api_id, stageName=stage)

    rds.create_db_instance(
        DBInstanceIdentifier=db_instance_id,
        DBInstanceClass=EVERYDAY_INSTANCE_CLASS,
        Engine="postgres",
        AllocatedStorage=100,
        MasterUsername="printapp",
        MasterUserPassword="not-a-real-password",
    )
    return StandIns(function_name, rest_api_id, stage, db_instance_id)


def read_back(client: Callable[[str], Any], standins: StandIns) -> dict[str, Any]:
    """The app's current capacity, as AWS (or the emulator) reports it."""
    concurrency = client("lambda").get_function_concurrency(FunctionName=standins.function_name)
    stage = client("apigateway").get_stage(restApiId=standins.rest_api_id, stageName=standins.stage)
    instance = client("rds").describe_db_instances(DBInstanceIdentifier=standins.db_instance_id)["DBInstances"][0]
    enabled = bool(stage.get("cacheClusterEnabled"))
    return {
        "reservedConcurrency": concurrency.get("ReservedConcurrentExecutions"),
        "cacheEnabled": enabled,
        "cacheSizeGb": str(stage.get("cacheClusterSize")) if enabled else None,
        "instanceClass": instance["DBInstanceClass"],
        "maxAllocatedStorageGb": instance.get("MaxAllocatedStorage"),
        "readReplicas": sorted(instance.get("ReadReplicaDBInstanceIdentifiers", [])),
    }


class AccountSettingsLambda:
    """A moto Lambda client plus `get_account_settings`, which moto does not implement.

    Unreserved concurrency is derived like AWS does: the account limit minus every reservation
    made through this client, so raising a function's reservation really eats the headroom.
    """

    def __init__(self, client: Any, *, account_limit: int = 1000) -> None:
        self.client = client
        self.account_limit = account_limit
        self.account_settings_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def _reserved_total(self) -> int:
        total = 0
        for page in self.client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                reserved = self.client.get_function_concurrency(FunctionName=function["FunctionName"])
                total += reserved.get("ReservedConcurrentExecutions", 0)
        return total

    def get_account_settings(self) -> dict[str, Any]:
        self.account_settings_calls += 1
        return {
            "AccountLimit": {
                "ConcurrentExecutions": self.account_limit,
                "UnreservedConcurrentExecutions": self.account_limit - self._reserved_total(),
            },
            "AccountUsage": {"FunctionCount": 1},
        }
