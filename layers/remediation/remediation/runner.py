"""The runner: one path from an SNS event to audited decisions, shared by every handler.

    parse (edge) → trust boundary → recognise the alarm → once per state change (idempotency)
      → the runbook decides which actions → for each action:
           read before → plan within the action's limits → approval mode → cooldown
           → kill switch → dry-run → lock → storm breaker → baseline → apply → after
    → one audit event per decision, sent together at the end.

Limits become `Skipped` decisions; an unexpected failure is audited as `Failed` and re-raised
once everything else has been decided and audited, so Lambda's retry and DLQ keep the alarm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from remediation import guardrails
from remediation.actions.base import Action, ActionParameters, Direction
from remediation.alarm import AlarmDelivery, AlarmNotification, parse_deliveries
from remediation.audit import ActionRef, AuditPublisher, AuditTrail, Decision, correlation_id_for
from remediation.clients import Clients, default_clients
from remediation.errors import (
    AlarmRejected,
    ApprovalRequired,
    NotApplicable,
    Outcome,
    RemediationError,
    UnknownAlarm,
    limit_for,
    outcome_for,
)
from remediation.settings import ApprovalMode, Settings, current_settings
from remediation.signals import Level, Recognised, recognise
from remediation.state import StateStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from remediation.runbooks.base import Runbook

logger = Logger()


class Run:
    """One alarm state change being handled: what a runbook uses to read, decide and act."""

    def __init__(
        self,
        *,
        runbook: Runbook,
        alarm: AlarmNotification,
        recognised: Recognised,
        settings: Settings,
        clients: Clients,
        state: StateStore,
        audit: AuditTrail,
    ) -> None:
        self.runbook = runbook
        self.alarm = alarm
        self.recognised = recognised
        self.settings = settings
        self.clients = clients
        self.state = state
        self.audit = audit
        self.correlation_id = correlation_id_for(alarm)
        #: What the runbook read before acting; attached to every decision of this run.
        self.evidence: dict[str, Any] = {}
        self.decisions: list[dict[str, Any]] = []
        self._kill_switch_checked = False
        self._failure: BaseException | None = None

    @property
    def level(self) -> Level:
        return self.recognised.level

    @property
    def critical(self) -> bool:
        return self.recognised.level is Level.CRITICAL

    # --- recording decisions ---------------------------------------------------------------

    def decide(self, decision: Decision) -> dict[str, Any]:
        decision = replace(
            decision,
            level=decision.level or self.level.value,
            evidence=decision.evidence if decision.evidence is not None else (self.evidence or None),
        )
        detail = self.audit.record(decision, alarm=self.alarm, correlation_id=self.correlation_id)
        self.decisions.append(
            {
                "outcome": detail["outcome"],
                "action": decision.action.name if decision.action else None,
                "limit": decision.limit,
                "reason": decision.reason,
            }
        )
        return detail

    def decide_from_error(
        self, error: BaseException, action: ActionRef | None = None, before: Mapping[str, Any] | None = None
    ) -> Outcome:
        outcome = outcome_for(error)
        self.decide(
            Decision(outcome, str(error) or type(error).__name__, action=action, before=before, limit=limit_for(error))
        )
        return outcome

    # --- acting --------------------------------------------------------------------------

    def execute(self, action_type: type[Action[Any]], params: ActionParameters) -> Outcome:
        """Run one action through every guardrail. Returns the decision's outcome."""
        action = action_type(self.clients, self.settings)
        ref = ActionRef(action.name, action.target(), params.model_dump(mode="json", by_alias=True))
        before: dict[str, Any] | None = None
        try:
            before = action.read(params)
            plan = action.plan(before, params)
            ref = ActionRef(ref.name, ref.target, {**ref.parameters, **plan.parameters})
            if action.causes_outage and self.settings.db_approval_mode is ApprovalMode.MANUAL:
                raise ApprovalRequired(f"approval mode is manual: {plan.summary} needs a human's approval")
            raising = params.direction is Direction.RAISE
            if raising and self.settings.dry_run:
                # Dry-run runs the full decision logic; it reads the cooldown without a lock.
                self._check_cooldown(action)
            self._check_kill_switch()
            if self.settings.dry_run:
                return self._decided(
                    Decision(
                        Outcome.PLANNED,
                        f"dry run: would set {plan.summary}",
                        action=ref,
                        before=before,
                        after=plan.after,
                        limit=plan.limit,
                    )
                )
            with self.state.lock(action.target(), ttl_seconds=self.settings.lock_ttl_seconds):
                if raising:
                    self._check_cooldown(action)
                self.state.consume_storm_budget(
                    window_seconds=self.settings.storm_window_seconds, max_actions=self.settings.storm_max_actions
                )
                if raising:
                    self.state.record_baseline(action.name, action.target(), action.baseline(before))
                after = action.apply(plan, params)
                if raising:
                    self.state.record_raise(action.name, action.target(), keep_seconds=self._raise_memory(action))
                else:
                    self.state.clear_baseline(action.name, action.target())
            return self._decided(
                Decision(Outcome.APPLIED, plan.summary, action=ref, before=before, after=after, limit=plan.limit)
            )
        except RemediationError as error:
            if outcome_for(error) is Outcome.FAILED:
                self._failure = self._failure or error
            return self.decide_from_error(error, ref, before)
        except Exception as error:  # AWS refused or kept failing: audit, finish the run, re-raise
            logger.exception("action failed", extra={"action": ref.name, "target": ref.target})
            self._failure = self._failure or error
            return self.decide_from_error(error, ref, before)

    def _decided(self, decision: Decision) -> Outcome:
        self.decide(decision)
        return decision.outcome

    def _check_cooldown(self, action: Action[Any]) -> None:
        guardrails.check_cooldown(
            self.state.last_raise(action.name, action.target()),
            self.state.now(),
            action.cooldown_seconds(),
            f"{action.name} on {action.target()}",
        )

    def _check_kill_switch(self) -> None:
        # Read once per run, only when something would otherwise change.
        if not self._kill_switch_checked:
            guardrails.check_kill_switch(self.settings, self.clients.ssm)
            self._kill_switch_checked = True

    def _raise_memory(self, action: Action[Any]) -> int:
        """How long a raise must be remembered: for its cooldown and for the scale-down hysteresis."""
        return 2 * max(action.cooldown_seconds(), self.settings.scale_down_hysteresis_seconds) + 3600

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def _summary(handler: str, decisions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"handler": handler, "decisions": decisions, **extra}


