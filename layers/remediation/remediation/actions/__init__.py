"""The action registry: every runbook action, by name.

Adding an action is one new module here (named in `_WHERE` below) plus its IAM lines in
`template.yaml`; `tests/unit/test_permissions.py` fails until the template grants them.

A module is imported when one of its names is first asked for (PEP 562), so a handler's cold
start loads the actions its runbook uses, not every action there is: the spike handler never
imports the database's. `REGISTRY` imports them all (the verifier and approvals look actions up
by name).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from remediation.actions.base import Action, ActionParameters, Direction, Plan

if TYPE_CHECKING:
    from remediation.actions.instance_class import InstanceClassStep, StepUpInstanceClass
    from remediation.actions.read_replica import AddReadReplica, ReadReplica
    from remediation.actions.reserved_concurrency import ReservedConcurrency, SetReservedConcurrency
    from remediation.actions.stage_cache import SetStageCache, StageCache
    from remediation.actions.storage_autoscaling import EnableStorageAutoscaling, StorageAutoscaling

    REGISTRY: dict[str, type[Action[Any]]]

#: Each action (and its parameters) by the module that defines it; REGISTRY's order is this one's.
_WHERE = {
    "SetReservedConcurrency": "reserved_concurrency",
    "ReservedConcurrency": "reserved_concurrency",
    "SetStageCache": "stage_cache",
    "StageCache": "stage_cache",
    "EnableStorageAutoscaling": "storage_autoscaling",
    "StorageAutoscaling": "storage_autoscaling",
    "AddReadReplica": "read_replica",
    "ReadReplica": "read_replica",
    "StepUpInstanceClass": "instance_class",
    "InstanceClassStep": "instance_class",
}
_ACTIONS = (
    "SetReservedConcurrency",
    "SetStageCache",
    "EnableStorageAutoscaling",
    "AddReadReplica",
    "StepUpInstanceClass",
)


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        registry = {action.name: action for action in map(__getattr__, _ACTIONS)}
        globals()["REGISTRY"] = registry
        return registry
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


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
