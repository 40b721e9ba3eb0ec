"""The check after a change (SPEC §9): one EventBridge Scheduler one-time schedule per applied raise.

Scheduler, not a sleeping Lambda: nothing waits while it waits. The schedule is named after the
applied decision (`verify-<decisionId>`), lives in `VERIFY_SCHEDULE_GROUP`, fires once at
`at(now + delay)`, invokes the verifier with a small `Input` (the decision to check, not the
alarm: the verifier loads that from the state table), and deletes itself afterwards.

Creating it is part of the decision. It runs after the change and before the change is recorded
as complete, and it is idempotent (the name and the client token are the decision's), so a retry
after any single failure creates it once, or finds it made.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from botocore.exceptions import ClientError
from msgspec import Meta, Struct

if TYPE_CHECKING:
    from remediation.clients import Clients
    from remediation.settings import Settings

#: The `kind` of the verifier's event: what tells it from anything else sent to the function.
VERIFY_KIND = "printapp.remediation.verify"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: Context attributes EventBridge Scheduler substitutes in a target's Input when it fires.
SCHEDULE_ARN_ATTRIBUTE = "<aws.scheduler.schedule-arn>"
SCHEDULED_TIME_ATTRIBUTE = "<aws.scheduler.scheduled-time>"


class VerifyRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The verifier's event: the schedule's `Input`, as Scheduler delivers it."""

    kind: Literal["printapp.remediation.verify"]
    decisionId: Annotated[str, Meta(pattern=_UUID)]
    correlationId: Annotated[str, Meta(pattern=_UUID)]
    action: Annotated[str, Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
    #: The verify-and-adjust round (1: the check of the handler's own change).
    round: Annotated[int, Meta(ge=1, le=100)]
    #: Substituted by Scheduler: the schedule that fired (the trust boundary checks its group).
    scheduleArn: Annotated[str, Meta(max_length=1024)]
    scheduledTime: Annotated[str, Meta(max_length=64)] | None = None


def schedule_name(decision_id: str) -> str:
    return f"verify-{decision_id}"


def run_scope(correlation_id: str, round_: int) -> str:
    """What the attempts of one round share in the state table: round 1 is the alarm state
    change itself; the verifier's next step in round n is a state change of its own."""
    return correlation_id if round_ == 1 else f"{correlation_id}~{round_}"


def schedule_check(
    clients: Clients,
    settings: Settings,
    *,
    decision_id: str,
    correlation_id: str,
    action: str,
    round_: int,
    after_seconds: int,
    now: float,
) -> dict[str, Any]:
    """Create the one-time schedule that checks an applied decision; says what was scheduled.

    With `VERIFIER_FUNCTION_ARN` or `SCHEDULER_ROLE_ARN` unset nothing is scheduled, and the result says so (the
    Applied event carries it: an unverified change is never a silent one).
    """
    unset = [
        name
        for name, value in (
            ("VERIFIER_FUNCTION_ARN", settings.verifier_function_arn),
            ("SCHEDULER_ROLE_ARN", settings.scheduler_role_arn),
        )
        if not value
    ]
    if unset:
        return {"scheduled": False, "why": f"{' and '.join(unset)} not set: this change is not checked afterwards"}
    name = schedule_name(decision_id)
    at = datetime.fromtimestamp(math.ceil(now + after_seconds), UTC)
    request = {
        "kind": VERIFY_KIND,
        "decisionId": decision_id,
        "correlationId": correlation_id,
        "action": action,
        "round": round_,
        "scheduleArn": SCHEDULE_ARN_ATTRIBUTE,
        "scheduledTime": SCHEDULED_TIME_ATTRIBUTE,
    }
    try:
        clients.scheduler.create_schedule(
            Name=name,
            GroupName=settings.verify_schedule_group,
            ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": settings.verifier_function_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps(request),
                # Scheduler retries a refused invoke; Lambda's own retries and DLQ take it from there.
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
            },
            ActionAfterCompletion="DELETE",
            ClientToken=decision_id,
            Description=f"printapp-remediation: check decision {decision_id} ({action}), round {round_}",
        )
    except ClientError as error:
        # An earlier attempt at this decision created it: one schedule, however often we get here.
        if error.response.get("Error", {}).get("Code") != "ConflictException":
            raise
    return {
        "scheduled": True,
        "schedule": name,
        "group": settings.verify_schedule_group,
        "at": at.isoformat(),
        "round": round_,
    }
