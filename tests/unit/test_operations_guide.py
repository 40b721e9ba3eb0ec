"""docs/OPERATIONS.md speaks of what exists: make targets, parameters, outputs, state items, and a
deployer policy that can create every resource the template makes."""

from __future__ import annotations

import json
import re

from support.app import ROOT
from support.template import template

GUIDE = (ROOT / "docs" / "OPERATIONS.md").read_text()
POLICY = json.loads((ROOT / "docs" / "deployer-policy.json").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()

#: The deployer action that creates each kind of resource the template makes.
CREATES = {
    "AWS::CloudWatch::Alarm": "cloudwatch:PutMetricAlarm",
    "AWS::CloudWatch::Dashboard": "cloudwatch:PutDashboard",
    "AWS::DynamoDB::Table": "dynamodb:CreateTable",
    "AWS::EventSchemas::Registry": "schemas:CreateRegistry",
    "AWS::EventSchemas::Schema": "schemas:CreateSchema",
    "AWS::Events::Archive": "events:CreateArchive",
    "AWS::Events::EventBus": "events:CreateEventBus",
    "AWS::Events::Rule": "events:PutRule",
    "AWS::IAM::ManagedPolicy": "iam:CreatePolicy",
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::KMS::Key": "kms:CreateKey",
    "AWS::SQS::QueuePolicy": "sqs:SetQueueAttributes",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::Logs::ResourcePolicy": "logs:PutResourcePolicy",
    "AWS::SNS::Subscription": "sns:Subscribe",
    "AWS::SNS::Topic": "sns:CreateTopic",
    "AWS::SNS::TopicPolicy": "sns:SetTopicAttributes",
    "AWS::SQS::Queue": "sqs:CreateQueue",
    "AWS::SSM::Parameter": "ssm:PutParameter",
    "AWS::Scheduler::ScheduleGroup": "scheduler:CreateScheduleGroup",
    "AWS::Serverless::Function": "lambda:CreateFunction",
    "AWS::Serverless::LayerVersion": "lambda:PublishLayerVersion",
}


def _granted(action: str) -> bool:
    for statement in POLICY["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(re.fullmatch(a.replace("*", ".*"), action) for a in actions):
            return True
    return False


def test_every_make_target_the_guide_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z-]+)", GUIDE))
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, flags=re.MULTILINE))
    assert named - targets == set()


def test_every_parameter_and_output_the_guide_names_exists() -> None:
    parameters, outputs = set(template()["Parameters"]), set(template()["Outputs"])
    named = set(re.findall(r"`([A-Z][A-Za-z]+)(?:=[^`]*)?`", GUIDE))
    camel = {name for name in named if re.fullmatch(r"(?:[A-Z][a-z0-9]+){2,}", name)}
    not_ours = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "PrintAppScaling"}  # AWS's words, a value
    assert camel - parameters - outputs - not_ours == set()


def test_the_state_items_the_guide_clears_are_the_engines() -> None:
    state = (ROOT / "layers" / "remediation" / "remediation" / "state.py").read_text()
    for prefix in re.findall(r'"S": "([a-z]+#)', GUIDE):
        assert f'f"{prefix}' in state, prefix


def test_the_deployer_policy_can_create_every_resource_of_the_template() -> None:
    kinds = {resource["Type"] for resource in template()["Resources"].values()}
    assert kinds <= set(CREATES), "a new kind of resource: add it to CREATES and to docs/deployer-policy.json"
    assert [kind for kind in sorted(kinds) if not _granted(CREATES[kind])] == []
    assert _granted("iam:PassRole")
