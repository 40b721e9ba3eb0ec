"""template.yaml: valid, least-privilege, and routing each alarm to the handler that owns it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from remediation.actions import REGISTRY
from remediation.errors import Outcome
from remediation.runbooks.base import Runbook
from support.app import EVENTS, load_event
from support.template import (
    HANDLERS,
    ROOT,
    TEMPLATE,
    audit_schema_in_template,
    function_for_handler,
    granted,
    handler_module,
    resources,
    statements_of,
    template,
)

SAM_VENV = ROOT / ".venv-sam" / "bin"
WRITE_VERBS = ("Put", "Update", "Delete", "Create", "Modify", "Set", "Add", "Remove", "PATCH", "POST", "DELETE")


def _tool(name: str) -> str:
    path = SAM_VENV / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test`, which installs aws-sam-cli in .venv-sam")
    return str(path)


@pytest.mark.tooling
def test_sam_validate_lint_passes() -> None:
    result = subprocess.run(
        [_tool("sam"), "validate", "--lint", "--region", "us-east-1", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.tooling
def test_cfn_lint_passes() -> None:
    result = subprocess.run([_tool("cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.tooling
def test_cfn_lint_serverless_passes() -> None:
    """Serverless rules (DLQs, redrive, log retention): each finding fixed, or ignored in the
    template with a one-line reason."""
    result = subprocess.run(
        [_tool("cfn-lint"), "-a", "cfn_lint_serverless.rules", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.tooling
def test_checkov_passes() -> None:
    """Security checks: each finding fixed (the topics' key, the functions' own concurrency), or
    skipped in the template with a one-line reason."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not checkov.exists():
        pytest.fail(f"{checkov} is missing: run `make test`, which installs checkov in .venv-checkov")
    result = subprocess.run(
        [str(checkov), "-f", str(TEMPLATE), "--framework", "cloudformation", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_action_permission_is_granted_to_the_function_that_uses_it(handler: str) -> None:
    module = handler_module(handler)
    runbook: Runbook | None = getattr(module, "RUNBOOK", None)
    required = runbook.required_permissions() if runbook else module.PERMISSIONS
    _, function = function_for_handler(handler)
    statements = [s for s in statements_of(function) if s["Effect"] == "Allow"]

    missing = sorted(p for p in required if not any(granted(s, p) for s in statements))

    assert missing == [], f"{handler} needs {missing}: add them to its policies in template.yaml"


@pytest.mark.parametrize("handler", HANDLERS)
def test_no_write_action_is_granted_on_every_resource(handler: str) -> None:
    _, function = function_for_handler(handler)
    for statement in statements_of(function):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        writes = [a for a in actions if a.split(":", 1)[1].startswith(WRITE_VERBS)]
        assert not (writes and statement["Resource"] == "*"), f"{handler}: {writes} on every resource"


def test_stage_changes_are_granted_on_the_apps_api_only() -> None:
    # Given the stage cache policy: PATCH on the app's API stage, never on every API's
    statements = resources()["StageCachePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    patching = [s for s in statements if granted(s, "apigateway:PATCH")]
    stage = "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${TargetRestApiId}/stages/${TargetApiStage}"
    assert [s["Resource"] for s in patching] == [{"Fn::Sub": stage}]
    # and a deploy without the API's id is refused, instead of falling back to a wildcard
    (assertion,) = template()["Rules"]["RestApiIdIsRequired"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "TargetRestApiId"}, ""]}]}


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_function_has_a_dlq_a_log_group_and_the_shared_layer(handler: str) -> None:
    _, function = function_for_handler(handler)
    properties = function["Properties"]
    on_failure = properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert resources()[on_failure["Destination"]["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
    log_group = resources()[properties["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"]
    assert properties["Handler"] == "app.lambda_handler"
    assert template()["Globals"]["Function"]["Layers"] == [{"Ref": "RemediationLayer"}]


def test_layer_is_built_by_sam_from_the_package_folder_with_its_makefile() -> None:
    layer = resources("AWS::Serverless::LayerVersion")["RemediationLayer"]
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/remediation"
    assert layer["Properties"]["CompatibleRuntimes"] == [template()["Globals"]["Function"]["Runtime"]]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-RemediationLayer:" in (ROOT / "layers" / "remediation" / "Makefile").read_text()
    assert not (ROOT / "layers" / "remediation" / "python").exists()


def test_state_table_follows_the_powertools_idempotency_defaults() -> None:
    table = resources()["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_registered_schema_is_the_repository_schema() -> None:
    in_repo = json.loads((ROOT / "schemas" / "audit-event.schema.json").read_text())
    assert audit_schema_in_template() == in_repo, "run `make schema` to copy the schema into template.yaml"


def test_alarm_thresholds_are_parameters_with_the_runbook_defaults() -> None:
    parameters = template()["Parameters"]
    expected = {
        "LatencyWarningMs": 500,
        "LatencyCriticalMs": 1000,
        "ConcurrencyWarning": 500,
        "ConcurrencyCritical": 800,
    }
    assert {name: parameters[name]["Default"] for name in expected} == expected
    # The runbook's alarms (they notify recoveries too) publish to the alarm topic; the remediator's
    # own alarms never do, or the handlers would be asked to act on them.
    alarms = resources("AWS::CloudWatch::Alarm")
    runbook = {name: a for name, a in alarms.items() if a["Properties"].get("OKActions")}
    thresholds = {a["Properties"]["Threshold"]["Ref"] for a in runbook.values()}
    assert set(expected) <= thresholds
    for name, alarm in alarms.items():
        publishes = alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert publishes == (name in runbook), name


def _subscriptions() -> dict[str, dict[str, Any]]:
    found = {}
    for handler in HANDLERS:
        _, function = function_for_handler(handler)
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SNS":
                assert event["Properties"]["FilterPolicyScope"] == "MessageBody"
                found[handler] = event["Properties"]["FilterPolicy"]
    return found


ROUTES = {
    "latency-warning": {"spike_handler"},
    "latency-critical": {"spike_handler"},
    "concurrency-warning": {"spike_handler"},
    "latency-warning-legacy-format": {"spike_handler"},
    "composite": set(),
    "latency-recovered": {"scale_down_handler"},
    "db-cpu-warning": {"db_cpu_handler"},
    "db-cpu-critical": {"db_cpu_handler"},
    "db-cpu-recovered": {"db_cpu_handler"},
}


def _branches(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy with a top-level `$or` matches when any of its branches does (SNS semantics).

    moto evaluates `$or` in message bodies wrongly, so each branch is subscribed on its own.
    """
    rest = {key: value for key, value in policy.items() if key != "$or"}
    return [{**rest, **branch} for branch in policy.get("$or", [{}])]


def test_filter_policies_route_each_alarm_to_its_handler() -> None:
    """Publish the events/ messages to a topic with the template's filter policies (moto's SNS)."""
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alarms")["TopicArn"]
        queues: list[tuple[str, str]] = []
        for handler, policy in _subscriptions().items():
            for n, branch in enumerate(_branches(policy)):
                url = sqs.create_queue(QueueName=f"{handler}-{n}")["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                sns.subscribe(
                    TopicArn=topic,
                    Protocol="sqs",
                    Endpoint=arn,
                    Attributes={
                        "FilterPolicyScope": "MessageBody",
                        "FilterPolicy": json.dumps(branch),
                        "RawMessageDelivery": "true",
                    },
                )
                queues.append((handler, url))
        for name, expected in ROUTES.items():
            sns.publish(TopicArn=topic, Message=load_event(name)["Records"][0]["Sns"]["Message"])
            received = set()
            for handler, url in queues:
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                    received.add(handler)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            assert received == expected, f"{name} went to {received}, expected {expected}"


def test_metric_math_alarms_are_routed_by_their_metrics() -> None:
    # moto does not match keys inside arrays of objects (SNS does, as EventBridge's ruler does),
    # so this route is checked on the policy itself.
    for handler in ("spike_handler", "scale_down_handler"):
        branches = _branches(_subscriptions()[handler])
        math = [
            b["Trigger"]["Metrics"]["MetricStat"]["Metric"]["MetricName"]
            for b in branches
            if "Metrics" in b.get("Trigger", {})
        ]
        assert math == [["Latency", "ConcurrentExecutions"]]


def test_every_event_file_is_an_sns_event_for_sam_local_invoke() -> None:
    for path in sorted(Path(EVENTS).glob("*.json")):
        event = json.loads(path.read_text())
        record = event["Records"][0]
        assert record["EventSource"] == "aws:sns", path.name
        assert {"TopicArn", "Message", "MessageId", "Type"} <= set(record["Sns"]), path.name


def _dashboard() -> dict[str, Any]:
    body = resources("AWS::CloudWatch::Dashboard")["ScalingDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: "1" if m.group(1)[0].isupper() else m.group(1), body))


def _metric_names(widget: dict[str, Any]) -> set[str]:
    return {row[1] for row in widget["properties"]["metrics"] if isinstance(row, list) and isinstance(row[0], str)}


def test_the_dashboard_shows_each_signal_with_its_lines_the_capacity_and_the_decisions() -> None:
    widgets = {w["properties"]["title"]: w for w in _dashboard()["widgets"]}
    body = resources()["ScalingDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # the five signals, each with its warning and critical lines from the template's parameters
    for warning, critical in (
        ("LatencyWarningMs", "LatencyCriticalMs"),
        ("ConcurrencyWarning", "ConcurrencyCritical"),
        ("ErrorRateWarningPercent", "ErrorRateCriticalPercent"),
        ("DbCpuWarningPercent", "DbCpuCriticalPercent"),
        ("S3RequestsWarningPerSecond", "S3RequestsCriticalPerSecond"),
    ):
        assert f'"value": ${{{warning}}}' in body
        assert f'"value": ${{{critical}}}' in body
    # the capacity every action reports when it applies a change
    reported = set().union(
        *(
            a(None, None).capacity(after)
            for a, after in (  # type: ignore[arg-type]
                (REGISTRY["set-reserved-concurrency"], {"reservedConcurrency": 200}),
                (REGISTRY["set-stage-cache"], {"cacheClusterEnabled": True, "cacheClusterSize": "1.6"}),
                (REGISTRY["step-up-instance-class"], {"instanceClass": "db.r5.xlarge"}),
                (REGISTRY["add-read-replica"], {"readReplicas": ["r-1"]}),
            )
        )
    )
    assert _metric_names(widgets["Capacity as the remediation set it"]) == reported
    # every outcome the audit trail counts
    decisions = _metric_names(widgets["Remediation decisions, by outcome"])
    assert decisions == {o.detail_type.replace(" ", "") for o in Outcome}


def test_the_remediator_keeps_capacity_of_its_own_for_when_a_spike_drains_the_account() -> None:
    assert template()["Globals"]["Function"]["ReservedConcurrentExecutions"] == {"Ref": "FunctionReservedConcurrency"}
    assert template()["Parameters"]["FunctionReservedConcurrency"]["Default"] >= 1


def test_the_remediator_watches_itself() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    operator = {"Fn::If": ["MakeOperatorTopic", {"Ref": "OperatorTopic"}, {"Ref": "OperatorTopicArn"}]}
    watching = {
        (a["Properties"]["MetricName"], json.dumps(a["Properties"]["Dimensions"][0]["Value"]))
        for a in alarms.values()
        if a["Properties"].get("AlarmActions") == [operator]
    }
    functions = list(resources("AWS::Serverless::Function"))
    for function in functions:
        queue = function.replace("Function", "DeadLetterQueue")
        assert ("Errors", json.dumps({"Ref": function})) in watching, function
        assert ("ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": [queue, "QueueName"]})) in watching
    assert {
        ("RemediationFailed", '"printapp-remediation"'),
        ("EscalationRequired", '"printapp-remediation"'),
    } <= watching
