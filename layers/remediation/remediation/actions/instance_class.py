"""One step up the database's instance class ladder (runbook: DB CPU critical).

A class change restarts the instance: a short outage. So it respects the approval mode (the
runner asks for approval instead of acting in `manual`), runs only when the instance is
`available`, climbs one step of a fixed, known ladder per family, and never guesses: an
unknown family is a Skipped decision, the top of the ladder an Escalation Required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediation.actions.base import ActionParameters, Plan
from remediation.actions.db_instance import (
    DESCRIBE,
    DatabaseAction,
    instance_state,
    require_available,
)
from remediation.errors import AlreadyAtTarget, CeilingReached, EscalationRequired, Limit, NotApplicable

_SIZES_TO_24XL = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
_SIZES_TO_16XL = _SIZES_TO_24XL[:-1]

#: The ladders this runbook knows. Families not listed are never changed automatically.
LADDERS: dict[str, tuple[str, ...]] = {
    "db.r5": _SIZES_TO_24XL,
    "db.m5": _SIZES_TO_24XL,
    "db.r6g": _SIZES_TO_16XL,
    "db.r7g": _SIZES_TO_16XL,
    "db.m6g": _SIZES_TO_16XL,
    "db.m7g": _SIZES_TO_16XL,
}


class UnknownInstanceFamily(NotApplicable):
    limit = Limit.UNKNOWN_INSTANCE_FAMILY


class TopOfLadder(EscalationRequired):
    limit = Limit.TOP_OF_LADDER


def ladder_position(instance_class: str) -> tuple[str, tuple[str, ...], int]:
    family, _, size = instance_class.rpartition(".")
    sizes = LADDERS.get(family)
    if sizes is None or size not in sizes:
        known = ", ".join(sorted(LADDERS))
        raise UnknownInstanceFamily(f"{instance_class} is not on a known ladder ({known}): no automatic class change")
    return family, sizes, sizes.index(size)


class InstanceClassStep(ActionParameters, frozen=True, kw_only=True):
    apply_immediately: bool = True
    #: The class to step up to; unset, the next rung above the current one. Fixed by the first
    #: attempt of an alarm state change, so a retry never climbs a second rung.
    to: str | None = None


class StepUpInstanceClass(DatabaseAction[InstanceClassStep]):
    name = "step-up-instance-class"
    permissions = (DESCRIBE, "rds:ModifyDBInstance")
    parameters = InstanceClassStep
    causes_outage = True

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"instanceClass": before["instanceClass"]}

    def capacity(self, after: Mapping[str, Any]) -> dict[str, float]:
        # The rung on its family's ladder (large = 1): a step up shows as a step on the dashboard.
        try:
            _, _, index = ladder_position(after["instanceClass"])
        except (UnknownInstanceFamily, KeyError):
            return {}
        return {"DbClassRank": float(index + 1)}

    def holds(self, current: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        # A class change applies during a short outage: until then RDS shows it as pending.
        return after["instanceClass"] in (current.get("instanceClass"), current.get("pendingInstanceClass"))

    def plan(self, before: Mapping[str, Any], params: InstanceClassStep) -> Plan:
        current: str = before["instanceClass"]
        family, sizes, index = ladder_position(current)
        if params.to is None:
            if index + 1 >= len(sizes):
                raise TopOfLadder(f"{self.target()} is {current}, the top of the {family} ladder: a human must decide")
            following = f"{family}.{sizes[index + 1]}"
        else:
            following = params.to
            target_family, _, target_index = ladder_position(following)
            if target_family != family or target_index <= index:
                raise AlreadyAtTarget(f"{self.target()} is {current}, not below {following}: a step up only raises")
        ceiling = self.settings.db_instance_class_ceiling
        if ceiling:
            ceiling_family, _, ceiling_index = ladder_position(ceiling)
            if ceiling_family == family and index >= ceiling_index:
                raise CeilingReached(f"{self.target()} is {current}, at the configured ceiling {ceiling}")
        require_available(dict(before), self.target())
        return Plan(
            after={"instanceClass": following},
            summary=f"instance class of {self.target()} {current} → {following} (a short outage)",
            parameters={"from": current, "to": following, "applyImmediately": params.apply_immediately},
            pins={"to": following},
        )

    def apply(self, plan: Plan, params: InstanceClassStep) -> dict[str, Any]:
        response = self.clients.rds.modify_db_instance(
            DBInstanceIdentifier=self.target(),
            DBInstanceClass=plan.after["instanceClass"],
            ApplyImmediately=params.apply_immediately,
        )
        return instance_state(dict(response["DBInstance"]))
