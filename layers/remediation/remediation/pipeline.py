"""The pipeline: every intent of every runbook runs through one ordered list of guards.

    lock → recall the first attempt's plan → read → converge → undo only ours → target as
    approved → plan → cooldown → kill switch → dry-run → approval → storm breaker → baseline
    → fix the plan → apply (and complete: the check scheduled, then applied mark, raise record,
    baseline in one transaction)

Each guard either passes, ends the step with a decision (`Applied`, `Planned`, ...), or raises
the typed error that names its limit; the error becomes the step's audit event in one place.

Crash-consistent: any single failure of any AWS call, followed by Lambda's retries, ends in the
runbook's state exactly once.
- The lock is held by the alarm state change (re-entrant for its retries). Held by another, it
  is waited for briefly, then the invocation fails, so Lambda delivers the alarm again later.
- The first attempt fixes its plan (the concrete target: "db.r5.xlarge", "printapp-db-replica-2")
  in the state table before applying it; a retry reuses it, never "one more step from now".
- A retry that finds the planned value in place completes the bookkeeping and says so; one that
  finds the plan completed changes nothing (`already-applied`).
- Lock release and bookkeeping that fail after the change do not repeat the change: the retry
  meets the fixed plan; a lock it could not release, the next attempt releases.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger
from msgspec import Struct, field
from msgspec.structs import replace

from remediation import guardrails
from remediation.actions.base import Action, ActionParameters, Direction, Plan
from remediation.audit import ActionRef, Decision, correlation_id_for
from remediation.errors import (
    AlreadyApplied,
    AuditDeliveryError,
    HysteresisActive,
    KillSwitchUnreadable,
    Limit,
    LockHeld,
    LockNotReleased,
    NoBaseline,
    NotRecorded,
    Outcome,
    RemediationDisabled,
    RemediationError,
    ValueChanged,
    limit_for,
    mark_audited,
    outcome_for,
)
from remediation.intents import Report
from remediation.schedule import run_scope, schedule_check
from remediation.settings import ApprovalMode
from remediation.state import Completion, FixedPlan, KeptBaseline, RaiseRecord, RaisesChanged, RunRecord, StormCount
from remediation.validation import as_json

if TYPE_CHECKING:
    from remediation.alarm import AlarmNotification
    from remediation.intents import Intent
    from remediation.runtime import Runtime
    from remediation.settings import Settings
    from remediation.signals import Level

logger = Logger()

_UNREAD = object()


class Approval(Struct, frozen=True):
    """A human's approval of a stored request: which, by whom, and the target as the plan saw it."""

    request_id: str
    approver: str
    before: Mapping[str, Any]


