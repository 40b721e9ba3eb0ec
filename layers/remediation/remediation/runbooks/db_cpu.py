"""Runbook: database CPU (AWS/RDS CPUUtilization of the app's instance).

Warning (> 60 %): no-outage steps — storage autoscaling up to 1000 GB, one more read replica
  (at most 2).
Critical (> 80 %): one step up the instance class ladder. That is a short outage, so it honours
  the approval mode (`manual` asks instead of acting) and the 60-minute database cooldown.
OK: recorded in the audit trail, with what a human could revert. The class is never scaled
  down automatically: that would be a second outage.
"""

from __future__ import annotations

from remediation.actions import (
    AddReadReplica,
    EnableStorageAutoscaling,
    InstanceClassStep,
    ReadReplica,
    StepUpInstanceClass,
    StorageAutoscaling,
)
from remediation.actions.read_replica import REPLICA_PREFIX
from remediation.alarm import AlarmNotification
from remediation.errors import Limit, Outcome
from remediation.intents import Act, Decided, History, Intent, Need, Report, Situation
from remediation.runbooks.base import Runbook
from remediation.settings import Settings
from remediation.signals import Level, Recognised, Signal


def relieve_database(settings: Settings, *, critical: bool) -> tuple[Intent, ...]:
    """The database half of the runbook, also used by error-rate triage on database saturation."""
    if critical:
        return (Act(StepUpInstanceClass, InstanceClassStep(apply_immediately=True)),)
    return (
        Act(
            EnableStorageAutoscaling, StorageAutoscaling(max_allocated_storage_gb=settings.db_max_allocated_storage_gb)
        ),
        Act(AddReadReplica, ReadReplica(max_replicas=settings.db_max_read_replicas)),
    )


class DbCpuRunbook(Runbook):
    name = "db_cpu_handler"
    signals = frozenset({Signal.DB_CPU})
    states = frozenset({"ALARM", "OK"})
    actions = (EnableStorageAutoscaling, AddReadReplica, StepUpInstanceClass)

    def needs(self, alarm: AlarmNotification, recognised: Recognised) -> frozenset[Need]:
        return super().needs(alarm, recognised) | ({Need.DATABASE} if alarm.state == "OK" else set())

    def decide_verified(self, situation: Situation) -> Decided:
        if situation.alarm.state == "OK":
            return Decided((self._recovered(situation),))
        return Decided(relieve_database(situation.settings, critical=situation.recognised.level is Level.CRITICAL))

    @staticmethod
    def _recovered(situation: Situation) -> Report:
        instance_id = situation.settings.target_db_instance_id
        state = situation.facts.database or {}
        baseline = situation.facts.history.get(StepUpInstanceClass.name, History()).baseline
        revert: dict[str, object] = {}
        undo: list[str] = []
        if baseline and baseline["instanceClass"] != state.get("instanceClass"):
            revert["instanceClass"] = {"from": state.get("instanceClass"), "to": baseline["instanceClass"]}
            undo.append(f"instance class {state.get('instanceClass')} → {baseline['instanceClass']}")
        created = [
            r for r in state.get("readReplicas", []) if r.startswith(REPLICA_PREFIX.format(instance=instance_id))
        ]
        if created:
            revert["readReplicas"] = created
            undo.append(f"delete read replicas {', '.join(created)}")
        reason = "database CPU back to OK; not scaling down automatically (a class change is a second outage). " + (
            f"A human could revert: {'; '.join(undo)}" if undo else "Nothing this runbook changed is left to revert."
        )
        return Report(
            Outcome.SKIPPED,
            reason,
            Limit.NO_AUTOMATIC_SCALE_DOWN,
            before=state,
            evidence={"revert": revert} if revert else None,
        )
