"""The deployed entry points: functions/<name>/app.py, wired as Lambda runs them (env, context)."""

from __future__ import annotations

import pytest

from support.app import STACK, App, load_event
from support.fakes import LambdaContext
from support.template import HANDLERS, handler_module


@pytest.fixture
def lambda_environment(app: App, monkeypatch: pytest.MonkeyPatch) -> App:
    """The environment template.yaml gives every function (the parts these tests need)."""
    monkeypatch.setenv("AUDIT_BUS_NAME", app.bus)
    monkeypatch.setenv("STATE_TABLE_NAME", app.table)
    monkeypatch.setenv("TARGET_REST_API_ID", app.rest_api_id)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "printapp-remediation-handler")
    return app


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_malformed_notification_is_rejected_by_the_deployed_handler(lambda_environment: App, handler: str) -> None:
    result = handler_module(handler).lambda_handler(load_event("malformed"), LambdaContext())

    assert result["decisions"][0]["outcome"] == "rejected"
    rejected = lambda_environment.audit_events()[0]
    assert rejected["detail-type"] == "Alarm Rejected"
    assert rejected["detail"]["handler"] == handler


def test_spike_handler_verifies_before_acting(lambda_environment: App) -> None:
    lambda_environment.set_alarm(f"{STACK}-api-latency-warning", "OK")

    result = handler_module("spike_handler").lambda_handler(load_event("latency-warning"), LambdaContext())

    assert [d["limit"] for d in result["decisions"]] == ["alarm-state"]
    assert lambda_environment.reserved_concurrency() == 100


def test_scale_down_handler_leaves_everyday_capacity_alone(lambda_environment: App) -> None:
    for name in (
        "api-latency-warning",
        "api-latency-critical",
        "lambda-concurrency-warning",
        "lambda-concurrency-critical",
        "api-latency-p90",
    ):
        lambda_environment.set_alarm(f"{STACK}-{name}", "OK")

    result = handler_module("scale_down_handler").lambda_handler(load_event("latency-recovered"), LambdaContext())

    assert [d["limit"] for d in result["decisions"]] == ["no-baseline", "no-baseline"]
    assert lambda_environment.reserved_concurrency() == 100
    assert lambda_environment.stage_cache() == (False, None)
