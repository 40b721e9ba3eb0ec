"""Approvals (SPEC §8): in manual mode a class change waits for a human; this applies it.

The approval handler takes `{"decisionId": "<the Approval Requested event's decisionId>",
"approver": "<who>"}`, loads the exact plan stored with the request, re-checks what a live
decision checks (the alarm still in ALARM, the target as the plan saw it, kill switch, cooldown,
lock, storm breaker: the same pipeline) and applies that plan once. A second approval of the
same request changes nothing (`already-approved`); an unknown or expired id changes nothing
(`approval-expired`); garbage is rejected. None of them crashes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from msgspec import Meta, Struct

from remediation.actions import REGISTRY
from remediation.alarm import AlarmNotification, scrubbed
from remediation.audit import Decision
from remediation.clients import Clients
from remediation.errors import AlarmNoLongerFiring, AlreadyApproved, ApprovalExpired, Limit, Outcome, was_audited
from remediation.intents import Act, Need, Report
from remediation.observe import observe
from remediation.pipeline import Approval, Run, execute
from remediation.runbooks.base import ENGINE_PERMISSIONS, VERIFY_PERMISSIONS
from remediation.runtime import Runtime
from remediation.settings import Settings
from remediation.signals import reconcile
from remediation.validation import ValidationError, describe_validation, validated

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

HANDLER = "approval_handler"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ApprovalEvent(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decisionId: Annotated[str, Meta(pattern=_UUID)]
    approver: Annotated[str, Meta(min_length=1, max_length=2048)]


def required_permissions() -> frozenset[str]:
    """What the approval handler calls: the engine's, and the actions a human may approve."""
    approvable = (action for action in REGISTRY.values() if action.causes_outage)
    return frozenset(
        ENGINE_PERMISSIONS + VERIFY_PERMISSIONS + tuple(p for action in approvable for p in action.permissions)
    )


def handle_approval(
    event: object,
    context: LambdaContext | None,
    *,
    settings: Settings | None = None,
    clients: Clients | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The whole life of one approval invocation."""
    runtime = Runtime.create(HANDLER, settings, clients, clock=clock, sleep=sleep)
    audit = runtime.audit
    try:
        try:
            approval = validated(scrubbed(event), ApprovalEvent)
        except ValidationError as error:
            reason = (
                f'not an approval: expected {{"decisionId": "<uuid>", "approver": "<who>"}} '
                f"({describe_validation(error)})"
            )
            audit.record(Decision(Outcome.REJECTED, reason, limit=Limit.INPUT))
            return {"handler": HANDLER, "decisions": [{"outcome": Outcome.REJECTED.value, "reason": reason}]}
        logger.append_keys(requestDecisionId=approval.decisionId, approver=approval.approver)
        try:
            result, duplicate = runtime.state.once(
                HANDLER,
                {"decisionId": approval.decisionId},
                lambda: _approve(runtime, approval),
                # Remembered at least as long as the request itself can be approved.
                ttl_seconds=max(runtime.settings.approval_ttl_seconds, runtime.settings.idempotency_ttl_seconds),
                lambda_context=context,
            )
        except IdempotencyAlreadyInProgressError:
            logger.warning("this request is being approved right now, by another invocation")
            raise
        except Exception as error:
            if not was_audited(error):
                audit.record(Decision(Outcome.FAILED, f"{type(error).__name__}: {error}", approval=_who(approval)))
            raise
        if duplicate:
            already = AlreadyApproved(f"request {approval.decisionId} was approved already; nothing changes again")
            audit.record(Decision(already.outcome, str(already), limit=already.limit, approval=_who(approval)))
            return {"handler": HANDLER, "decisions": [{"outcome": already.outcome.value, "limit": already.limit}]}
        return result
    finally:
        audit.flush()


def _who(approval: ApprovalEvent) -> tuple[str, str]:
    return approval.decisionId, approval.approver


def _approve(runtime: Runtime, approval: ApprovalEvent) -> dict[str, Any]:
    request = runtime.state.approval_request(approval.decisionId)
    if request is None:
        expired = ApprovalExpired(
            f"no approval request {approval.decisionId}: unknown, or older than APPROVAL_TTL_SECONDS "
            f"({runtime.settings.approval_ttl_seconds} s); nothing changes"
        )
        runtime.audit.record(Decision(expired.outcome, str(expired), limit=expired.limit, approval=_who(approval)))
        runtime.audit.flush()
        return {"handler": HANDLER, "decisions": [{"outcome": expired.outcome.value, "limit": expired.limit}]}
    alarm = validated(request["alarm"], AlarmNotification)
    action = REGISTRY[request["action"]]
    run = Run(runtime, alarm, approval=Approval(approval.decisionId, approval.approver, request["before"]))
    try:
        run.recall()
        # Re-check what a live decision checks first: the alarm, as it is now.
        facts = observe([Need.ALARM], alarm, settings=runtime.settings, clients=runtime.clients, state=runtime.state)
        if facts.alarm is None or facts.alarm.state != "ALARM":
            now = facts.alarm.state if facts.alarm else "gone"
            execute(
                run,
                Report.of(AlarmNoLongerFiring(f"alarm {alarm.name} is {now} now: the approved change is not needed")),
            )
        else:
            recognised, _ = reconcile(alarm, facts.alarm, runtime.settings)
            run.level = recognised.level
            execute(run, Act(action, action.parameters.from_json(request["params"])))
        run.release_owed_locks()
    except Exception as error:
        run.record_error(error)
    finally:
        run.deliver_audit()
    run.raise_failure()
    return {"handler": HANDLER, "decisions": run.decisions}
