"""Approvals (SPEC §8): manual mode asks; an approval re-checks, applies exactly that plan, once."""

from __future__ import annotations

from typing import Any

import pytest

from remediation.approvals import handle_approval
from remediation.runbooks.db_cpu import DbCpuRunbook
from support.app import STACK, App, load_event
from support.audit import CallRecorder, only
from support.fakes import FakeClock, LambdaContext, Outage

DB = DbCpuRunbook()
JANE = "arn:aws:iam::123456789012:user/jane"
MANUAL = {"DB_APPROVAL_MODE": "manual"}


@pytest.fixture
def approve(app: App, clock: FakeClock):
    def _approve(event: Any, **overrides: Any) -> dict[str, Any]:
        return handle_approval(
            event,
            LambdaContext(function_name="printapp-remediation-approval-handler"),
            settings=app.settings(**{**MANUAL, **overrides}),
            clients=app.clients(),
            clock=clock,
            sleep=clock.sleep,
        )

    return _approve


def _requested(app: App, invoke) -> dict[str, Any]:
    """A critical DB CPU alarm in manual mode: the Approval Requested event."""
    invoke(DB, load_event("db-cpu-critical"), **MANUAL)
    asked = only(app.audit_events())
    assert asked["detail-type"] == "Approval Requested"
    return asked["detail"]


def test_an_approval_applies_exactly_the_requested_plan_once(app: App, invoke, approve) -> None:
    # Given a class step that waits for a human
    request = _requested(app, invoke)
    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    assert f"approve {request['decisionId']}" in request["reason"]

    # When Jane approves it
    result = approve({"decisionId": request["decisionId"], "approver": JANE})

    # Then that plan is applied, and the trail says who approved which request
    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    applied = only(app.audit_events())["detail"]
    assert (applied["outcome"], applied["handler"]) == ("applied", "approval_handler")
    assert applied["approval"] == {"requestDecisionId": request["decisionId"], "approver": JANE}
    assert applied["action"]["parameters"]["to"] == "db.r5.xlarge"
    assert applied["correlationId"] == request["correlationId"]
    assert [d["outcome"] for d in result["decisions"]] == ["applied"]

    # And a second approval of the same request changes nothing (no second step up)
    approve({"decisionId": request["decisionId"], "approver": "arn:aws:iam::123456789012:user/joe"})
    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    again = only(app.audit_events())["detail"]
    assert (again["outcome"], again["limit"]) == ("skipped", "already-approved")


def test_an_unknown_or_expired_request_changes_nothing(app: App, invoke, approve, clock: FakeClock) -> None:
    approve({"decisionId": "00000000-0000-4000-8000-000000000000", "approver": JANE})
    unknown = only(app.audit_events())["detail"]
    assert (unknown["outcome"], unknown["limit"]) == ("skipped", "approval-expired")

    request = _requested(app, invoke)
    clock.advance(3601)
    approve({"decisionId": request["decisionId"], "approver": JANE})

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    expired = only(app.audit_events())["detail"]
    assert (expired["outcome"], expired["limit"]) == ("skipped", "approval-expired")


GARBAGE: dict[str, Any] = {
    "nothing": None,
    "a list": ["approve"],
    "an SNS event": load_event("db-cpu-critical"),
    "no approver": {"decisionId": "00000000-0000-4000-8000-000000000000"},
    "empty approver": {"decisionId": "00000000-0000-4000-8000-000000000000", "approver": ""},
    "not a uuid": {"decisionId": "yes please", "approver": JANE},
    "a number": {"decisionId": 7, "approver": JANE},
    "extra fields": {"decisionId": "00000000-0000-4000-8000-000000000000", "approver": JANE, "force": True},
    "huge": {"decisionId": "00000000-0000-4000-8000-000000000000", "approver": "x" * 300_000},
    "surrogates": {"decisionId": "00000000-0000-4000-8000-00000000000\ud800", "approver": "\udc00"},
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_a_garbage_approval_is_rejected_without_a_write(app: App, approve, case: str) -> None:
    clients = app.clients()
    recorder = CallRecorder(*(clients.get(s) for s in ("rds", "cloudwatch", "dynamodb", "ssm")))

    result = approve(GARBAGE[case])

    assert recorder.writes == []
    assert result["decisions"][0]["outcome"] == "rejected"
    rejected = only(app.audit_events())["detail"]
    assert (rejected["outcome"], rejected["limit"], rejected["handler"]) == ("rejected", "input", "approval_handler")


def test_an_approval_rechecks_the_alarm(app: App, invoke, approve) -> None:
    request = _requested(app, invoke)
    app.set_alarm(f"{STACK}-db-cpu-critical", "OK")

    approve({"decisionId": request["decisionId"], "approver": JANE})

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    assert only(app.audit_events())["detail"]["limit"] == "alarm-state"


def test_an_approval_is_for_the_target_as_the_plan_saw_it(app: App, invoke, approve) -> None:
    # Given someone stepped the class up by hand after the request
    request = _requested(app, invoke)
    app.set_db_instance_class("db.r5.2xlarge")

    approve({"decisionId": request["decisionId"], "approver": JANE})

    assert app.db_instance()["DBInstanceClass"] == "db.r5.2xlarge"
    skipped = only(app.audit_events())["detail"]
    assert (skipped["outcome"], skipped["limit"]) == ("skipped", "value-changed")


def test_an_approval_respects_the_kill_switch(app: App, invoke, approve) -> None:
    request = _requested(app, invoke)

    approve({"decisionId": request["decisionId"], "approver": JANE}, REMEDIATION_ENABLED="false")

    assert app.db_instance()["DBInstanceClass"] == "db.r5.large"
    assert only(app.audit_events())["detail"]["limit"] == "kill-switch"


def test_an_approval_that_fails_can_be_approved_again(app: App, invoke, approve) -> None:
    # Given RDS refuses the change when it is first approved
    request = _requested(app, invoke)
    refusing = Outage(app.clients().rds, "ModifyDBInstance")
    with pytest.raises(Exception, match="ServiceUnavailable"):
        approve({"decisionId": request["decisionId"], "approver": JANE})
    assert only(app.audit_events())["detail"]["outcome"] == "failed"

    # When it is approved again once RDS accepts changes
    refusing.active = False
    approve({"decisionId": request["decisionId"], "approver": JANE})

    # Then the plan is applied (the failed approval did not use the request up)
    assert app.db_instance()["DBInstanceClass"] == "db.r5.xlarge"
    assert only(app.audit_events())["detail"]["outcome"] == "applied"


def test_dry_run_in_manual_mode_stores_no_request(app: App, invoke) -> None:
    invoke(DB, load_event("db-cpu-critical"), DRY_RUN="true", **MANUAL)

    planned = only(app.audit_events())["detail"]
    assert planned["outcome"] == "planned"
    assert planned["reason"].startswith("dry run: would ask a human to approve")
    items = app.dynamodb.scan(TableName=app.table)["Items"]
    assert [i for i in items if i["id"]["S"].startswith("approval#")] == []
