"""The verifier (SPEC §9): some minutes after an applied raise, did it help?

Invoked by the one-time schedule the change created (`remediation.schedule`). One invocation:
parse the event → trust boundary (a schedule of our own group, in our own account and region,
named after a decision this system applied) → once per check (Scheduler delivers at least once)
→ read the target, the alarm and its metric, the guard signals before and since the change →
`closed_loop.judge` → the verdict and the step it takes, through the same pipeline as every
handler's (lock, cooldown, kill switch, dry-run, storm breaker, its own check) → audited.

The first attempt fixes its verdict in the state table: a retry acts on that verdict, not on a
second reading (which could differ, e.g. find the first attempt's own next step and call it drift).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from msgspec.structs import replace

from remediation import guardrails
from remediation.actions import REGISTRY
from remediation.alarm import AlarmNotification, Arn, scrubbed
from remediation.audit import Decision
from remediation.clients import Clients
from remediation.errors import AlarmRejected, Limit, Outcome, UntrustedSource, was_audited
from remediation.observe import alarm_period, read_alarm_metric, read_alarm_with_metric, read_components
from remediation.pipeline import Run, execute
from remediation.runbooks.base import ENGINE_PERMISSIONS, VERIFY_PERMISSIONS
from remediation.runbooks.closed_loop import (
    API_5XX_RATE,
    LAMBDA_ERRORS,
    LAMBDA_THROTTLES,
    Check,
    Symptom,
    Verdict,
    judge,
)
from remediation.runtime import Runtime
from remediation.schedule import SCHEDULE_ARN_ATTRIBUTE, VerifyRequest, run_scope, schedule_name
from remediation.settings import Settings
from remediation.signals import recognise, reconcile
from remediation.validation import ValidationError, describe_validation, validated

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from remediation.state import FixedPlan

logger = Logger()

HANDLER = "verifier"
#: A step was taken: nothing to escalate.
_TOOK = frozenset({Outcome.APPLIED, Outcome.ROLLED_BACK, Outcome.PLANNED, Outcome.APPROVAL_REQUESTED})


def required_permissions() -> frozenset[str]:
    """What the verifier calls: the engine's, the metrics, every action (reads, next steps,
    roll-backs) and the scheduler (its next step's own check)."""
    actions = tuple(p for action in REGISTRY.values() for p in action.permissions)
    return frozenset(ENGINE_PERMISSIONS + VERIFY_PERMISSIONS + ("cloudwatch:GetMetricData",) + actions)


def handle_verification(
    event: object,
    context: LambdaContext | None,
    *,
    settings: Settings | None = None,
    clients: Clients | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The whole life of one verifier invocation."""
    runtime = Runtime.create(HANDLER, settings, clients, clock=clock, sleep=sleep)
    audit = runtime.audit
    try:
        try:
            request = validated(scrubbed(event), VerifyRequest)
            check_schedule(request, runtime.settings, getattr(context, "invoked_function_arn", None))
        except ValidationError as error:
            reason = f"not a verification request from this system's schedule ({describe_validation(error)})"
            return _rejected(runtime, AlarmRejected(reason))
        except AlarmRejected as rejected:
            return _rejected(runtime, rejected)
        logger.append_keys(verifies=request.decisionId, verifyRound=request.round)
        logger.set_correlation_id(request.correlationId)
        try:
            result, duplicate = runtime.state.once(
                HANDLER,
                {"decisionId": request.decisionId, "round": str(request.round)},
                lambda: _verify(runtime, request),
                ttl_seconds=runtime.settings.idempotency_ttl_seconds,
                lambda_context=context,
            )
        except IdempotencyAlreadyInProgressError:
            audit.record(
                Decision(
                    Outcome.FAILED,
                    f"the check of decision {request.decisionId} is running in another invocation right now: "
                    "failing so Lambda retries later",
                    limit=Limit.LOCK,
                    verifies=(request.decisionId, request.action, request.round),
                ),
                correlation_id=request.correlationId,
            )
            raise
        except Exception as error:
            if not was_audited(error):
                logger.exception("verification failed outside a run")
                audit.record(
                    Decision(
                        Outcome.FAILED,
                        f"{type(error).__name__}: {error}",
                        verifies=(request.decisionId, request.action, request.round),
                    ),
                    correlation_id=request.correlationId,
                )
            raise
        if duplicate:
            logger.info("duplicate delivery: this check was already made", extra={"decisionId": request.decisionId})
            return {"handler": HANDLER, "decisions": [], "duplicate": True}
        return result
    finally:
        logger.remove_keys(["verifies", "verifyRound"])
        audit.flush()


def check_schedule(request: VerifyRequest, settings: Settings, invoked_function_arn: str | None) -> None:
    """Act only on a schedule of our own group, account and region, named after the decision it checks."""
    function = guardrails.own_arn(invoked_function_arn)
    if request.scheduleArn == SCHEDULE_ARN_ATTRIBUTE and not settings.scheduler_context_attributes:
        # The local emulator passes context attributes through unfilled (said in the README): the
        # state table's record of the decision, checked next, is then the whole boundary.
        logger.warning("schedule ARN not filled in (SCHEDULER_CONTEXT_ATTRIBUTES=false): trusting the state table")
        return
    schedule = Arn.parse(request.scheduleArn)
    expected = f"schedule/{settings.verify_schedule_group}/{schedule_name(request.decisionId)}"
    if (
        schedule is None
        or schedule.service != "scheduler"
        or (schedule.partition, schedule.region, schedule.account)
        != (function.partition, function.region, function.account)
        or schedule.resource != expected
    ):
        raise UntrustedSource(
            f"not sent by this system's verification schedule: {request.scheduleArn!r} is not {expected} "
            f"in {function.partition}/{function.region}/{function.account}"
        )


def _rejected(runtime: Runtime, rejected: AlarmRejected) -> dict[str, Any]:
    runtime.audit.record(Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit))
    return {"handler": HANDLER, "decisions": [{"outcome": Outcome.REJECTED.value, "reason": str(rejected)}]}


def _verify(runtime: Runtime, request: VerifyRequest) -> dict[str, Any]:
    record = runtime.state.run_record(run_scope(request.correlationId, request.round))
    fixed = record.plans.get(request.action)
    if fixed is None or fixed.decision_id != request.decisionId or fixed.applied_at is None or not record.alarm:
        rejected = UntrustedSource(
            f"decision {request.decisionId} ({request.action}, round {request.round}) is not a change this system "
            "applied and recorded: nothing to check"
        )
        runtime.audit.record(Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit))
        runtime.audit.flush()
        return {"handler": HANDLER, "decisions": [{"outcome": Outcome.REJECTED.value, "reason": str(rejected)}]}
    alarm = validated(record.alarm, AlarmNotification)
    run = Run(
        runtime,
        alarm,
        recognise(alarm, runtime.settings).level,
        round=request.round + 1,
        verifies=(request.decisionId, request.action, request.round),
    )
    try:
        run.recall()
        earlier = run.earlier.verdicts.get(request.decisionId)
        if earlier is not None:
            verdict = Verdict.from_json(earlier)
        else:
            verdict = judge(_read_check(run, request, fixed), runtime.settings)
            # Fixed before anything is said or done: a retry acts on this verdict.
            stored = runtime.state.fix_verdict(run.scope, request.decisionId, verdict.to_json())
            verdict = Verdict.from_json(stored)
        run.evidence = verdict.evidence
        _act_on(run, verdict)
        run.release_owed_locks()
    except Exception as error:
        run.record_error(error)
    finally:
        run.deliver_audit()
    run.raise_failure()
    return {"handler": HANDLER, "decisions": run.decisions}


def _act_on(run: Run, verdict: Verdict) -> None:
    """Say the verdict; take its step; escalate when the step did not take (or there is none)."""
    if verdict.report is not None:
        execute(run, verdict.report)
    if verdict.then is None:
        if verdict.otherwise is not None:
            execute(run, verdict.otherwise)
        return
    before = len(run.decisions)
    execute(run, verdict.then)
    if run.failure is not None:
        return  # AWS refused: Lambda's retry takes the same step again; nothing to escalate yet
    taken = run.decisions[before:]
    if verdict.otherwise is not None and not any(Outcome(d["outcome"]) in _TOOK for d in taken):
        why = taken[-1]["reason"] if taken else "it did not run"
        execute(run, replace(verdict.otherwise, reason=f"{verdict.otherwise.reason}: {why}"))


def _read_check(run: Run, request: VerifyRequest, fixed: FixedPlan) -> Check:
    runtime, settings = run.runtime, run.runtime.settings
    cloudwatch = runtime.clients.cloudwatch
    action = REGISTRY[request.action](runtime.clients, settings)
    current = action.read(action.parameters.from_json(fixed.params))
    config, metric_alarm = read_alarm_with_metric(cloudwatch, run.alarm.name)
    if config is not None:
        recognised, _ = reconcile(run.alarm, config, settings)
        run.level = recognised.level
    now = runtime.clock()
    assert fixed.applied_at is not None
    applied_at = fixed.applied_at
    symptom = None
    if metric_alarm is not None:
        period = alarm_period(metric_alarm) or 60
        periods = max(1, metric_alarm.get("EvaluationPeriods", 1))
        end = datetime.fromtimestamp(now, UTC)
        # Since the change, over the alarm's evaluation window, and at least one period long.
        start = min(max(applied_at, now - period * periods), now - period)
        label, values = read_alarm_metric(cloudwatch, metric_alarm, datetime.fromtimestamp(start, UTC), end)
        symptom = Symptom(
            metric=label,
            threshold=metric_alarm.get("Threshold"),
            comparison=metric_alarm.get("ComparisonOperator"),
            periods=periods,
            datapoints=tuple(values),
            window=(
                datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds"),
                end.isoformat(timespec="seconds"),
            ),
        )
    holds = action.holds(current, fixed.after)
    last = runtime.state.last_raise(action.name, action.target())
    superseded = (
        not holds
        and last is not None
        and last.raised_to is not None
        and last.correlation_id != run_scope(request.correlationId, request.round)
        and action.baseline(current) == dict(last.raised_to)
    )
    since = max(60.0, now - applied_at)
    changed = datetime.fromtimestamp(applied_at, UTC)
    guards_before = _guards(runtime, changed - timedelta(seconds=since), changed)
    guards_since = _guards(runtime, changed, changed + timedelta(seconds=since))
    return Check(
        decision_id=request.decisionId,
        action=action.name,
        target=action.target(),
        round=request.round,
        applied=fixed.after,
        current=current,
        holds=holds,
        alarm_state=config.state if config is not None else None,
        symptom=symptom,
        guards_before=guards_before,
        guards_since=guards_since,
        baseline=runtime.state.baseline(action.name, action.target()),
        applied_at=applied_at,
        now=now,
        superseded=superseded,
    )


def _guards(runtime: Runtime, start: datetime, end: datetime) -> dict[str, float | None]:
    components = read_components(runtime.clients.cloudwatch, runtime.settings, start, end)
    errors, requests = components.get("api5xx"), components.get("apiRequests")
    return {
        API_5XX_RATE: round(errors / requests * 100, 3) if errors is not None and requests else None,
        LAMBDA_ERRORS: components.get("lambdaErrors"),
        LAMBDA_THROTTLES: components.get("lambdaThrottles"),
    }
