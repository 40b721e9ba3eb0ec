"""`make redrive`: each dead letter's original event goes back to its function, then is deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from redrive import locate, redrive
from support.app import App, client, load_event


class RecordingLambda:
    """Lambda's Invoke, recorded (moto's runs functions in Docker)."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append((FunctionName, InvocationType, json.loads(Payload)))
        return {"StatusCode": 202}


def _dead_letter(event: dict[str, Any]) -> str:
    """A Lambda on-failure record, as the function's DLQ receives it."""
    return json.dumps(
        {
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responsePayload": {"errorMessage": "database printapp-db-gone does not exist"},
        }
    )


def test_each_dead_letter_is_handed_back_once(app: App) -> None:
    # Given two alarms in a handler's DLQ
    queue = app.sqs.create_queue(QueueName="db-cpu-handler-dlq")["QueueUrl"]
    events = [load_event("db-cpu-critical"), load_event("db-cpu-warning")]
    for event in events:
        app.sqs.send_message(QueueUrl=queue, MessageBody=_dead_letter(event))
    functions = RecordingLambda()

    # When they are redriven
    count = redrive(app.sqs, functions, queue_url=queue, function="printapp-remediation-db-cpu-handler")

    # Then each original event went back to the function, as SNS sends it, and the DLQ is empty
    assert count == 2
    assert sorted(json.dumps(payload) for _, _, payload in functions.invoked) == sorted(json.dumps(e) for e in events)
    assert {(name, kind) for name, kind, _ in functions.invoked} == {("printapp-remediation-db-cpu-handler", "Event")}
    assert app.sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_the_function_and_its_queue_come_from_the_stack(app: App) -> None:
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName="printapp-remediation",
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "DbCpuHandlerFunctionName": {"Value": "printapp-remediation-db-cpu-handler"},
                    "DbCpuHandlerDeadLetterQueueUrl": {"Value": "https://sqs.example/dlq"},
                },
            }
        ),
    )

    expected = ("printapp-remediation-db-cpu-handler", "https://sqs.example/dlq")
    assert locate(cloudformation, "printapp-remediation", "DbCpuHandlerFunction") == expected
    assert locate(cloudformation, "printapp-remediation", "printapp-remediation-db-cpu-handler") == expected
    with pytest.raises(LookupError, match="no function 'SpikeHandlerFunction'"):
        locate(cloudformation, "printapp-remediation", "SpikeHandlerFunction")
