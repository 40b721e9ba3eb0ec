"""Reserved concurrency of the app function (runbook: spike → 200; scale-down → baseline).

Raising reserved concurrency takes capacity from the account's unreserved pool. AWS refuses to
leave less than the account's unreserved minimum (100 by default; lower on some accounts), and
so do we, before calling it: the change is clamped to what fits, or skipped with the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from msgspec import Meta

from remediation.actions.base import Action, ActionParameters, Direction, Plan
from remediation.errors import AccountHeadroom, AlreadyAtTarget, CeilingReached, Limit, OnlyLowers


class ReservedConcurrency(ActionParameters, frozen=True, kw_only=True):
    #: None means "no reservation": only a restore to a baseline that had none asks for it.
    value: Annotated[int, Meta(ge=1, le=100_000)] | None

    def __post_init__(self) -> None:
        if self.direction is Direction.RAISE and self.value is None:
            raise ValueError("raising reserved concurrency needs a value")


class SetReservedConcurrency(Action[ReservedConcurrency]):
    name = "set-reserved-concurrency"
    permissions = (
        "lambda:GetFunctionConcurrency",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:GetAccountSettings",
    )
    parameters = ReservedConcurrency

    def target(self) -> str:
        return self.settings.target_function_name

    def _reserved(self) -> int | None:
        response = self.clients.lambda_.get_function_concurrency(FunctionName=self.target())
        return response.get("ReservedConcurrentExecutions")

    def read(self, params: ReservedConcurrency) -> dict[str, Any]:
        before: dict[str, Any] = {"reservedConcurrency": self._reserved()}
        if params.direction is Direction.RAISE:
            # Lowering only gives capacity back; the account figures matter when raising.
            account = self.clients.lambda_.get_account_settings()["AccountLimit"]
            before["accountConcurrency"] = account["ConcurrentExecutions"]
            before["unreservedAccountConcurrency"] = account["UnreservedConcurrentExecutions"]
        return before

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"reservedConcurrency": before["reservedConcurrency"]}

    def capacity(self, after: Mapping[str, Any]) -> dict[str, float]:
        value = after.get("reservedConcurrency")
        return {} if value is None else {"ReservedConcurrency": float(value)}

    def plan(self, before: Mapping[str, Any], params: ReservedConcurrency) -> Plan:
        current: int | None = before["reservedConcurrency"]
        if params.direction is Direction.RESTORE:
            return self._plan_restore(current, params.value)
        assert params.value is not None
        return self._plan_raise(current, params.value, before["unreservedAccountConcurrency"])

    def _plan_raise(self, current: int | None, requested: int, unreserved: int) -> Plan:
        if current is not None and current >= requested:
            raise AlreadyAtTarget(
                f"reserved concurrency is {current}, at or above the target {requested}: a spike only raises"
            )
        ceiling = self.settings.reserved_concurrency_ceiling
        floor = self.settings.unreserved_concurrency_floor
        held = current or 0
        granted, limit, why = requested, None, ""
        if granted > ceiling:
            if held >= ceiling:
                raise CeilingReached(f"reserved concurrency is {held}, at the configured ceiling {ceiling}")
            granted, limit, why = ceiling, Limit.CEILING, f" (capped by the configured ceiling {ceiling})"
        # Reserving `granted` takes (granted - held) from the unreserved pool.
        fits = held + unreserved - floor
        if granted > fits:
            if fits <= held:
                raise AccountHeadroom(
                    f"the account has {unreserved} unreserved concurrency and must keep {floor}: "
                    f"no room to raise {self.target()} from {held} towards {requested}"
                )
            granted, limit = fits, Limit.ACCOUNT_HEADROOM
            why = f" (account headroom: {unreserved} unreserved, {floor} must stay unreserved)"
        return Plan(
            after={"reservedConcurrency": granted},
            summary=f"reserved concurrency of {self.target()} {current} → {granted}{why}",
            parameters={
                "requested": requested,
                "value": granted,
                "ceiling": ceiling,
                "unreservedFloor": floor,
            },
            limit=limit,
        )

    def _plan_restore(self, current: int | None, baseline: int | None) -> Plan:
        if current == baseline:
            raise AlreadyAtTarget(f"reserved concurrency is already at its baseline {baseline}")
        if current is not None and baseline is not None and baseline > current:
            raise OnlyLowers(
                f"reserved concurrency is {current}, below the baseline {baseline}: a scale-down only lowers"
            )
        shown = "no reservation" if baseline is None else str(baseline)
        return Plan(
            after={"reservedConcurrency": baseline},
            summary=f"reserved concurrency of {self.target()} {current} → {shown} (baseline restored)",
            parameters={"value": baseline},
        )

    def apply(self, plan: Plan, params: ReservedConcurrency) -> dict[str, Any]:
        value = plan.after["reservedConcurrency"]
        if value is None:
            self.clients.lambda_.delete_function_concurrency(FunctionName=self.target())
            return {"reservedConcurrency": self._reserved()}
        response = self.clients.lambda_.put_function_concurrency(
            FunctionName=self.target(), ReservedConcurrentExecutions=value
        )
        return {"reservedConcurrency": response.get("ReservedConcurrentExecutions")}
