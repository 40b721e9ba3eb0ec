"""The app's database instance: what every database action shares (target, cooldown, read)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediation.actions.base import Action, P
from remediation.errors import ConfigurationError, TargetNotAvailable

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

#: The database actions' reads and the one write all of them may call (describe is shared).
DESCRIBE = "rds:DescribeDBInstances"


def describe_instance(rds: RDSClient, instance_id: str) -> dict[str, Any]:
    try:
        instances = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
    except rds.exceptions.DBInstanceNotFoundFault as error:
        raise ConfigurationError(f"database instance {instance_id} does not exist") from error
    return dict(instances[0])


def instance_state(instance: dict[str, Any]) -> dict[str, Any]:
    """The part of an instance a database decision depends on (the audit event's before/after)."""
    return {
        "instanceClass": instance.get("DBInstanceClass"),
        "status": instance.get("DBInstanceStatus"),
        "allocatedStorageGb": instance.get("AllocatedStorage"),
        "maxAllocatedStorageGb": instance.get("MaxAllocatedStorage"),
        "readReplicas": sorted(instance.get("ReadReplicaDBInstanceIdentifiers", [])),
        "pendingInstanceClass": instance.get("PendingModifiedValues", {}).get("DBInstanceClass"),
    }


def require_available(state: dict[str, Any], instance_id: str) -> None:
    if state["status"] != "available":
        raise TargetNotAvailable(f"database {instance_id} is {state['status']}, not available: no change now")


class DatabaseAction(Action[P]):
    """An action on the app's database: the instance is the target, database cooldowns apply."""

    def target(self) -> str:
        return self.settings.target_db_instance_id

    def cooldown_seconds(self) -> int:
        return self.settings.db_cooldown_seconds

    def verify_after_seconds(self) -> int:
        return self.settings.db_verify_after_seconds

    def read(self, params: P) -> dict[str, Any]:
        return instance_state(describe_instance(self.clients.rds, self.target()))

    def shared_read(self) -> str | None:
        return f"rds:{self.target()}"
