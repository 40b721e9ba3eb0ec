"""The audit event's `detail`, typed: the public contract (SPEC §5), in one place.

The audit trail builds every detail through `DecisionDetail`; `schemas/audit-event.schema.json`
and the template's registered copy are generated from these models (`make schema`), and a test
fails when they drift. `outcome` and `limit` come from the code's own closed lists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from remediation.errors import Limit, Outcome

SOURCE = "printapp.remediation"
SCHEMA_VERSION = "1.0"

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class _Detail(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A part of the detail: built by the audit trail, checked against these types before it goes out."""


class AlarmDetail(_Detail, frozen=True, kw_only=True):
    """The CloudWatch alarm state change that caused the decision, as it arrived in the SNS
    notification. A field is null when the notification did not carry it; every field is null
    when the SNS message could not be read (e.g. not JSON); alarm itself is null when the event
    was not an SNS notification at all."""

    name: Annotated[str | None, Meta(description="AlarmName.")]
    arn: Annotated[
        Annotated[str, Meta(pattern=r"^arn:aws[a-z-]*:cloudwatch:")] | None,
        Meta(
            description="AlarmArn; rebuilt from the SNS topic's region and the account when an older or emulator "
            "message lacks it."
        ),
    ]
    state: Annotated[AlarmState | None, Meta(description="NewStateValue: the state the alarm moved to.")]
    previousState: Annotated[AlarmState | None, Meta(description="OldStateValue.")]
    reason: Annotated[
        str | None, Meta(description="NewStateReason, as CloudWatch wrote it (datapoints and threshold).")
    ]
    namespace: Annotated[
        str | None,
        Meta(
            description="The metric namespace (AWS/ApiGateway, AWS/Lambda, AWS/RDS, ...); null for a composite alarm "
            "and for a metric-math alarm that spans several namespaces."
        ),
    ]
    metricName: Annotated[
        str | None,
        Meta(
            description="The metric name (Latency, ConcurrentExecutions, ...); for a metric-math alarm, the label (or "
            "expression) of the returned series; null for a composite alarm."
        ),
    ]
    threshold: Annotated[
        float | None, Meta(description="The alarm's threshold, in the metric's unit; null for a composite alarm.")
    ]
    stateChangeTime: Annotated[
        str | None,
        Meta(
            description="The alarm's StateChangeTime as RFC 3339 (CloudWatch's 2026-11-27T03:01:12.345+0000 becomes "
            "2026-11-27T03:01:12.345+00:00)."
        ),
    ]


class ActionDetail(_Detail, frozen=True, kw_only=True):
    """The runbook action the decision is about; null when the decision is about the alarm as a
    whole (rejected, composite, no longer in ALARM, escalation)."""

    name: Annotated[
        str,
        Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
        Meta(
            description="The action (set-reserved-concurrency, set-stage-cache, ...). Cooldowns and locks are per "
            "action and target."
        ),
    ]
    target: Annotated[
        str,
        Meta(min_length=1),
        Meta(
            description="What it acts on: a function name (printapp-api), an API and stage (printapp-api/prod), a DB "
            "instance id (printapp-db)."
        ),
    ]
    parameters: Annotated[
        dict[str, Any],
        Meta(
            description="The action's parameters as decided: the runbook's request and what was actually chosen within "
            "ceilings and limits (e.g. requested 200, value 130 because of account headroom; requestedSizeGb 1.0 "
            "rounded up to sizeGb 1.6). Keys depend on name."
        ),
    ]


class ApprovalDetail(_Detail, frozen=True, kw_only=True):
    """Who approved the change, and which request they approved (decisions of the approval
    handler only; null otherwise)."""

    requestDecisionId: Annotated[
        str,
        Meta(pattern=_UUID),
        Meta(description="The decisionId of the Approval Requested event that asked for this change."),
    ]
    approver: Annotated[
        str,
        Meta(min_length=1),
        Meta(description="Who approved: the caller's identity (the ARN STS GetCallerIdentity gives the CLI)."),
    ]


class VerifiesDetail(_Detail, frozen=True, kw_only=True):
    """The applied decision a verifier event checks (decisions of the verifier only; null otherwise)."""

    decisionId: Annotated[
        str,
        Meta(pattern=_UUID),
        Meta(description="The decisionId of the Remediation Applied event being checked."),
    ]
    action: Annotated[
        str,
        Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
        Meta(description="The action that decision applied (set-stage-cache, step-up-instance-class, ...)."),
    ]
    round: Annotated[
        int,
        Meta(ge=1),
        Meta(description="Which verify-and-adjust round of this alarm state change (1 = the handler's own change)."),
    ]


