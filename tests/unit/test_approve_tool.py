"""`make approve`: the caller's identity reaches the approval handler, which decides."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from approve import approval_function, approve
from remediation.approvals import handle_approval
from remediation.runbooks.db_cpu import DbCpuRunbook
from support.app import App, client, load_event
from support.audit import only
from support.fakes import FakeClock, LambdaContext


class InProcessLambda:
    """Lambda's Invoke, answered by the approval handler in this process (moto's needs Docker)."""

    def __init__(self, app: App, clock: FakeClock) -> None:
        self.app, self.clock = app, clock
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        try:
            answer: Any = handle_approval(
                json.loads(Payload),
                LambdaContext(),
                settings=self.app.settings(DB_APPROVAL_MODE="manual"),
                clients=self.app.clients(),
                clock=self.clock,
                sleep=self.clock.sleep,
            )
        except Exception as error:
            return {
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps({"errorMessage": str(error)}).encode()),
            }
        return {"Payload": io.BytesIO(json.dumps(answer).encode())}


def test_the_approver_is_the_caller(app: App, invoke, clock: FakeClock) -> None:
    # Given a class step waiting for approval
    invoke(DbCpuRunbook(), load_event("db-cpu-critical"), DB_APPROVAL_MODE="manual")
    request = only(app.audit_events())["detail"]
    lambda_ = InProcessLambda(app, clock)

    # When it is approved with the tool
    answer, failed = approve(request["decisionId"], function="approvals", lambda_client=lambda_, sts=client("sts"))

    # Then the handler applied it, naming the caller STS knows as the approver
    assert (failed, [d["outcome"] for d in answer["decisions"]]) == (False, ["applied"])
    assert lambda_.invoked == ["approvals"]
    applied = only(app.audit_events())["detail"]
    assert applied["approval"]["approver"] == client("sts").get_caller_identity()["Arn"]


def test_the_function_is_found_in_the_stack_outputs(app: App) -> None:
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName="printapp-remediation",
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"ApprovalHandlerFunctionName": {"Value": "printapp-remediation-approval-handler"}},
            }
        ),
    )

    assert approval_function(cloudformation, "printapp-remediation") == "printapp-remediation-approval-handler"
    with pytest.raises(Exception, match="does not exist"):
        approval_function(cloudformation, "another-stack")
