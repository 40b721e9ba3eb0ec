"""Every AWS call a path makes is one its function's declared permissions allow.

tests/unit/test_template.py holds the template to each handler's declared permissions; this holds
the declaration to what the code really calls, path by path: a new call (a batch read, say) that
nobody declared would pass every moto test and fail in AWS with AccessDenied.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient

from remediation import approvals, verifier
from remediation.runbooks.base import Runbook
from standins import AccountSettingsLambda
from support.paths import PATHS, VERIFIER, Path, world

#: IAM's prefix where it is not the client's signing name.
IAM_PREFIX = {"monitoring": "cloudwatch"}
#: A transaction is authorised item by item, as the single-item action.
TRANSACTION_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(client: BaseClient, operation: str, params: dict[str, Any]) -> set[str]:
    service = client.meta.service_model
    prefix = IAM_PREFIX.get(service.signing_name, service.signing_name)
    if prefix == "apigateway":  # API Gateway's management API is authorised by HTTP method
        return {f"apigateway:{service.operation_model(operation).http['method']}"}
    if operation == "TransactWriteItems":
        return {f"dynamodb:{TRANSACTION_ITEMS[kind]}" for item in params["TransactItems"] for kind in item}
    return {f"{prefix}:{operation}"}


def declared(path: Path) -> frozenset[str]:
    if path.runbook == VERIFIER:
        return verifier.required_permissions()
    if path.runbook is None:
        return approvals.required_permissions()
    assert isinstance(path.runbook, Runbook)
    return path.runbook.required_permissions()


@pytest.mark.parametrize("name", list(PATHS))
def test_every_call_a_path_makes_is_declared_by_its_function(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given every call recorded as it leaves botocore, as the IAM actions that authorise it; moto's
    # stand-in for GetAccountSettings counts as that call, not as the calls it makes to answer it
    path = PATHS[name]
    called: set[str] = set()
    answering = False
    original_call, original_settings = BaseClient._make_api_call, AccountSettingsLambda.get_account_settings

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        if not answering:
            called.update(iam_actions(client, operation, params))
        return original_call(client, operation, params)

    def account_settings(self: AccountSettingsLambda) -> dict[str, Any]:
        nonlocal answering
        called.add("lambda:GetAccountSettings")
        answering = True
        try:
            return original_settings(self)
        finally:
            answering = False

    with world(path) as (_, invoke, _, event):
        monkeypatch.setattr(BaseClient, "_make_api_call", recording)
        monkeypatch.setattr(AccountSettingsLambda, "get_account_settings", account_settings)

        # When the path runs once
        invoke(path.runbook, event)
        monkeypatch.undo()

    # Then each of its calls is one its function declares (and so is granted: test_template.py)
    assert called, "the path made no call"
    assert sorted(called - declared(path)) == []
