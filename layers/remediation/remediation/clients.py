"""AWS clients: created lazily, once per process, with one retry policy.

Nothing creates a client at import time. Code that needs AWS takes a `Clients` and asks it
for the service; tests hand in a `Clients` with their own clients for the services they fake.
`AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by botocore
itself, so the same code runs against AWS or a local emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_ssm import SSMClient

# Throttling and 5xx are retried by botocore, up to 5 retries ("standard" mode: backoff with jitter,
# retry quota). What still fails after that is the runner's business: audited, then re-raised.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=15,
)


class Clients:
    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        config: Config = RETRY_CONFIG,
        session: boto3.Session | None = None,
    ) -> None:
        self._clients: dict[str, Any] = dict(overrides or {})
        self._config = config
        self._session = session

    def get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            factory = self._session or boto3
            client = self._clients[service] = factory.client(service, config=self._config)  # type: ignore[call-overload]
        return client

    @property
    def lambda_(self) -> LambdaClient:
        return self.get("lambda")  # type: ignore[no-any-return]

    @property
    def apigateway(self) -> APIGatewayClient:
        return self.get("apigateway")  # type: ignore[no-any-return]

    @property
    def cloudwatch(self) -> CloudWatchClient:
        return self.get("cloudwatch")  # type: ignore[no-any-return]

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self.get("dynamodb")  # type: ignore[no-any-return]

    @property
    def events(self) -> EventBridgeClient:
        return self.get("events")  # type: ignore[no-any-return]

    @property
    def rds(self) -> RDSClient:
        return self.get("rds")  # type: ignore[no-any-return]

    @property
    def scheduler(self) -> EventBridgeSchedulerClient:
        return self.get("scheduler")  # type: ignore[no-any-return]

    @property
    def ssm(self) -> SSMClient:
        return self.get("ssm")  # type: ignore[no-any-return]


@cache
def default_clients() -> Clients:
    """The process-wide clients, reused across warm invocations."""
    return Clients()
