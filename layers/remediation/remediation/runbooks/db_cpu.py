"""Runbook: database CPU (AWS/RDS CPUUtilization of the app's instance).

Warning (> 60 %): no-outage steps — storage autoscaling up to 1000 GB, one more read replica
  (at most 2).
Critical (> 80 %): one step up the instance class ladder. That is a short outage, so it honours
  the approval mode (`manual` asks instead of acting) and the 60-minute database cooldown.
OK: recorded in the audit trail, with what a human could revert. The class is never scaled
  down automatically: that would be a second outage.
"""

from __future__ import annotations

from remediation import guardrails
from remediation.actions import (
    AddReadReplica,
    EnableStorageAutoscaling,
    InstanceClassStep,
    ReadReplica,
    StepUpInstanceClass,
    StorageAutoscaling,
)
from remediation.actions.db_instance import describe_instance, instance_state
from remediation.audit import Decision
from remediation.errors import Outcome
from remediation.runbooks.base import Runbook
from remediation.runner import Run
from remediation.signals import Signal


def relieve_database(run: Run, *, critical: bool) -> None:
    """The database half of the runbook, also used by error-rate triage on database saturation."""
    if critical:
        run.execute(StepUpInstanceClass, InstanceClassStep(apply_immediately=True))
        return
    run.execute(
        EnableStorageAutoscaling,
        StorageAutoscaling(max_allocated_storage_gb=run.settings.db_max_allocated_storage_gb),
    )
    run.execute(AddReadReplica, ReadReplica(max_replicas=run.settings.db_max_read_replicas))


class DbCpuRunbook(Runbook):
    name = "db_cpu_handler"
    signals = frozenset({Signal.DB_CPU})
    actions = (EnableStorageAutoscaling, AddReadReplica, StepUpInstanceClass)

    def run(self, run: Run) -> None:
        if run.alarm.state == "OK":
            self._recovered(run)
            return
        self.require_state(run, "ALARM")
        guardrails.verify_alarm_state(run.clients.cloudwatch, run.alarm, "ALARM")
        relieve_database(run, critical=run.critical)

    @staticmethod
    def _recovered(run: Run) -> None:
        instance_id = run.settings.target_db_instance_id
        state = instance_state(describe_instance(run.clients.rds, instance_id))
        baseline = run.state.baseline(StepUpInstanceClass.name, instance_id)
        revert: dict[str, object] = {}
        undo: list[str] = []
        if baseline and baseline["instanceClass"] != state["instanceClass"]:
            revert["instanceClass"] = {"from": state["instanceClass"], "to": baseline["instanceClass"]}
            undo.append(f"instance class {state['instanceClass']} → {baseline['instanceClass']}")
        created = [r for r in state["readReplicas"] if r.startswith(f"{instance_id}-replica-")]
        if created:
            revert["readReplicas"] = created
            undo.append(f"delete read replicas {', '.join(created)}")
        reason = "database CPU back to OK; not scaling down automatically (a class change is a second outage). " + (
            f"A human could revert: {'; '.join(undo)}" if undo else "Nothing this runbook changed is left to revert."
        )
        run.decide(
            Decision(
                Outcome.SKIPPED,
                reason,
                before=state,
                limit="no-automatic-scale-down",
                evidence={"revert": revert} if revert else None,
            )
        )
