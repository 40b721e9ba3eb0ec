"""The runner: one Lambda invocation, from an SNS event to audited decisions.

parse (edge) → for each notification: trust boundary → recognise the alarm
  → once per alarm state change (idempotency):
       read what the runbook needs → the runbook decides → every intent through the pipeline
       → the run's audit events delivered (before the state change counts as handled)
→ anything that failed is re-raised once everything is audited, so Lambda retries the alarm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from remediation import guardrails
from remediation.alarm import AlarmDelivery, parse_deliveries
from remediation.audit import Decision, correlation_id_for
from remediation.clients import Clients
from remediation.errors import AlarmRejected, Limit, NotApplicable, Outcome, UnknownAlarm, was_audited
from remediation.intents import Intent, Report, Situation
from remediation.observe import observe
from remediation.pipeline import Run, execute_all
from remediation.runtime import Runtime
from remediation.settings import Settings
from remediation.signals import Recognised, recognise, reconcile

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from remediation.runbooks.base import Runbook

logger = Logger()


def handle(
    event: object,
    context: LambdaContext | None,
    runbook: Runbook,
    *,
    settings: Settings | None = None,
    clients: Clients | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The whole life of one Lambda invocation. Handlers call this and nothing else."""
    runtime = Runtime.create(runbook.name, settings, clients, clock=clock, sleep=sleep)
    audit = runtime.audit
    decisions: list[dict[str, Any]] = []
    duplicates = 0
    failure: BaseException | None = None
    try:
        try:
            deliveries = parse_deliveries(event)
        except AlarmRejected as rejected:
            audit.record(Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit), rejected=rejected)
            return _summary(runbook.name, [{"outcome": Outcome.REJECTED.value, "reason": str(rejected)}])
        for delivery in deliveries:
            try:
                result = _handle_delivery(delivery, runbook, runtime, context)
            except AlarmRejected as rejected:
                audit.record(
                    Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit),
                    alarm=delivery.alarm,
                    rejected=rejected,
                )
                decisions.append({"outcome": Outcome.REJECTED.value, "reason": str(rejected)})
            except IdempotencyAlreadyInProgressError:
                # Another invocation is handling this very state change right now. Fail this one
                # so Lambda retries it later: by then it is a plain duplicate, or acts if that failed.
                # Said on the trail too: a retry that keeps meeting it ends in the DLQ, not in silence.
                audit.record(
                    Decision(
                        Outcome.FAILED,
                        "this alarm state change is being handled by another invocation right now (or one that "
                        "died holding it, until its in-progress record expires): failing so Lambda retries later",
                        limit=Limit.LOCK,
                    ),
                    alarm=delivery.alarm,
                )
                raise
            except Exception as error:
                if not was_audited(error):
                    # Outside a run (the idempotency store, the state table before the run began).
                    logger.exception("remediation failed outside a run")
                    audit.record(Decision(Outcome.FAILED, f"{type(error).__name__}: {error}"), alarm=delivery.alarm)
                failure = failure or error
            else:
                decisions.extend(result.get("decisions", []))
                duplicates += bool(result.get("duplicate"))
    finally:
        audit.flush()
    if failure is not None:
        raise failure
    return _summary(runbook.name, decisions, duplicates=duplicates)


def _summary(handler: str, decisions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"handler": handler, "decisions": decisions, **extra}


def _handle_delivery(
    delivery: AlarmDelivery, runbook: Runbook, runtime: Runtime, context: LambdaContext | None
) -> dict[str, Any]:
    alarm, settings = delivery.alarm, runtime.settings
    logger.append_keys(alarm=alarm.name, alarmState=alarm.state)
    logger.set_correlation_id(correlation_id_for(alarm))
    guardrails.check_trust(delivery, settings, guardrails.own_arn(getattr(context, "invoked_function_arn", None)))
    if alarm.is_composite:
        # Composite alarms are recognised and recorded; their children carry the metrics we act on.
        runtime.audit.record(
            Decision(
                Outcome.SKIPPED,
                f"composite alarm {alarm.name} ({alarm.AlarmRule}): no automated action; "
                "its child alarms are handled on their own",
                limit=NotApplicable.limit,
            ),
            alarm=alarm,
        )
        return {"decisions": [{"outcome": Outcome.SKIPPED.value, "limit": NotApplicable.limit}]}
    recognised = recognise(alarm, settings)
    if recognised.signal not in runbook.signals:
        handled = ", ".join(sorted(s.value for s in runbook.signals))
        raise UnknownAlarm(f"{alarm.name} is a {recognised.signal.value} alarm; {runbook.name} handles {handled}")

    def attempt() -> dict[str, Any]:
        run = Run(runtime, alarm, recognised.level)
        try:
            run.recall()
            execute_all(run, _decide(run, runbook, recognised))
            run.release_owed_locks()
        except Exception as error:  # a read failed before anything was decided
            run.record_error(error)
        finally:
            # Delivered before the state change counts as handled: if the bus refuses, the
            # attempt fails and Lambda's retry delivers this run's decisions.
            run.deliver_audit()
        run.raise_failure()
        return {"decisions": run.decisions}

    result, duplicate = runtime.state.once(
        runbook.name,
        alarm.state_change_key,
        attempt,
        ttl_seconds=settings.idempotency_ttl_seconds,
        lambda_context=context,
    )
    if duplicate:
        logger.info(
            "duplicate delivery: this alarm state change was already handled",
            extra={"stateChange": alarm.state_change_key, "messageId": delivery.message_id},
        )
        return {"decisions": [], "duplicate": True}
    return result


def _decide(run: Run, runbook: Runbook, recognised: Recognised) -> tuple[Intent, ...]:
    """Read what the runbook needs, let the alarm's configuration say what it is, ask the runbook."""
    alarm, runtime, settings = run.alarm, run.runtime, run.runtime.settings
    not_handled = runbook.handles(alarm)
    if not_handled is not None:
        return (not_handled,)
    facts = observe(
        runbook.needs(alarm, recognised), alarm, settings=settings, clients=runtime.clients, state=runtime.state
    )
    run.raises_read = dict(facts.raises)
    disagreements: list[str] = []
    if facts.alarm is not None:
        # The alarm's own configuration decides (signal, level, direction), not the message.
        recognised, disagreements = reconcile(alarm, facts.alarm, settings)
        run.level = recognised.level
        if recognised.signal not in runbook.signals:
            return (
                Report.of(
                    NotApplicable(
                        f"alarm {alarm.name} is configured as a {recognised.signal.value} alarm now; "
                        f"{runbook.name} does not handle those"
                    )
                ),
            )
    decided = runbook.decide(Situation(alarm, recognised, settings, facts, runtime.clock()))
    run.evidence = {key: value for key, value in decided.evidence.items() if value is not None}
    if disagreements:
        # The configuration won; the audit event says where the message disagreed with it.
        run.evidence = {**run.evidence, "messageDisagrees": disagreements}
    return decided.intents