def handle(
    event: object,
    context: LambdaContext | None,
    runbook: Runbook,
    *,
    settings: Settings | None = None,
    clients: Clients | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The whole life of one Lambda invocation. Handlers call this and nothing else."""
    settings = settings or current_settings()
    clients = clients or default_clients()
    audit = AuditTrail(AuditPublisher(clients.events, settings.audit_bus_name), runbook.name, dry_run=settings.dry_run)
    state = StateStore(clients.dynamodb, settings.state_table_name, clock=clock)
    results: list[dict[str, Any]] = []
    failure: BaseException | None = None
    try:
        try:
            deliveries = parse_deliveries(event)
        except AlarmRejected as rejected:
            audit.record(Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit), rejected=rejected)
            return _summary(runbook.name, [{"outcome": Outcome.REJECTED.value, "reason": str(rejected)}])
        for delivery in deliveries:
            try:
                account = guardrails.own_account(getattr(context, "invoked_function_arn", None))
                results.append(
                    _handle_delivery(
                        delivery,
                        runbook=runbook,
                        account=account,
                        context=context,
                        settings=settings,
                        clients=clients,
                        state=state,
                        audit=audit,
                    )
                )
            except AlarmRejected as rejected:
                audit.record(
                    Decision(Outcome.REJECTED, str(rejected), limit=rejected.limit),
                    alarm=delivery.alarm,
                    rejected=rejected,
                )
                results.append({"decisions": [{"outcome": Outcome.REJECTED.value, "reason": str(rejected)}]})
            except IdempotencyAlreadyInProgressError:
                # Another invocation is handling this very state change right now. Fail this one
                # so Lambda retries it later: by then it is a plain duplicate, or acts if that failed.
                logger.warning(
                    "same alarm state change is being handled elsewhere", extra={"alarm": delivery.alarm.name}
                )
                raise
            except Exception as error:  # already audited as Failed by the run
                failure = failure or error
    finally:
        audit.flush()
    if failure is not None:
        raise failure
    return _summary(
        runbook.name,
        [d for r in results for d in r.get("decisions", [])],
        duplicates=sum(1 for r in results if r.get("duplicate")),
    )


def _handle_delivery(
    delivery: AlarmDelivery,
    *,
    runbook: Runbook,
    account: str,
    context: LambdaContext | None,
    settings: Settings,
    clients: Clients,
    state: StateStore,
    audit: AuditTrail,
) -> dict[str, Any]:
    alarm = delivery.alarm
    logger.append_keys(alarm=alarm.name, alarmState=alarm.state)
    logger.set_correlation_id(correlation_id_for(alarm))
    guardrails.check_trust(delivery, settings, account)
    if alarm.is_composite:
        # Composite alarms are recognised and recorded; their children carry the metrics we act on.
        audit.record(
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

    def work() -> dict[str, Any]:
        run = Run(
            runbook=runbook,
            alarm=alarm,
            recognised=recognised,
            settings=settings,
            clients=clients,
            state=state,
            audit=audit,
        )
        try:
            runbook.run(run)
        except RemediationError as error:
            run.decide_from_error(error)
            if outcome_for(error) is Outcome.FAILED:
                raise
        except Exception as error:
            logger.exception("runbook failed")
            run.decide_from_error(error)
            raise
        run.raise_failure()
        return {"decisions": run.decisions}

    result, duplicate = state.once(
        runbook.name,
        alarm.state_change_key,
        work,
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