class Run(Struct, dict=True):  # dict: for its cached properties
    """One attempt at one alarm state change: what every step of it shares."""

    runtime: Runtime
    alarm: AlarmNotification
    level: Level | None = None
    #: What the runbook read before deciding; attached to every decision of the run.
    evidence: Mapping[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    failure: BaseException | None = None
    #: What earlier attempts at this state change left (fixed plans, undelivered audit).
    earlier: RunRecord = field(default_factory=lambda: RunRecord({}, []))
    #: Set when this run applies a plan a human approved.
    approval: Approval | None = None
    _kill_switch: object = _UNREAD
    #: Targets whose lock this attempt took and released.
    released: set[str] = field(default_factory=set)
    #: The verify-and-adjust round (1: a handler's own decisions; n > 1: the verifier's step).
    round: int = 1
    #: On the verifier's runs: the applied decision it checks (decisionId, action, round).
    verifies: tuple[str, str, int] | None = None
    #: What this run last read or applied of a shared target (`Action.shared_read`): the database
    #: actions of one run read the instance once, each next one starting from the last's after.
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The raise records the runbook decided from (`Facts.raises`): confirmed unchanged under the
    #: locks before anything is acted on (`decided_on_current_history`).
    raises_read: dict[tuple[str, str], RaiseRecord | None] = field(default_factory=dict)

    @cached_property
    def correlation_id(self) -> str:
        return correlation_id_for(self.alarm)  # a uuid5 of the state change: asked for by every write

    @cached_property
    def scope(self) -> str:
        """What the attempts at this run share in the state table (plans, locks, raise records)."""
        return run_scope(self.correlation_id, self.round)

    def record(self, decision: Decision) -> None:
        decision = replace(
            decision,
            approval=(self.approval.request_id, self.approval.approver) if self.approval else None,
            verifies=self.verifies,
            level=decision.level or (self.level.value if self.level else None),
            evidence=decision.evidence if decision.evidence is not None else (dict(self.evidence) or None),
        )
        detail = self.runtime.audit.record(decision, alarm=self.alarm, correlation_id=self.correlation_id)
        self.decisions.append(
            {
                "outcome": detail["outcome"],
                "action": decision.action.name if decision.action else None,
                "limit": detail["limit"],
                "reason": decision.reason,
            }
        )

    def record_error(
        self,
        error: BaseException,
        action: ActionRef | None = None,
        before: Mapping[str, Any] | None = None,
    ) -> None:
        """Audit what stopped a step. A failure is kept, to be re-raised once the run is audited."""
        if outcome_for(error) is Outcome.FAILED:
            if not isinstance(error, RemediationError):
                logger.exception("remediation failed", extra={"action": action.name if action else None})
            mark_audited(error)
            self.failure = self.failure or error
        reason = str(error) or type(error).__name__
        self.record(
            Decision(
                outcome_for(error),
                reason,
                action=action,
                before=before,
                limit=limit_for(error),
            )
        )

    def recall(self) -> None:
        """Read what earlier attempts left, and send first the audit events they could not."""
        self.earlier = self.runtime.state.run_record(self.scope)
        self.runtime.audit.resend(self.earlier.undelivered)

    def deliver_audit(self) -> None:
        """Deliver the run's audit events; what the bus refuses is kept for the next attempt."""
        state = self.runtime.state
        try:
            self.runtime.audit.flush()
        except AuditDeliveryError as error:
            try:
                state.keep_undelivered(self.scope, error.undelivered)
            except Exception:  # they are in the log in full; the retry re-decides the rest
                logger.exception("could not keep undelivered audit events for the next attempt")
            raise
        if self.earlier.undelivered:
            state.forget_undelivered(self.scope)

    def kill_switch(self) -> str | None:
        """Why remediation is off, or None. Read once per run, so every step sees the same answer
        (a read that failed fails every step of the run, and the invocation with them)."""
        if self._kill_switch is _UNREAD:
            try:
                self._kill_switch = guardrails.read_kill_switch(self.runtime.settings, self.runtime.clients.ssm)
            except KillSwitchUnreadable as error:
                self._kill_switch = error
        if isinstance(self._kill_switch, KillSwitchUnreadable):
            raise self._kill_switch
        return self._kill_switch  # type: ignore[return-value]

    def release_owed_locks(self) -> None:
        """Locks an earlier attempt held and could not release: released now, whatever this
        attempt decided (a retry may have nothing left to act on, and so take no lock)."""
        state = self.runtime.state
        for target in sorted(self.earlier.unreleased - self.released):
            try:
                state.release_lock(target, self.scope)
                state.paid_lock_release(self.scope, target)
            except Exception as error:
                logger.exception("could not release a lock an earlier attempt held", extra={"target": target})
                self.record_error(LockNotReleased(f"could not release the lock on {target} ({error}); retrying"))

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


class Step(Struct):
    """One action intent going through the guards."""

    run: Run
    action: Action[Any]
    params: ActionParameters
    decision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    before: dict[str, Any] | None = None
    plan: Plan | None = None
    fixed: FixedPlan | None = None
    locked: bool = False
    storm_counted: bool = False
    #: The last raise of this action on its target, as the cooldown read it (known once read,
    #: here or with the run's other steps: `_lock_ahead`).
    last_raise: RaiseRecord | None = None
    raise_known: bool = False
    #: The run's `raises_read` confirmed unchanged under this step's lock.
    history_confirmed: bool = False
    #: Applied, its check scheduled; its record (and lock release) to be written with the run's others.
    owes_record: bool = False
    #: What an applied change is called (the verifier's roll-back is `rolled-back`), and why.
    applies_as: Outcome = Outcome.APPLIED
    because: str = ""

    @property
    def settings(self) -> Settings:
        return self.run.runtime.settings

    @property
    def live(self) -> bool:
        """It may change things: neither a dry run nor switched off."""
        return not self.settings.dry_run and self.run.kill_switch() is None

    @property
    def raising(self) -> bool:
        return self.params.direction is Direction.RAISE

    @property
    def storm_key(self) -> str:
        return f"{self.run.scope}#{self.action.name}"

    def ref(self) -> ActionRef:
        parameters = self.params.for_audit()
        if self.plan is not None:
            parameters |= dict(self.plan.parameters)
        return ActionRef(self.action.name, self.action.target(), parameters)

    def decision(self, outcome: Outcome, reason: str, after: Mapping[str, Any] | None = None) -> Decision:
        return Decision(
            outcome,
            reason,
            action=self.ref(),
            before=self.before,
            after=after,
            limit=self.plan.limit if self.plan else None,
            decision_id=self.decision_id,
        )


Guard = Callable[[Step], Decision | None]


# --- the guards, in order ------------------------------------------------------------------


def take_lock(step: Step) -> None:
    if step.live and not step.locked:  # locked already when taken with the run's other steps
        state, settings = step.run.runtime.state, step.settings
        state.acquire_lock(
            step.action.target(),
            step.run.scope,
            ttl_seconds=settings.lock_ttl_seconds,
            wait_seconds=settings.lock_wait_seconds,
        )
        step.locked = True


def recall_fixed_plan(step: Step) -> Decision | None:
    if not step.live:
        return None
    step.fixed = step.run.earlier.plans.get(step.action.name)
    if step.fixed is None:
        return None
    if step.fixed.applied_at is not None:
        step.before = dict(step.fixed.before)
        raise AlreadyApplied(
            f"{step.fixed.summary}: already applied by an earlier attempt at this alarm state change "
            f"(decision {step.fixed.decision_id}); nothing to repeat"
        )
    # The target was fixed by the first attempt: a retry sets that, never a step further, and it
    # is that attempt's decision (its check is scheduled under that decisionId).
    step.params = step.action.parameters.from_json(step.fixed.params)
    step.decision_id = step.fixed.decision_id
    return None


def decided_on_current_history(step: Step) -> None:
    """A restore was decided from the raise history (hysteresis: no scale-down soon after a
    scale-up), read before any lock. Under the lock that history must still be the one read: a
    scale-up that landed meanwhile is not undone on the strength of an older one."""
    run = step.run
    if step.raising or not run.raises_read or step.history_confirmed:
        return
    current = run.runtime.state.last_raises(list(run.raises_read))
    key = (step.action.name, step.action.target())
    if key in current:
        step.last_raise, step.raise_known = current[key], True
    changed = [
        (action, target) for (action, target), record in current.items() if record != run.raises_read[(action, target)]
    ]
    if changed:
        clock = run.runtime.clock()
        what = "; ".join(_raise_shown(action, target, current[(action, target)], clock) for action, target in changed)
        raise HysteresisActive(
            f"the raise history changed while this scale-down decided ({what}): it decided from an older "
            f"one, and a scale-down waits {step.settings.scale_down_hysteresis_seconds} s after a scale-up; "
            "left as it is, the next OK decides again"
        )
    step.history_confirmed = True


def _raise_shown(action: str, target: str, record: RaiseRecord | None, now: float) -> str:
    if record is None:
        return f"{action} on {target}: its raise record is gone"
    if record.held_until is not None:
        return f"{action} on {target}: rolled back by the verifier"
    return f"{action} on {target} was raised again {int(now - record.applied_at)} s ago"


def read_before(step: Step) -> None:
    shared = step.action.shared_read()
    if shared is not None and shared in step.run.seen:
        step.before = dict(step.run.seen[shared])
        return
    step.before = step.action.read(step.params)
    if shared is not None:
        step.run.seen[shared] = dict(step.before)


def converge(step: Step) -> Decision | None:
    """A retry that finds the first attempt's change in place: finish its bookkeeping, say so."""
    fixed = step.fixed
    if fixed is None or step.before is None or not step.action.holds(step.before, fixed.after):
        return None
    settings, state = step.settings, step.run.runtime.state
    state.consume_storm_budget(
        step.storm_key,
        window_seconds=settings.storm_window_seconds,
        max_actions=settings.storm_max_actions,
        enforce=False,
    )
    verification = _complete(step)
    current = step.before
    step.run.runtime.audit.capacity(step.action.capacity(current))
    step.before = dict(fixed.before)
    # The decision is the first attempt's: if that one said Applied already, this repeats it
    # under the same decisionId (subscribers keep one), and it never counts as a second change.
    return _with_verification(
        replace(
            step.decision(
                step.applies_as,
                f"{step.because}{fixed.summary} — in place: made by an earlier attempt at this alarm state change; "
                "its bookkeeping is now complete",
                after=current,
            ),
            decision_id=fixed.decision_id,
        ),
        step,
        verification,
    )


def undo_only_ours(step: Step) -> None:
    """A restore undoes what this system raised, and only that: a target that no longer holds
    what it was raised to was changed by someone else since, and is left alone."""
    if step.raising:
        return
    assert step.before is not None
    action = step.action
    last = _last_raise(step)
    if last is None or last.raised_to is None:
        raise NoBaseline(f"{action.name} on {action.target()}: no raise of this system's is recorded; left alone")
    current = action.baseline(step.before)
    if not _same(current, last.raised_to):
        raise ValueChanged(
            f"{action.target()} holds {_shown(current)}, not the {_shown(last.raised_to)} this system raised it to: "
            "someone changed it since; a scale-down only undoes what this system did"
        )


def _shown(value: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {item}" for key, item in value.items())


def plan_within_limits(step: Step) -> None:
    assert step.before is not None
    step.plan = step.action.plan(step.before, step.params)


def check_cooldown(step: Step) -> None:
    if step.raising:
        action, run = step.action, step.run
        guardrails.check_cooldown(
            _last_raise(step),
            run.runtime.clock(),
            action.cooldown_seconds(),
            f"{action.name} on {action.target()}",
            run.scope,
        )


def _last_raise(step: Step) -> RaiseRecord | None:
    """Read under the step's lock: what an earlier run raised is complete by the time it is read."""
    if not step.raise_known:
        step.last_raise = step.run.runtime.state.last_raise(step.action.name, step.action.target())
        step.raise_known = True
    return step.last_raise


def check_kill_switch(step: Step) -> None:
    reason = step.run.kill_switch()
    if reason is not None:
        raise RemediationDisabled(reason)


def stop_if_dry_run(step: Step) -> Decision | None:
    if not step.settings.dry_run:
        return None
    assert step.plan is not None
    how = "ask a human to approve" if _needs_approval(step) else "set"
    return step.decision(Outcome.PLANNED, f"dry run: would {how} {step.plan.summary}", after=step.plan.after)


def _needs_approval(step: Step) -> bool:
    manual = step.settings.db_approval_mode is ApprovalMode.MANUAL
    return step.action.causes_outage and manual and step.run.approval is None


def ask_approval(step: Step) -> Decision | None:
    """In manual mode, a change that causes an outage is a request: the exact plan is stored
    under `approval#<decisionId>`, and the approval handler applies that plan, once."""
    if not _needs_approval(step):
        return None
    assert step.plan is not None
    assert step.before is not None
    run, settings = step.run, step.settings
    pinned = step.params.pinned(step.plan.pins)
    run.runtime.state.save_approval_request(
        step.decision_id,
        {
            "handler": run.runtime.audit.handler,
            "alarm": as_json(run.alarm),
            "action": step.action.name,
            "params": pinned.as_json(),
            "before": step.before,
            "after": step.plan.after,
            "summary": step.plan.summary,
        },
        ttl_seconds=settings.approval_ttl_seconds,
    )
    decision = step.decision(
        Outcome.APPROVAL_REQUESTED,
        f"approval mode is manual: {step.plan.summary} needs a human's approval within "
        f"{settings.approval_ttl_seconds} s: printapp-remediation approve {step.decision_id}",
        after=step.plan.after,
    )
    return replace(decision, limit=Limit.APPROVAL_MODE)


def check_target_unchanged(step: Step) -> None:
    """An approval applies the plan a human saw, to the target as it was then, or not at all."""
    approval = step.run.approval
    if approval is None:
        return
    assert step.before is not None
    planned, now = step.action.baseline(approval.before), step.action.baseline(step.before)
    if not _same(planned, now):
        raise ValueChanged(
            f"{step.action.target()} holds {_shown(now)}, not the {_shown(planned)} the approved plan was made "
            "for: not applied; a new alarm asks again"
        )


def consume_storm_budget(step: Step) -> None:
    settings = step.settings
    step.run.runtime.state.consume_storm_budget(
        step.storm_key, window_seconds=settings.storm_window_seconds, max_actions=settings.storm_max_actions
    )
    step.storm_counted = True


def record_baseline(step: Step) -> None:
    kept = _baseline_to_keep(step)
    if kept is not None:
        step.run.runtime.state.record_baseline(kept.action, kept.target, kept.value, replace=kept.replace)


def _baseline_to_keep(step: Step) -> KeptBaseline | None:
    """Keep what the first scale-up found. A baseline is stale once the target no longer holds what
    this system last raised it to (a person set another everyday value, or a scale-down failed):
    then what it holds now is the baseline."""
    if not step.raising:
        return None
    assert step.before is not None
    action, last = step.action, step.last_raise
    current = action.baseline(step.before)
    stale = last is not None and last.raised_to is not None and not _same(last.raised_to, current)
    return KeptBaseline(action.name, action.target(), current, replace=stale)


def _same(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    return json.dumps(left, sort_keys=True, default=str) == json.dumps(right, sort_keys=True, default=str)


def fix_plan(step: Step) -> None:
    step.fixed = step.run.runtime.state.fix_plan(
        step.run.scope, step.action.name, _plan_to_fix(step), alarm=as_json(step.run.alarm)
    )


def _plan_to_fix(step: Step) -> FixedPlan:
    assert step.plan is not None
    assert step.before is not None
    pinned = step.params.pinned(step.plan.pins)
    return FixedPlan(
        params=pinned.as_json(),
        after=step.plan.after,
        before=step.before,
        summary=step.plan.summary,
        decision_id=step.decision_id,
    )


def apply(step: Step) -> Decision:
    """Change the target; then schedule its check, and record it complete with its lock released."""
    return _change(step, _complete)


def apply_owing_record(step: Step) -> Decision:
    """As `apply`, but the record is owed: `_act` writes those of all the run's changes in one."""
    decision = _change(step, _schedule)
    step.owes_record = True
    return decision


def _change(step: Step, after_change: Callable[[Step], dict[str, Any] | None]) -> Decision:
    assert step.plan is not None
    after = step.action.apply(step.plan, step.params)
    step.storm_counted = False  # applied: it stays counted whatever happens next
    if (shared := step.action.shared_read()) is not None:
        step.run.seen[shared] = dict(after)
    step.run.runtime.audit.capacity(step.action.capacity(after))
    applied = step.decision(step.applies_as, step.because + step.plan.summary, after=after)
    try:
        verification = after_change(step)
    except Exception as error:
        step.run.record(applied)  # the change stands: say so first, then what failed
        raise _not_recorded_error(step, error, "scheduling its check or recording it in the state table") from error
    return _with_verification(applied, step, verification)


def _complete(step: Step) -> dict[str, Any] | None:
    """After the change: its check scheduled (a raise), then its record completed and its lock
    released, in one write. In that order, so a change recorded as complete always has its
    check; both are idempotent for a retry."""
    verification = _schedule(step)
    _record_complete([step])
    return verification


def _schedule(step: Step) -> dict[str, Any] | None:
    """A raise's check, scheduled (idempotent: named by the first attempt's decision)."""
    if not step.raising:
        return None
    run, action = step.run, step.action
    assert step.fixed is not None
    return schedule_check(
        run.runtime.clients,
        step.settings,
        decision_id=step.fixed.decision_id,
        correlation_id=run.correlation_id,
        action=action.name,
        round_=run.round,
        after_seconds=action.verify_after_seconds(),
        now=run.runtime.clock(),
    )


def _record_complete(steps: Sequence[Step]) -> None:
    """The steps' changes recorded complete, and their locks released, in one write: a completed
    change leaves no lock behind to release."""
    run = steps[0].run
    completions = []
    for step in steps:
        action = step.action
        assert step.fixed is not None
        after = step.plan.after if step.plan else step.fixed.after
        completions.append(
            Completion(
                action.name,
                action.target(),
                raised_to=action.baseline(after) if step.raising else None,
                clear_baseline=not step.raising,
                hold=(
                    run.runtime.clock() + step.settings.rollback_hold_seconds,
                    step.because.removeprefix("rolled back, ").rstrip(": "),
                )
                if step.applies_as is Outcome.ROLLED_BACK
                else None,
                release_lock=step.locked,
            )
        )
    released = run.runtime.state.complete_all(run.scope, completions, lock_owner=run.scope)
    for step in steps:
        step.owes_record = False
        if step.action.target() in released:
            step.locked = False
            run.released.add(step.action.target())


def _with_verification(decision: Decision, step: Step, verification: Mapping[str, Any] | None) -> Decision:
    """An applied raise says when it will be checked (or that it will not be)."""
    if verification is None:
        return decision
    evidence = decision.evidence if decision.evidence is not None else step.run.evidence
    return replace(decision, evidence={**evidence, "verification": dict(verification)})


#: What decides whether a step acts: every guard up to the storm breaker.
DECIDING: tuple[Guard, ...] = (
    take_lock,
    recall_fixed_plan,
    decided_on_current_history,
    read_before,
    converge,
    undo_only_ours,
    check_target_unchanged,
    plan_within_limits,
    check_cooldown,
    check_kill_switch,
    stop_if_dry_run,
    ask_approval,
)
#: What acting is, once the storm breaker counted the step.
ACTING: tuple[Guard, ...] = (record_baseline, fix_plan, apply)
GUARDS: tuple[Guard, ...] = (*DECIDING, consume_storm_budget, *ACTING)


# --- running intents -----------------------------------------------------------------------


def execute(run: Run, intent: Intent) -> None:
    """Audit a report, or run an action through every guard; never raises (failures are kept)."""
    execute_all(run, [intent])


def execute_all(run: Run, intents: Sequence[Intent]) -> None:
    """A run's intents, in order: reports audited; each action decided through the guards; the
    storm breaker counts the actions about to be applied in one write; then each is applied;
    then their changes are recorded complete in one write.

    Actions on different targets are decided together (their locks taken and their last raises
    read in one call each), then applied together. An action on a target an earlier one of the
    run is about to change waits for that change and decides on what it left (a database step
    after a database step). Never raises (failures are kept); each step's lock is held from its
    decision to its end."""
    runtime = run.runtime
    work: list[Step | Report] = [
        intent
        if isinstance(intent, Report)
        else Step(
            run,
            intent.action(runtime.clients, runtime.settings),
            intent.params,
            applies_as=intent.applies_as,
            because=intent.because,
        )
        for intent in intents
    ]
    batch: list[Step] = []
    ahead: set[int] = set()  # the steps a `_lock_ahead` had already (by id)
    for index, step in enumerate(work):
        if isinstance(step, Report):
            _report(run, step)
            continue
        if any(ready.action.target() == step.action.target() for ready in batch):
            _act(batch)
            batch = []
        if id(step) not in ahead:
            later = [item for item in work[index:] if isinstance(item, Step)]
            group = _distinct_targets(later, busy={ready.action.target() for ready in batch})
            ahead.update(id(member) for member in group)
            _lock_ahead(group)
        if _through(step, DECIDING) == "passed":
            batch.append(step)
        else:
            _release_lock(step)
    _act(batch)


def _distinct_targets(steps: Sequence[Step], busy: set[str]) -> list[Step]:
    """The steps from the first up to the first whose target one before it has, or a step about
    to act has (`busy`): these are decided together; that one waits for the changes before it."""
    group: list[Step] = []
    targets = set(busy)
    for step in steps:
        if step.action.target() in targets:
            break
        group.append(step)
        targets.add(step.action.target())
    return group


def _lock_ahead(steps: Sequence[Step]) -> None:
    """Steps on different targets, about to be decided together: their locks taken in one write,
    then their last raises read in one (under the locks). Raise records the runbook decided
    from are not read again: the same write holds only if they are unchanged. Anything that
    fails here leaves each step to take its own lock, with the wait, and read its own record, so
    this only saves calls. One step alone takes its own, unless the write spares it a read."""
    run, settings = steps[0].run, steps[0].settings
    as_read = run.raises_read
    if len(steps) < 2 and not as_read:  # together is cheaper from two
        return
    try:
        if not steps[0].live:  # a dry run or switched off: no lock, no change
            return
        run.runtime.state.acquire_locks(
            [step.action.target() for step in steps],
            run.scope,
            ttl_seconds=settings.lock_ttl_seconds,
            raises_as_read=as_read,
        )
    except LockHeld:  # another run holds one: each step waits for its own
        logger.info("a lock of the run is held by another run; each step takes its own, with the wait")
        return
    except RaisesChanged:  # each step reads them again under its own lock, and finds what changed
        logger.info("a raise record changed since the runbook read it; each step takes its own lock and reads it")
        return
    except Exception:  # the write (or the kill switch's read) failed: each step meets it again on its own
        logger.warning("the run's locks were not taken at once; each step takes its own", exc_info=True)
        return
    unread = []
    for step in steps:
        step.locked, step.history_confirmed = True, bool(as_read)
        key = (step.action.name, step.action.target())
        if key in as_read:
            step.last_raise, step.raise_known = as_read[key], True
        else:
            unread.append(step)
    _read_raises_ahead(unread)


def _read_raises_ahead(steps: Sequence[Step]) -> None:
    """The last raises of steps locked together, in one read."""
    if not steps:
        return
    run = steps[0].run
    try:
        raises = run.runtime.state.last_raises([(step.action.name, step.action.target()) for step in steps])
    except Exception:  # each step reads its own
        logger.warning("the run's raise records were not read at once; each step reads its own", exc_info=True)
        return
    for step in steps:
        step.last_raise = raises[(step.action.name, step.action.target())]
        step.raise_known = True


def _act(ready: Sequence[Step]) -> None:
    """Steps that passed every deciding guard: counted by the storm breaker, their baselines kept
    and their plans fixed, in one write; then applied; then their changes recorded complete and
    their locks released, in one write (each step on its own when any of that cannot be)."""
    together = _fix_together(ready)
    owing = []
    for step in ready:
        if _through(step, (apply_owing_record,) if together else (consume_storm_budget, *ACTING)) == "failed":
            # Whatever a failed change left, the next step on this target reads it afresh.
            step.run.seen.pop(step.action.shared_read() or "", None)
        if step.owes_record:
            owing.append(step)
        else:
            _release_lock(step)
    _pay_records(owing)


def _pay_records(steps: Sequence[Step]) -> None:
    """The records the run's applied changes owe, in one write; when it fails, each on its own;
    one that still fails is audited (`NotRecorded`) and fails the invocation: Lambda's retry
    finds the change in place and completes it (`converge`), never repeating it."""
    if not steps:
        return
    try:
        _record_complete(steps)
    except Exception as error:
        if len(steps) == 1:
            _not_recorded(steps[0], error)
        else:
            logger.warning("the run's changes were not recorded at once; each on its own", exc_info=True)
            for step in steps:
                try:
                    _record_complete([step])
                except Exception as failure:
                    _not_recorded(step, failure)
    for step in steps:
        _release_lock(step)


def _report(run: Run, intent: Report) -> None:
    action = ActionRef(*intent.action) if intent.action else None
    run.record(
        Decision(
            intent.outcome,
            intent.reason,
            action=action,
            before=intent.before,
            limit=intent.limit,
            evidence=intent.evidence,
            decision_id=intent.decision_id,
        )
    )


def _through(step: Step, guards: Sequence[Guard]) -> Literal["passed", "decided", "failed"]:
    """Run `step` through `guards`: it passed them all (nothing decided yet), or one decided, or
    one failed (audited)."""
    try:
        for guard in guards:
            decision = guard(step)
            if decision is not None:
                step.run.record(decision)
                return "decided"
    except Exception as error:  # a limit, an escalation, or AWS refusing: all audited
        step.run.record_error(error, step.ref(), step.before)
        _give_back_storm_budget(step)
        return "failed"
    return "passed"


def _fix_together(steps: Sequence[Step]) -> bool:
    """Everything the run's steps write before their changes, in one transaction: the storm
    breaker counts them, when the window has room for all; their baselines are kept and their
    plans fixed (a retry's steps have theirs already). True when it is written; otherwise (no
    room for all, or the write failed) each step takes the guards on its own, in order, so the
    first ones still get the budget there is, and each finds what is written already."""
    if not steps:
        return False
    run, settings = steps[0].run, steps[0].settings
    fresh = [step for step in steps if step.fixed is None]
    try:
        plans = {step.action.name: _plan_to_fix(step) for step in fresh}
        run.runtime.state.fix_plans(
            run.scope,
            plans,
            alarm=as_json(run.alarm),
            baselines=[kept for step in fresh if (kept := _baseline_to_keep(step)) is not None],
            storm=StormCount(
                [step.storm_key for step in steps], settings.storm_window_seconds, settings.storm_max_actions
            ),
        )
    except Exception:  # not room for all, or the write failed: one step at a time instead
        logger.info("the run's plans were not fixed at once; taking each step on its own", exc_info=True)
        return False
    for step in steps:
        step.storm_counted = True
        if step.fixed is None:
            step.fixed = plans[step.action.name]
    return True


def _not_recorded(step: Step, error: Exception) -> None:
    failure = _not_recorded_error(step, error, "recording it in the state table")
    failure.__cause__ = error
    step.run.record_error(failure, step.ref(), step.before)


def _not_recorded_error(step: Step, error: Exception, what: str) -> NotRecorded:
    assert step.plan is not None
    return NotRecorded(
        f"{step.plan.summary} is applied, but {what} failed ({error}); "
        "Lambda's retry completes it and does not repeat the change"
    )


def _give_back_storm_budget(step: Step) -> None:
    """The storm breaker counts what was applied, not what was tried."""
    if not step.storm_counted:
        return
    try:
        step.run.runtime.state.release_storm_budget(step.storm_key, window_seconds=step.settings.storm_window_seconds)
    except Exception:  # counted once too often at worst: more careful, never less
        logger.exception("could not give back the storm budget", extra={"key": step.storm_key})


def _release_lock(step: Step) -> None:
    if not step.locked:
        return
    run, target = step.run, step.action.target()
    try:
        run.runtime.state.release_lock(target, run.scope)
    except Exception as error:
        logger.exception("could not release the lock", extra={"target": target})
        with contextlib.suppress(Exception):  # the failure below makes the retry come anyway
            run.runtime.state.owe_lock_release(run.scope, target)
        failure = LockNotReleased(
            f"could not release the lock on {target} ({error}); what this step decided stands; "
            "failing so Lambda's retry releases it"
        )
        run.record_error(failure, step.ref(), step.before)
    else:
        run.released.add(target)
