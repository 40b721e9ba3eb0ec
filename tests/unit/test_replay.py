"""What would it have done? `printapp-remediation replay` on recorded histories (SPEC §10).

tests/data/replay/ holds an alarm history and the alarms' configuration as the AWS CLI prints
them (`describe-alarm-history`, `describe-alarms`): a latency spike that outlives its first
cache, a database CPU warning, and a metric-math error-rate alarm.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

import replay
from remediation.audit import metrics
from standins import create_standins
from support.template import ROOT

DATA = ROOT / "tests" / "data" / "replay"
HISTORY, ALARMS = DATA / "history.json", DATA / "alarms.json"
CLI = Path(sys.executable).with_name("printapp-remediation")
STACK = "printapp-remediation"


def _replay(**settings: str) -> list[dict[str, Any]]:
    changes, left_out = replay.state_changes(json.loads(HISTORY.read_text()), json.loads(ALARMS.read_text()))
    return replay.simulate(changes, overrides=settings, left_out=left_out).decisions


def _at(decisions: list[dict[str, Any]], time: str, handler: str | None = None) -> list[tuple[Any, ...]]:
    return sorted(
        (d["handler"], d["outcome"], d["action"], d["limit"])
        for d in decisions
        if d["time"].startswith(time) and (handler is None or d["handler"] == handler)
    )


@pytest.fixture(scope="module")
def decisions() -> list[dict[str, Any]]:
    return _replay()


def test_the_history_is_read_in_time_order_as_state_changes() -> None:
    changes, left_out = replay.state_changes(json.loads(HISTORY.read_text()), json.loads(ALARMS.read_text()))

    assert [c.time for c in changes] == sorted(c.time for c in changes)
    assert (changes[0].alarm["AlarmName"], changes[0].old, changes[0].new) == (
        f"{STACK}-api-latency-warning",
        "OK",
        "ALARM",
    )
    assert left_out == []


def test_a_spike_is_remediated_then_held_by_its_cooldown(decisions: list[dict[str, Any]]) -> None:
    assert _at(decisions, "2026-11-27T03:01") == [
        ("spike_handler", "applied", "set-reserved-concurrency", None),
        ("spike_handler", "applied", "set-stage-cache", None),
    ]
    # the critical alarm four minutes later: concurrency already there, the cache in its cooldown
    assert _at(decisions, "2026-11-27T03:05") == [
        ("spike_handler", "skipped", "set-reserved-concurrency", "only-raise"),
        ("spike_handler", "skipped", "set-stage-cache", "cooldown"),
    ]


def test_the_checks_play_out_at_their_time(decisions: list[dict[str, Any]]) -> None:
    # ten minutes after the spike, latency still in ALARM: the cache takes its critical step
    checks = _at(decisions, "2026-11-27T03:11", "verifier")
    assert ("verifier", "ineffective", "set-stage-cache", None) in checks
    assert ("verifier", "applied", "set-stage-cache", None) in checks
    assert ("verifier", "escalated", "set-reserved-concurrency", "ineffective") in checks
    step = next(d for d in decisions if d["handler"] == "verifier" and d["outcome"] == "applied")
    assert step["after"]["cacheClusterSize"] == "6.1"
    # the step's own check finds the alarm OK
    assert ("verifier", "verified", "set-stage-cache", None) in _at(decisions, "2026-11-27T03:21", "verifier")


def test_scale_down_waits_for_hysteresis_then_restores_what_it_raised(decisions: list[dict[str, Any]]) -> None:
    assert _at(decisions, "2026-11-27T03:21:12") == [("scale_down_handler", "skipped", None, "hysteresis")]
    restored = [d for d in decisions if d["time"].startswith("2026-11-27T04:16") and d["outcome"] == "applied"]
    assert {d["action"]: d["after"] for d in restored}["set-reserved-concurrency"] == {"reservedConcurrency": 100}


def test_a_metric_math_alarm_is_rebuilt_and_routed_to_the_triager(decisions: list[dict[str, Any]]) -> None:
    changes, _ = replay.state_changes(json.loads(HISTORY.read_text()), json.loads(ALARMS.read_text()))
    error_rate = next(c for c in changes if c.alarm["AlarmName"].endswith("error-rate-warning"))
    message = json.loads(replay.notification(error_rate)["Records"][0]["Sns"]["Message"])
    assert [m["Id"] for m in message["Trigger"]["Metrics"]] == ["error_rate", "errors", "requests"]
    assert message["Trigger"]["Metrics"][1]["MetricStat"]["Metric"]["MetricName"] == "5XXError"

    (triage,) = [d for d in decisions if d["handler"] == "error_rate_triager"]
    assert triage["alarm"] == f"{STACK}-api-error-rate-warning"
    # it had no historical metrics to classify by, and says so instead of passing for certain
    assert "metricsMissing" in triage


def test_a_changed_setting_changes_the_outcome() -> None:
    # With one verify-and-adjust round, the ineffective cache is escalated instead of stepped up
    one_round = _replay(VERIFY_MAX_ATTEMPTS="1")
    checks = _at(one_round, "2026-11-27T03:11", "verifier")
    assert ("verifier", "escalated", "set-stage-cache", "give-up") in checks
    assert ("verifier", "applied", "set-stage-cache", None) not in checks

    # With a one-minute cooldown, the critical alarm takes the bigger cache at once
    short = _replay(COOLDOWN_SECONDS="60")
    assert ("spike_handler", "applied", "set-stage-cache", None) in _at(short, "2026-11-27T03:05")


def test_the_routing_follows_the_templates_filter_policies() -> None:
    routes = replay.filter_policies(replay.load_template(replay.TEMPLATE))
    latency_ok = {"NewStateValue": "OK", "Trigger": {"MetricName": "Latency"}}
    db_alarm = {"NewStateValue": "ALARM", "Trigger": {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization"}}
    math = {
        "NewStateValue": "ALARM",
        "Trigger": {"Metrics": [{"Id": "e"}, {"MetricStat": {"Metric": {"MetricName": "5XXError"}}}]},
    }

    def routed(message: dict[str, Any]) -> set[str]:
        return {h for h, policies in routes.items() if any(replay.matches(p, message) for p in policies)}

    assert routed(latency_ok) == {"scale_down_handler"}
    assert routed(db_alarm) == {"db_cpu_handler"}
    assert routed(math) == {"error_rate_triager"}


# --- read-only, proved at the botocore level --------------------------------------------------


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server of its own process (the in-process mock would share its state) standing for
    the account: the app's stand-ins, at reserved concurrency 150."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        session = boto3.Session(region_name="us-east-1")
        create_standins(lambda service: session.client(service, endpoint_url=endpoint))
        session.client("lambda", endpoint_url=endpoint).put_function_concurrency(
            FunctionName="printapp-api", ReservedConcurrentExecutions=150
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_replay_never_writes_to_the_account(
    account: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given every AWS call recorded where it leaves botocore, with the endpoint it goes to
    sent: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        sent.append((client.meta.endpoint_url, operation))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)

    # When the history is replayed with the account's starting configuration
    code = replay.main(["--history", str(HISTORY), "--alarms", str(ALARMS), "--format", "json"])

    # Then it read the account, and only read it
    assert code == 0
    to_account = [operation for endpoint, operation in sent if endpoint == account]
    assert "GetFunctionConcurrency" in to_account
    assert [op for op in to_account if not op.startswith(("Describe", "Get", "List"))] == []
    # the account is as it was, while the simulation raised its own copy from the value it read
    live = boto3.client("lambda", endpoint_url=account, region_name="us-east-1")
    assert live.get_function_concurrency(FunctionName="printapp-api")["ReservedConcurrentExecutions"] == 150
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (first["action"], first["before"]["reservedConcurrency"], first["after"]) == (
        "set-reserved-concurrency",
        150,
        {"reservedConcurrency": 200},
    )


def test_a_write_is_refused_by_the_read_only_clients(account: str) -> None:
    client, guard = replay.read_only_clients(boto3.Session(region_name="us-east-1"))

    with pytest.raises(replay.ReplayError, match="read-only"):
        client("lambda").put_function_concurrency(FunctionName="printapp-api", ReservedConcurrentExecutions=1)
    assert guard.calls == []


# --- the command line -------------------------------------------------------------------------


def test_json_output_is_one_object_per_decision_with_the_specs_fields() -> None:
    answer = subprocess.run(
        [str(CLI), "replay", "--history", str(HISTORY), "--alarms", str(ALARMS), "--no-account", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )

    assert answer.returncode == 0, answer.stderr[-2000:]
    lines = answer.stdout.splitlines()
    decisions = [json.loads(line) for line in lines]
    assert len(decisions) > 10
    for decision in decisions:
        assert {
            "time",
            "alarm",
            "state",
            "handler",
            "outcome",
            "action",
            "target",
            "before",
            "after",
            "limit",
            "reason",
        } <= set(decision)


@pytest.mark.parametrize(
    "args",
    [
        ["--history", str(HISTORY)],  # without the alarms
        ["--since", "2026-01-01T00:00:00", "--until", "2026-02-01T00:00:00"],  # a month
        ["--history", str(DATA / "missing.json"), "--alarms", str(ALARMS)],
        ["--history", str(HISTORY), "--alarms", str(ALARMS), "--set", "no-equals-sign"],
        ["--history", str(ALARMS), "--alarms", str(HISTORY)],  # swapped: neither is what it should be
        ["--history", str(DATA / "garbage-history.json"), "--alarms", str(ALARMS)],
    ],
)
def test_bad_usage_exits_2_without_replaying(args: list[str]) -> None:
    assert replay.main(args) == 2


def test_compare_shows_where_two_configurations_decide_differently() -> None:
    changes, left_out = replay.state_changes(json.loads(HISTORY.read_text()), json.loads(ALARMS.read_text()))
    ours = replay.simulate(changes, left_out=left_out)
    theirs = replay.simulate(changes, overrides={"COOLDOWN_SECONDS": "60"}, left_out=left_out)

    changed = {(d["time"], d["action"]): (d["ours"], d["theirs"]) for d in replay.differences(ours, theirs)}

    assert changed[("2026-11-27T03:05:12+00:00", "set-stage-cache")] == ("skipped (cooldown)", "applied")
    # and the first cache's check, replaced by that later raise, is not called drift
    assert changed[("2026-11-27T03:11:14+00:00", "set-stage-cache")][1] == "skipped (superseded)"
    assert replay.differences(ours, ours) == []


def test_the_handlers_metrics_never_reach_the_replays_output() -> None:
    # Powertools prints a metric set once a metric has 100 values, disabled or not: Lambda flushes
    # per invocation, and so does the replay, or a long history's JSON would carry EMF blobs.
    _replay()

    assert metrics.metric_set == {}


# --- what CloudWatch would have sent, and to whom ----------------------------------------------


def _history_of(*items: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "AlarmHistoryItems": [
            {
                "AlarmName": f"{STACK}-{alarm}",
                "Timestamp": time,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps({"oldState": {"stateValue": old}, "newState": {"stateValue": new}}),
            }
            for alarm, time, old, new in items
        ]
    }


def test_only_the_state_changes_cloudwatch_notified_the_topic_of_are_replayed() -> None:
    alarms = json.loads(ALARMS.read_text())
    silent = alarms["MetricAlarms"][2]  # db-cpu-warning
    silent["OKActions"] = []
    muted = alarms["MetricAlarms"][1]  # api-latency-critical
    muted["ActionsEnabled"] = False
    history = _history_of(
        ("api-latency-warning", "2026-11-27T03:00:00Z", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"),
        ("api-latency-warning", "2026-11-27T03:01:00Z", "OK", "ALARM"),
        ("api-latency-critical", "2026-11-27T03:02:00Z", "OK", "ALARM"),
        ("db-cpu-warning", "2026-11-27T03:03:00Z", "OK", "ALARM"),
        ("db-cpu-warning", "2026-11-27T03:04:00Z", "ALARM", "OK"),
    )
    ours = "arn:aws:sns:us-east-1:123456789012:printapp-remediation-alarms"

    changes, left_out = replay.state_changes(history, alarms, (ours,))

    assert [(c.alarm["AlarmName"].removeprefix(f"{STACK}-"), c.new) for c in changes] == [
        ("api-latency-warning", "ALARM"),
        ("db-cpu-warning", "ALARM"),
    ]
    assert any("INSUFFICIENT_DATA → INSUFFICIENT_DATA is no change" in why for why in left_out)
    assert any("api-latency-critical" in why and "actions are disabled" in why for why in left_out)
    assert any("db-cpu-warning" in why and "no action for OK" in why for why in left_out)
    # an alarm that notifies another topic reaches none of the handlers
    assert replay.state_changes(history, alarms, ("arn:aws:sns:us-east-1:123456789012:someone-else",))[0] == []


# --- the account: its metrics, its deployed stack ------------------------------------------------


def test_the_triage_reads_the_windows_metrics_from_the_account(account: str) -> None:
    # Given Lambda throttling in the account during the error-rate alarm's window
    cloudwatch = boto3.client("cloudwatch", endpoint_url=account, region_name="us-east-1")
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Throttles",
                "Dimensions": [{"Name": "FunctionName", "Value": "printapp-api"}],
                "Timestamp": datetime(2026, 11, 27, 3, minute, tzinfo=UTC),
                "Value": 40.0,
            }
            for minute in (33, 34, 35)
        ],
    )
    client, guard = replay.read_only_clients(boto3.Session(region_name="us-east-1"))
    changes, left_out = replay.state_changes(json.loads(HISTORY.read_text()), json.loads(ALARMS.read_text()))

    # When the history is replayed with the account's metrics
    decisions = replay.simulate(changes, left_out=left_out, metrics_from=client("cloudwatch")).decisions

    # Then the triage classifies by what the metrics were then, and does not call itself uncertain
    (triage,) = [d for d in decisions if d["handler"] == "error_rate_triager"]
    assert "throttl" in triage["reason"].lower()
    assert "metricsMissing" not in triage
    assert set(guard.calls) == {"GetMetricData"}


def _deploy_stack(endpoint: str, name: str, environment: dict[str, str], topic: str) -> None:
    """A stack with the template's spike handler function (logical id and all), in the account."""
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "SpikeHandlerFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                    "Environment": {"Variables": environment},
                },
            },
        },
        "Outputs": {"AlarmTopicArn": {"Value": topic}},
    }
    boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )


