"""Fakes behind our own interfaces, for what moto does not do faithfully."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class FakeClock:
    """Time that moves only when the test says so (cooldowns, hysteresis)."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """Waiting (lock back-off, audit retries) takes no real time, but time passes."""
        self.now += seconds


@dataclass
class LambdaContext:
    function_name: str = "printapp-remediation-SpikeHandler"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "a1b2c3d4-0000-4000-8000-000000000001"
    account_id: str = ACCOUNT_ID

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{self.account_id}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "2026/11/27/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _service(client: Any) -> str:
    return str(client.meta.service_model.service_id.hyphenize())


class Throttled:
    """Answer the first `times` calls of an operation with a throttling/5xx HTTP response.

    Registered first on `before-send`, so botocore's real retry logic sees a real error
    response and retries. (moto also sees every attempt: use it for transient trouble.)
    """

    def __init__(
        self, client: Any, operation: str, *, times: int, status: int = 429, code: str = "TooManyRequestsException"
    ) -> None:
        self.remaining = times
        self.calls = 0
        self._status = status
        self._code = code
        client.meta.events.register_first(f"before-send.{_service(client)}.{operation}", self)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.calls += 1
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        body = json.dumps({"__type": self._code, "message": "injected by the test"}).encode()
        headers = {"x-amzn-ErrorType": self._code, "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, self._status, headers, _RawBody(body))  # type: ignore[arg-type]


class Outage:
    """An operation that keeps failing after botocore's retries: nothing reaches the service."""

    def __init__(
        self, client: Any, operation: str, *, status: int = 503, code: str = "ServiceUnavailableException"
    ) -> None:
        self.active = True
        self.calls = 0
        self._status = status
        self._code = code
        client.meta.events.register_first(f"before-call.{_service(client)}.{operation}", self)

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.active:
            return None
        self.calls += 1
        response = AWSResponse("https://aws.invalid/", self._status, {}, _RawBody(b""))  # type: ignore[arg-type]
        parsed = {
            "Error": {"Code": self._code, "Message": "still failing after retries (injected by the test)"},
            "ResponseMetadata": {"HTTPStatusCode": self._status, "RetryAttempts": 5},
        }
        return response, parsed
