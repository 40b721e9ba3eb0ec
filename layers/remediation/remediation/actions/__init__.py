"""The action registry: every runbook action, by name.

Adding an action is one new module here (registered below) plus its IAM lines in
`template.yaml`; `tests/unit/test_permissions.py` fails until the template grants them.
"""

from __future__ import annotations

from typing import Any

from remediation.actions.base import Action, ActionParameters, Direction, Plan
from remediation.actions.instance_class import InstanceClassStep, StepUpInstanceClass
from remediation.actions.read_replica import AddReadReplica, ReadReplica
from remediation.actions.reserved_concurrency import ReservedConcurrency, SetReservedConcurrency
from remediation.actions.stage_cache import SetStageCache, StageCache
from remediation.actions.storage_autoscaling import EnableStorageAutoscaling, StorageAutoscaling

REGISTRY: dict[str, type[Action[Any]]] = {
    action.name: action  # type: ignore[type-abstract]
    for action in (SetReservedConcurrency, SetStageCache, EnableStorageAutoscaling, AddReadReplica, StepUpInstanceClass)
}

__all__ = [
    "REGISTRY",
    "Action",
    "ActionParameters",
    "AddReadReplica",
    "Direction",
    "EnableStorageAutoscaling",
    "InstanceClassStep",
    "Plan",
    "ReadReplica",
    "ReservedConcurrency",
    "SetReservedConcurrency",
    "SetStageCache",
    "StageCache",
    "StepUpInstanceClass",
    "StorageAutoscaling",
]