def test_the_deployed_functions_settings_and_topic_decide(account: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the spike handler deployed with a one-minute cooldown, listening on the alarms' topic
    topic = "arn:aws:sns:us-east-1:123456789012:printapp-remediation-alarms"
    _deploy_stack(account, STACK, {"COOLDOWN_SECONDS": "60"}, topic)

    # When the history is replayed as deployed
    assert replay.main(["--history", str(HISTORY), "--alarms", str(ALARMS), "--format", "json"]) == 0

    # Then the critical alarm takes the bigger cache at once, as the deployed cooldown allows
    decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ("spike_handler", "applied", "set-stage-cache", None) in _at(decisions, "2026-11-27T03:05")

    # and a stack listening on another topic would have heard none of these alarms
    _deploy_stack(account, "elsewhere", {}, "arn:aws:sns:us-east-1:123456789012:elsewhere")
    assert replay.main(["--history", str(HISTORY), "--alarms", str(ALARMS), "--stack", "elsewhere"]) == 0
    report = capsys.readouterr().out
    assert "0 state changes replayed, 0 decisions" in report
    assert "no action for ALARM on the alarm topic" in report


def test_png_draws_the_timeline(tmp_path: Path) -> None:
    picture = tmp_path / "replay.png"

    code = replay.main(["--history", str(HISTORY), "--alarms", str(ALARMS), "--no-account", "--png", str(picture)])

    assert code == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size > 50_000
