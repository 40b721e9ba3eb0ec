"""Reading the app's database instance: shared by the database actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
