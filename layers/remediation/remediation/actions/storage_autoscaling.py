"""Storage autoscaling of the app's database (runbook: DB CPU warning → MaxAllocatedStorage 1000).

No outage: RDS grows storage itself up to the maximum. An existing higher maximum is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from msgspec import Meta

from remediation.actions.base import ActionParameters, Plan
from remediation.actions.db_instance import (
    DESCRIBE,
    DatabaseAction,
    instance_state,
    require_available,
)
from remediation.errors import AlreadyAtTarget


class StorageAutoscaling(ActionParameters, frozen=True, kw_only=True):
    max_allocated_storage_gb: Annotated[int, Meta(ge=20, le=65536)]


class EnableStorageAutoscaling(DatabaseAction[StorageAutoscaling]):
    name = "enable-storage-autoscaling"
    permissions = (DESCRIBE, "rds:ModifyDBInstance")
    parameters = StorageAutoscaling

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"maxAllocatedStorageGb": before["maxAllocatedStorageGb"]}

    def plan(self, before: Mapping[str, Any], params: StorageAutoscaling) -> Plan:
        current = before["maxAllocatedStorageGb"]
        wanted = params.max_allocated_storage_gb
        if current is not None and current >= wanted:
            raise AlreadyAtTarget(f"storage autoscaling already allows {current} GB (target {wanted} GB)")
        if before["allocatedStorageGb"] and before["allocatedStorageGb"] >= wanted:
            raise AlreadyAtTarget(f"allocated storage {before['allocatedStorageGb']} GB is already at {wanted} GB")
        require_available(dict(before), self.target())
        shown = f"{current} GB" if current is not None else "off"
        return Plan(
            after={"maxAllocatedStorageGb": wanted},
            summary=f"storage autoscaling of {self.target()} {shown} → up to {wanted} GB",
            parameters={"maxAllocatedStorageGb": wanted},
        )

    def apply(self, plan: Plan, params: StorageAutoscaling) -> dict[str, Any]:
        response = self.clients.rds.modify_db_instance(
            DBInstanceIdentifier=self.target(),
            MaxAllocatedStorage=plan.after["maxAllocatedStorageGb"],
            ApplyImmediately=True,
        )
        return instance_state(dict(response["DBInstance"]))
