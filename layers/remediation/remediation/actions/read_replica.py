"""A read replica of the app's database (runbook: DB CPU warning → add one, at most 2 in all).

No outage. Replicas are named predictably, `<instance>-replica-<n>`, so people (and the IAM
policy, which is scoped to that pattern) know what this created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Annotated, Any

from msgspec import Meta

from remediation.actions.base import ActionParameters, Plan
from remediation.actions.db_instance import (
    DESCRIBE,
    DatabaseAction,
    describe_instance,
    instance_state,
    require_available,
)
from remediation.errors import CeilingReached


class ReadReplica(ActionParameters, frozen=True, kw_only=True):
    max_replicas: Annotated[int, Meta(ge=0, le=15)]
    #: The replica to create; unset, the first free `<instance>-replica-<n>`. Fixed by the first
    #: attempt of an alarm state change: a retry creates that one or finds it made.
    name: str | None = None


#: Replicas this runbook creates are named `<instance>-replica-<n>` (the IAM policy is scoped to it).
REPLICA_PREFIX = "{instance}-replica-"


def replica_name(instance_id: str, number: int) -> str:
    return f"{REPLICA_PREFIX.format(instance=instance_id)}{number}"


class AddReadReplica(DatabaseAction[ReadReplica]):
    name = "add-read-replica"
    permissions = (DESCRIBE, "rds:CreateDBInstanceReadReplica", "rds:AddTagsToResource")
    parameters = ReadReplica

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"readReplicas": list(before["readReplicas"])}

    def capacity(self, after: Mapping[str, Any]) -> dict[str, float]:
        return {"ReadReplicas": float(len(after.get("readReplicas", [])))}

    def holds(self, current: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        return set(after["readReplicas"]) <= set(current["readReplicas"])

    def plan(self, before: Mapping[str, Any], params: ReadReplica) -> Plan:
        replicas: list[str] = list(before["readReplicas"])
        if len(replicas) >= params.max_replicas:
            raise CeilingReached(
                f"{self.target()} has {len(replicas)} read replicas, the configured maximum is {params.max_replicas}"
            )
        require_available(dict(before), self.target())
        name = params.name or next(
            replica_name(self.target(), n)
            for n in range(1, params.max_replicas + 2)
            if replica_name(self.target(), n) not in replicas
        )
        return Plan(
            after={"readReplicas": sorted([*replicas, name])},
            summary=f"read replica {name} of {self.target()} ({len(replicas) + 1} of at most {params.max_replicas})",
            parameters={"replica": name, "maxReplicas": params.max_replicas},
            pins={"name": name},
        )

    def apply(self, plan: Plan, params: ReadReplica) -> dict[str, Any]:
        rds = self.clients.rds
        # The name is this state change's own: if it exists, an earlier attempt created it.
        with contextlib.suppress(rds.exceptions.DBInstanceAlreadyExistsFault):
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=plan.parameters["replica"],
                SourceDBInstanceIdentifier=self.target(),
                Tags=[{"Key": "created-by", "Value": "printapp-remediation"}],
            )
        return instance_state(describe_instance(rds, self.target()))