class DecisionDetail(_Detail, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """The decision itself. Fields listed here are stable within schemaVersion 1.x; new fields
    may be added, so ignore the ones you do not know."""

    schemaVersion: Annotated[
        Literal["1.0"],
        Meta(
            description="Version of this detail's shape. A new major version means fields changed meaning or went away."
        ),
    ]
    decisionId: Annotated[
        str,
        Meta(pattern=_UUID),
        Meta(
            description="Unique id of this decision. The same decision delivered twice (an archive replay, a retried "
            "target, a retried invocation that finds its change already made) has the same decisionId: keep one."
        ),
    ]
    correlationId: Annotated[
        str,
        Meta(min_length=1),
        Meta(
            description="Shared by every decision about one alarm state change (alarm ARN + stateChangeTime + new "
            "state), across handlers and retries; it is also the correlation_id in the handlers' logs. For a "
            "notification rejected before its alarm was known, it is the SNS MessageId."
        ),
    ]
    handler: Annotated[
        Literal[
            "spike_handler",
            "scale_down_handler",
            "db_cpu_handler",
            "error_rate_triager",
            "approval_handler",
            "verifier",
        ],
        Meta(description="The Lambda handler that decided (functions/<handler>/ in the repository)."),
    ]
    alarm: AlarmDetail | None
    action: ActionDetail | None
    before: Annotated[
        dict[str, Any] | None,
        Meta(
            description='The target\'s state as read just before deciding (e.g. {"reservedConcurrency": 100, ...} or '
            '{"cacheClusterEnabled": false, ...}). null when no action was reached or the state could not be read. '
            "Keys depend on action.name."
        ),
    ]
    after: Annotated[
        dict[str, Any] | None,
        Meta(
            description="The target's state after the change: read back from AWS when outcome is applied, the intended "
            "state when outcome is planned, null when nothing changed. Keys as in before."
        ),
    ]
    outcome: Annotated[
        Outcome,
        Meta(
            description="What happened, as a stable code (see detail-type). applied: the change was made. planned: "
            "DRY_RUN is on; this is what would have been done. skipped: a limit stopped it (see limit and reason); "
            "nothing is wrong. failed: AWS refused or kept failing, or an unexpected error; the invocation fails so "
            "Lambda retries the alarm and, if it keeps failing, keeps it in the DLQ: look at it. rejected: the "
            "notification was not acted on (bad input, untrusted topic or account, an alarm no handler knows). "
            "escalated: a human has to look (unknown cause, storm breaker). approval-requested: the change needs a "
            "human's approval (DB approval mode manual). The verifier's, on an applied change some minutes later: "
            "verified: it holds and the alarm is back under its threshold. ineffective: it holds, the symptom "
            "persists (a next step or an escalation follows). drifted: someone changed the target since; left alone. "
            "rolled-back: the guard signals (API 5XX rate, Lambda errors and throttles) got worse since the change, so "
            "the recorded baseline was restored."
        ),
    ]
    reason: Annotated[
        str,
        Meta(min_length=1),
        Meta(
            description='Why, in one sentence for a human (e.g. "reserved concurrency of printapp-api 100 → 200", '
            '"cooldown is 300 s ..."). Read it; do not parse it: match on outcome and limit instead.'
        ),
    ]
    limit: Annotated[
        Limit | None,
        Meta(
            description="Short, stable name of the rule that stopped or reduced the action, null when none did. With "
            "outcome applied it names what reduced the change (e.g. account-headroom: raised less than the runbook "
            "value); with outcome failed, what failed (e.g. lock: another remediation held the target; Lambda retries)."
        ),
    ]
    level: Annotated[
        Literal["warning", "critical"] | None,
        Meta(
            description="The alarm's level in the runbook's table (warning or critical); null when the alarm was not "
            "recognised (rejected, composite)."
        ),
    ]
    evidence: Annotated[
        dict[str, Any] | None,
        Meta(
            description="What the handler read before deciding, e.g. traffic (AWS/ApiGateway Count per minute over the "
            "last hour) for a spike, or the component metrics behind an error-rate classification. null when nothing "
            "was read."
        ),
    ]
    dryRun: Annotated[
        bool, Meta(description="true when the handler ran with DRY_RUN=true: full decision logic, no change made.")
    ]
    timestamp: Annotated[
        str,
        Meta(
            description="When the decision was made (UTC, RFC 3339, milliseconds).",
            extra_json_schema={"format": "date-time"},
        ),
    ]
    approval: Annotated[
        ApprovalDetail | None,
        Meta(description="Set on the approval handler's decisions: the request approved, and by whom."),
    ] = None
    verifies: Annotated[
        VerifiesDetail | None,
        Meta(
            description="Set on the verifier's decisions: the applied decision it checked afterwards (SPEC §9). Its "
            "next step or roll-back is a decision of its own, with the same correlationId."
        ),
    ] = None
    truncated: Annotated[
        list[str] | None,
        Meta(
            description="Paths of the fields shortened to keep the event under EventBridge's 256 KiB entry limit (a "
            "notification can carry large input, e.g. a long NewStateReason); absent when nothing was."
        ),
    ] = None
