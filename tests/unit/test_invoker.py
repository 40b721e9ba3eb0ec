"""The Docker-free invoker (tools/local_invoke.py): template.yaml resolved as CloudFormation would, and
every event file run end to end, as a separate process, against a moto server.

moto gap, stated once: moto has no Lambda GetAccountSettings. A spike that reaches the
reserved-concurrency action is audited as Failed and the invocation fails (exit 1), as it
would against an AWS that refused the call. The unit tests cover that action with a fake
(standins.AccountSettingsLambda); here the spike path is shown failing for that reason
only, and the event sweep runs in a world where the path does not need the call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

import local_invoke
from cfn_template import Resolver, Stack, TemplateError, function_properties, load_template
from remediation.state import Completion, StateStore
from support.app import EVENTS, STACK, App, alarm_message, load_event
from support.audit import for_action, only
from support.fakes import ACCOUNT_ID, REGION
from support.template import ROOT, TEMPLATE

#: The project's one command line, as `make install` puts it in the virtualenv.
CLI = Path(sys.executable).with_name("printapp-remediation")

#: The function each event file is meant for: the one whose filter policy in template.yaml matches it.
FUNCTION_FOR = {
    "latency-warning": "SpikeHandlerFunction",
    "latency-warning-duplicate": "SpikeHandlerFunction",
    "latency-warning-legacy-format": "SpikeHandlerFunction",
    "latency-critical": "SpikeHandlerFunction",
    "latency-metric-math": "SpikeHandlerFunction",
    "concurrency-warning": "SpikeHandlerFunction",
    "latency-recovered": "ScaleDownHandlerFunction",
    "db-cpu-warning": "DbCpuHandlerFunction",
    "db-cpu-critical": "DbCpuHandlerFunction",
    "db-cpu-critical-at-ceiling": "DbCpuHandlerFunction",
    "db-cpu-critical-instance-not-available": "DbCpuHandlerFunction",
    "db-cpu-recovered": "DbCpuHandlerFunction",
    "error-rate-warning": "ErrorRateTriagerFunction",
    "error-rate-critical": "ErrorRateTriagerFunction",
    "error-rate-throttling": "ErrorRateTriagerFunction",
    "error-rate-db-saturation": "ErrorRateTriagerFunction",
    "error-rate-unknown": "ErrorRateTriagerFunction",
    "s3-request-rate": "ErrorRateTriagerFunction",
    # No filter policy matches these two; they show what a handler does when one arrives anyway.
    "composite": "SpikeHandlerFunction",
    "malformed": "ScaleDownHandlerFunction",
}
EVENT_NAMES = sorted(path.stem for path in EVENTS.glob("*.json"))


# --------------------------------------------------------------------------- resolving template.yaml


def _resolver(**overrides: str) -> Resolver:
    return Resolver(load_template(TEMPLATE), Stack(STACK, REGION, ACCOUNT_ID), overrides)


def _environment(function: str, resolver: Resolver) -> dict[str, str]:
    declared, _ = local_invoke.declared_environment(function_properties(resolver.template, function), resolver)
    return declared


def test_the_environment_names_the_stacks_own_resources() -> None:
    # Given the template's defaults for the stack printapp-remediation
    resolver = _resolver()

    # When the spike handler's environment is resolved
    environment = _environment("SpikeHandlerFunction", resolver)

    # Then every name is the physical name the stack gives its resources
    assert environment["AUDIT_BUS_NAME"] == "printapp-remediation-audit"
    assert environment["STATE_TABLE_NAME"] == "printapp-remediation-state"
    assert environment["KILL_SWITCH_PARAMETER"] == "/printapp-remediation/remediation-enabled"
    assert environment["COOLDOWN_SECONDS"] == "300"
    assert environment["VERIFY_SCHEDULE_GROUP"] == "printapp-remediation-verify"
    assert environment["VERIFIER_FUNCTION_ARN"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:printapp-remediation-verifier"
    )
    # a generated role ARN is known only once deployed: empty here, and the invoker says so
    assert environment["SCHEDULER_ROLE_ARN"] == ""
    assert all(isinstance(value, str) for value in environment.values())


def test_parameter_overrides_change_the_environment() -> None:
    resolver = _resolver(CooldownSeconds="60", DryRun="true")

    environment = _environment("SpikeHandlerFunction", resolver)

    assert (environment["COOLDOWN_SECONDS"], environment["DRY_RUN"]) == ("60", "true")


def test_globals_are_merged_into_the_function() -> None:
    template = load_template(TEMPLATE)

    properties = function_properties(template, "ScaleDownHandlerFunction")

    # From Globals.Function...
    assert (properties["Runtime"], properties["Timeout"], properties["MemorySize"]) == ("python3.12", 60, 256)
    assert properties["Layers"] == [{"Ref": "RemediationLayer"}]
    assert "POWERTOOLS_SERVICE_NAME" in properties["Environment"]["Variables"]
    # ...next to the function's own
    assert properties["CodeUri"] == "functions/scale_down_handler/"


def test_a_condition_follows_its_parameter() -> None:
    statement = {"Fn::If": ["OnAws", "archive the bus", "no archive"]}

    assert _resolver().resolve(statement) == "archive the bus"
    assert _resolver(LocalEmulator="true").resolve(statement) == "no archive"


def test_an_override_the_template_would_refuse_is_refused() -> None:
    with pytest.raises(TemplateError, match="DryRun='maybe' is not one of true, false"):
        _resolver(DryRun="maybe")
    with pytest.raises(TemplateError, match="no such parameter in the template: DryRunn"):
        _resolver(DryRunn="true")


def test_env_vars_file_overrides_declared_variables_as_sam_does() -> None:
    # Given an --env-vars file for all functions, and one entry for the spike handler
    env_vars = {
        "Parameters": {"DRY_RUN": "true", "COOLDOWN_SECONDS": "30", "NOT_IN_THE_TEMPLATE": "x"},
        "SpikeHandlerFunction": {"COOLDOWN_SECONDS": "10"},
    }

    # When the function is read for invocation
    function = local_invoke.local_function(load_template(TEMPLATE), "SpikeHandlerFunction", _resolver(), env_vars)

    # Then the function's own entry wins, and only variables the template declares are set
    assert (function.environment["DRY_RUN"], function.environment["COOLDOWN_SECONDS"]) == ("true", "10")
    assert "NOT_IN_THE_TEMPLATE" not in function.environment
    assert function.layer_dirs == (ROOT / "layers" / "remediation",)
    assert (function.name, function.timeout_seconds) == ("printapp-remediation-spike-handler", 60)
    assert function.log_group == "/aws/lambda/printapp-remediation-spike-handler"


def test_the_context_counts_down_from_the_function_timeout() -> None:
    context = local_invoke.LambdaContext(
        function_name="printapp-remediation-spike-handler",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:printapp-remediation-spike-handler",
        memory_limit_in_mb="256",
        log_group_name="/aws/lambda/printapp-remediation-spike-handler",
        timeout_seconds=60,
    )

    assert 59_000 < context.get_remaining_time_in_millis() <= 60_000


def test_a_handler_that_outlives_its_timeout_is_stopped_as_lambda_stops_it() -> None:
    with (
        pytest.raises(local_invoke.TaskTimedOut, match=r"Task timed out after 0\.05 seconds"),
        local_invoke.lambda_timeout(0.05),
    ):
        time.sleep(2)


# --------------------------------------------------------------------------- errors before the handler runs


def test_an_unknown_function_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = local_invoke.main(["SpikeHandler", str(EVENTS / "latency-warning.json"), "--account-id", ACCOUNT_ID])

    assert code == 2
    error = capsys.readouterr().err
    assert "'SpikeHandler' is not an AWS::Serverless::Function" in error
    assert "SpikeHandlerFunction" in error


def test_an_unreadable_event_file_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = local_invoke.main(["SpikeHandlerFunction", "events/no-such-event.json", "--account-id", ACCOUNT_ID])

    assert code == 2
    assert "cannot read the event file events/no-such-event.json" in capsys.readouterr().err


def test_an_unknown_account_asks_for_account_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given STS cannot be reached (nothing listens on port 9)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    code = local_invoke.main(["SpikeHandlerFunction", str(EVENTS / "malformed.json")])

    # Then it stops before the handler, and says what to pass instead of guessing an account
    assert code == 2
    assert "pass --account-id" in capsys.readouterr().err.lower()


# --------------------------------------------------------------------------- end to end, against a moto server


@dataclass
class Invocation:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def _fresh_world(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> App:
    """The app's stand-ins (support.app.App), created in the moto server: boto3 follows AWS_ENDPOINT_URL."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    for variable, value in _aws(endpoint).items():
        monkeypatch.setenv(variable, value)
    return App()


