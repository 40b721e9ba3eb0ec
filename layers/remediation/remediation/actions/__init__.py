"""The action registry: every runbook action, by name.

Adding an action is one new module here (registered below) plus its IAM lines in
`template.yaml`; `tests/unit/test_permissions.py` fails until the template grants them.
"""

from __future__ import annotations

from remediation.actions.base import Action, ActionParameters, Direction, Plan
from remediation.actions.reserved_concurrency import ReservedConcurrency, SetReservedConcurrency
from remediation.actions.stage_cache import SetStageCache, StageCache

REGISTRY: dict[str, type[Action]] = {
    action.name: action  # type: ignore[type-abstract]
    for action in (SetReservedConcurrency, SetStageCache)
}

__all__ = [
    "REGISTRY",
    "Action",
    "ActionParameters",
    "Direction",
    "Plan",
    "ReservedConcurrency",
    "SetReservedConcurrency",
    "SetStageCache",
    "StageCache",
]
