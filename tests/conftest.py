"""Shared fixtures: a moto AWS with the app's stand-ins, a clock, and a way to invoke a runbook."""

from __future__ import annotations

import os

# Powertools reads these when the layer's modules are imported, as Lambda sets them before that.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "printapp-remediation")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "PrintAppRemediation")
# moto fills each region's EC2 with ~1300 default AMIs (and their snapshots and volumes) when RDS
# first touches it, and keeps them past the mock's end: in a test process that builds thousands of
# worlds they cost time and gigabytes. Nothing here runs on an AMI.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from remediation.clients import default_clients
from remediation.runbooks.base import Runbook
from remediation.runner import handle
from remediation.settings import current_settings
from support.app import App
from support.fakes import REGION, FakeClock, LambdaContext


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever talks to a real account or an endpoint left over in the shell."""
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "printapp-remediation")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PrintAppRemediation")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    current_settings.cache_clear()
    default_clients.cache_clear()
    yield
    current_settings.cache_clear()
    default_clients.cache_clear()


@pytest.fixture
def app() -> Iterator[App]:
    with mock_aws():
        yield App()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Invoke = Callable[..., dict[str, Any]]


@pytest.fixture
def invoke(app: App, clock: FakeClock) -> Invoke:
    """Deliver an event to a runbook the way Lambda would, with settings from `overrides`."""

    def _invoke(
        runbook: Runbook, event: Any, *, context: LambdaContext | None = None, **overrides: Any
    ) -> dict[str, Any]:
        return handle(
            event,
            context or LambdaContext(),
            runbook,
            settings=app.settings(**overrides),
            clients=app.clients(),
            clock=clock,
            sleep=clock.sleep,
        )

    return _invoke