@dataclass
class Invoker:
    """`printapp-remediation invoke ...` as its own process, as a person runs it, against the moto server."""

    endpoint: str

    def __call__(self, function: str, event: str, *args: str) -> Invocation:
        inherited = {k: v for k, v in os.environ.items() if k not in {"AWS_PROFILE", "AWS_SESSION_TOKEN"}}
        completed = subprocess.run(
            [str(CLI), "invoke", function, f"events/{event}.json", *args],
            env={**inherited, **_aws(self.endpoint)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Invocation(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def invoker(moto_endpoint: str) -> Invoker:
    return Invoker(moto_endpoint)


def _set_every_alarm(app: App, state: str) -> None:
    for page in app.cloudwatch.get_paginator("describe_alarms").paginate():
        for alarm in page["MetricAlarms"]:
            app.set_alarm(alarm["AlarmName"], state)


def _state_change(event: str) -> tuple[str, ...] | None:
    try:
        message = alarm_message(load_event(event))
    except json.JSONDecodeError:
        return None
    return (message.get("AlarmName", ""), message.get("StateChangeTime", ""), message.get("NewStateValue", ""))


@dataclass
class Sweep:
    invocations: dict[str, Invocation]
    audit_events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def sweep(moto_endpoint: str, invoker: Invoker) -> Sweep:
    """Every event file through the invoker, side by side, in a world where the alarms are OK again.

    Re-read as OK, an alarm stops the spike, database and error-rate runbooks at verification
    (a `Skipped` decision), a path that does not need GetAccountSettings; recoveries run their
    restore paths. A redelivery of a state change runs after the first delivery, as SNS would.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        app = _fresh_world(moto_endpoint, monkeypatch)  # its clients keep the endpoint they were made with
    _set_every_alarm(app, "OK")
    first: list[str] = []
    redelivered: list[str] = []
    seen: set[tuple[str, ...] | None] = set()
    for event in EVENT_NAMES:
        key = _state_change(event)
        (redelivered if key is not None and key in seen else first).append(event)
        seen.add(key)
    invocations: dict[str, Invocation] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for wave in (first, redelivered):
            runs = {event: pool.submit(invoker, FUNCTION_FOR.get(event, "?"), event) for event in wave}
            invocations.update({event: run.result() for event, run in runs.items()})
    return Sweep(invocations, app.audit_events())


@pytest.mark.parametrize("event", EVENT_NAMES)
def test_every_event_file_runs_through_the_invoker(sweep: Sweep, event: str) -> None:
    assert event in FUNCTION_FOR, f"add events/{event}.json to FUNCTION_FOR with the function it is meant for"
    invocation = sweep.invocations[event]

    assert invocation.returncode == 0, invocation.stderr[-3000:]
    result = invocation.result
    code_uri = function_properties(load_template(TEMPLATE), FUNCTION_FOR[event])["CodeUri"]
    assert result["handler"] == Path(code_uri).name
    assert "failed" not in [decision["outcome"] for decision in result["decisions"]]


def test_every_decision_of_the_sweep_is_on_the_audit_bus_the_template_names(sweep: Sweep) -> None:
    reported = sum(len(invocation.result["decisions"]) for invocation in sweep.invocations.values())

    assert reported > 0
    assert len(sweep.audit_events) == reported


def test_a_malformed_notification_is_rejected_not_crashed(sweep: Sweep) -> None:
    invocation = sweep.invocations["malformed"]

    assert invocation.returncode == 0
    [decision] = invocation.result["decisions"]
    assert decision["outcome"] == "rejected"
    assert "not JSON" in decision["reason"]


def test_a_redelivered_state_change_acts_once(sweep: Sweep) -> None:
    result = sweep.invocations["latency-warning-duplicate"].result

    assert (result["decisions"], result["duplicates"]) == ([], 1)


def test_parameter_overrides_reach_the_handler_dry_run_changes_nothing(
    moto_endpoint: str, invoker: Invoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spike was remediated an hour ago (100 → 200, cache off → 1.6 GB) and every alarm is OK again
    app = _fresh_world(moto_endpoint, monkeypatch)
    app.set_reserved_concurrency(200)
    app.set_stage_cache(True, "1.6")
    an_hour_ago = StateStore(app.dynamodb, app.table, clock=lambda: time.time() - 3600)
    for action, target, baseline, raised_to in (
        ("set-reserved-concurrency", "printapp-api", {"reservedConcurrency": 100}, {"reservedConcurrency": 200}),
        (
            "set-stage-cache",
            "printapp-api/prod",
            {"cacheClusterEnabled": False, "cacheClusterSize": None},
            {"cacheClusterEnabled": True, "cacheClusterSize": "1.6"},
        ),
    ):
        an_hour_ago.record_baseline(action, target, baseline)
        an_hour_ago.complete_all("the-spike", [Completion(action, target, raised_to)])
    _set_every_alarm(app, "OK")

    # When the recovery is invoked with the template parameter DryRun=true
    invocation = invoker("ScaleDownHandlerFunction", "latency-recovered", "--parameter-overrides", "DryRun=true")

    # Then the handler planned the restore to the recorded baseline (100, no cache) and changed nothing
    assert invocation.returncode == 0, invocation.stderr[-3000:]
    assert [d["outcome"] for d in invocation.result["decisions"]] == ["planned", "planned"]
    assert app.reserved_concurrency() == 200
    concurrency = only(for_action(app.audit_events(), "set-reserved-concurrency"))
    assert (concurrency["dryRun"], concurrency["after"]["reservedConcurrency"]) == (True, 100)


def test_a_spike_fails_on_moto_for_lack_of_get_account_settings(
    moto_endpoint: str, invoker: Invoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known moto gap, not a success: the invocation fails as a Lambda invocation does."""
    # Given the latency alarm is still in ALARM, so the spike reaches the reserved-concurrency action
    app = _fresh_world(moto_endpoint, monkeypatch)

    invocation = invoker("SpikeHandlerFunction", "latency-warning")

    # Then the invoker exits 1 with the error, and the handler audited the failure before raising
    assert invocation.returncode == 1
    assert "GetAccountSettings" in invocation.stdout
    assert "GetAccountSettings" in invocation.stderr
    failed = [e["detail"] for e in app.audit_events() if e["detail-type"] == "Remediation Failed"]
    assert [d["action"]["name"] for d in failed] == ["set-reserved-concurrency"]
