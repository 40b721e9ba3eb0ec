"""A read replica of the app's database (runbook: DB CPU warning → add one, at most 2 in all).

No outage. Replicas are named predictably, `<instance>-replica-<n>`, so people (and the IAM
policy, which is scoped to that pattern) know what this created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from remediation.actions.base import ActionParameters, Plan
from remediation.actions.db_instance import (
    DESCRIBE,
    DatabaseAction,
    describe_instance,
    instance_state,
    require_available,
)
from remediation.errors import CeilingReached


class ReadReplica(ActionParameters):
    max_replicas: int = Field(ge=0, le=15)


def replica_name(instance_id: str, number: int) -> str:
    return f"{instance_id}-replica-{number}"


class AddReadReplica(DatabaseAction[ReadReplica]):
    name = "add-read-replica"
    permissions = (DESCRIBE, "rds:CreateDBInstanceReadReplica", "rds:AddTagsToResource")
    parameters = ReadReplica

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"readReplicas": list(before["readReplicas"])}

    def plan(self, before: Mapping[str, Any], params: ReadReplica) -> Plan:
        replicas: list[str] = list(before["readReplicas"])
        if len(replicas) >= params.max_replicas:
            raise CeilingReached(
                f"{self.target()} has {len(replicas)} read replicas, the configured maximum is {params.max_replicas}"
            )
        require_available(dict(before), self.target())
        number = next(n for n in range(1, params.max_replicas + 2) if replica_name(self.target(), n) not in replicas)
        name = replica_name(self.target(), number)
        return Plan(
            after={"readReplicas": sorted([*replicas, name])},
            summary=f"read replica {name} of {self.target()} ({len(replicas) + 1} of at most {params.max_replicas})",
            parameters={"replica": name, "maxReplicas": params.max_replicas},
        )

    def apply(self, plan: Plan, params: ReadReplica) -> dict[str, Any]:
        self.clients.rds.create_db_instance_read_replica(
            DBInstanceIdentifier=plan.parameters["replica"],
            SourceDBInstanceIdentifier=self.target(),
            Tags=[{"Key": "created-by", "Value": "printapp-remediation"}],
        )
        return instance_state(describe_instance(self.clients.rds, self.target()))
