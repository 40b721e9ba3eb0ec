"""API Gateway stage cache (runbook: spike → enabled, 1.6 GB; scale-down → baseline).

API Gateway only accepts a fixed list of `cacheClusterSize` values. The runbook's "1.0 GB" is
not one of them, so a configured size is rounded up to the next valid size and the audit event
says so, instead of failing at 3 a.m. on a ValidationException.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from remediation.actions.base import Action, ActionParameters, Direction, Plan
from remediation.errors import (
    AlreadyAtTarget,
    CeilingReached,
    ConfigurationError,
    Limit,
    OnlyLowers,
    TargetNotAvailable,
)
from remediation.settings import VALID_CACHE_SIZES_GB

#: While the cache cluster is being created or deleted, another update would fail.
_BUSY_STATUSES = frozenset({"CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "FLUSH_IN_PROGRESS"})


class StageCache(ActionParameters, frozen=True, kw_only=True):
    enabled: bool = True
    size_gb: Decimal | None = None

    def __post_init__(self) -> None:
        # msgspec bounds numbers, not Decimals: the size's bounds are checked here.
        if self.size_gb is not None and not 0 < self.size_gb <= VALID_CACHE_SIZES_GB[-1]:
            raise ValueError(f"size_gb {self.size_gb} is outside 0 < size ≤ {VALID_CACHE_SIZES_GB[-1]} GB")


def valid_cache_size(requested: Decimal) -> Decimal:
    """The smallest valid cache size at or above `requested`."""
    for size in VALID_CACHE_SIZES_GB:
        if size >= requested:
            return size
    raise ValueError(f"{requested} GB is larger than the largest cache size {VALID_CACHE_SIZES_GB[-1]}")


def _largest_valid_at_most(limit: Decimal) -> Decimal:
    return max(size for size in VALID_CACHE_SIZES_GB if size <= limit)


class SetStageCache(Action[StageCache]):
    name = "set-stage-cache"
    permissions = ("apigateway:GET", "apigateway:PATCH")
    parameters = StageCache

    _rest_api_id: str | None = None

    def rest_api_id(self) -> str:
        """The configured REST API id, or the API found by its name (the ApiName dimension)."""
        if self.settings.target_rest_api_id:
            return self.settings.target_rest_api_id
        if self._rest_api_id is None:
            paginator = self.clients.apigateway.get_paginator("get_rest_apis")
            matches = [
                api["id"]
                for page in paginator.paginate()
                for api in page.get("items", [])
                if api.get("name") == self.settings.target_api_name
            ]
            if len(matches) != 1:
                raise ConfigurationError(
                    f"TARGET_REST_API_ID is not set and {len(matches)} REST APIs are named "
                    f"{self.settings.target_api_name!r}: set TARGET_REST_API_ID"
                )
            self._rest_api_id = matches[0]
        return self._rest_api_id

    def target(self) -> str:
        return f"{self.settings.target_api_name}/{self.settings.target_api_stage}"

    @staticmethod
    def _state(stage: Mapping[str, Any]) -> dict[str, Any]:
        enabled = bool(stage.get("cacheClusterEnabled"))
        size = stage.get("cacheClusterSize")
        return {
            "cacheClusterEnabled": enabled,
            "cacheClusterSize": str(size) if enabled and size is not None else None,
            "cacheClusterStatus": stage.get("cacheClusterStatus"),
        }

    def read(self, params: StageCache) -> dict[str, Any]:
        stage = self.clients.apigateway.get_stage(
            restApiId=self.rest_api_id(), stageName=self.settings.target_api_stage
        )
        return self._state(stage)  # type: ignore[arg-type]

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {"cacheClusterEnabled": before["cacheClusterEnabled"], "cacheClusterSize": before["cacheClusterSize"]}

    def capacity(self, after: Mapping[str, Any]) -> dict[str, float]:
        enabled = after.get("cacheClusterEnabled") and after.get("cacheClusterSize")
        return {"CacheSizeGb": float(after["cacheClusterSize"]) if enabled else 0.0}

    def plan(self, before: Mapping[str, Any], params: StageCache) -> Plan:
        if before.get("cacheClusterStatus") in _BUSY_STATUSES:
            raise TargetNotAvailable(f"stage cache of {self.target()} is {before['cacheClusterStatus']}")
        enabled = bool(before["cacheClusterEnabled"])
        current = Decimal(before["cacheClusterSize"]) if enabled and before["cacheClusterSize"] else None
        if params.direction is Direction.RESTORE:
            return self._plan_restore(enabled, current, params)
        return self._plan_raise(current, params)

    def _plan_raise(self, current: Decimal | None, params: StageCache) -> Plan:
        requested = params.size_gb or self.settings.cache_size_gb
        size = valid_cache_size(requested)
        notes = []
        if size != requested:
            notes.append(f"{requested} GB is not a valid cacheClusterSize; rounded up to {size} GB")
        limit: Limit | None = None
        ceiling = _largest_valid_at_most(self.settings.cache_size_ceiling_gb)
        if size > ceiling:
            if current is not None and current >= ceiling:
                raise CeilingReached(f"stage cache is {current} GB, at the configured ceiling {ceiling} GB")
            size, limit = ceiling, Limit.CEILING
            notes.append(f"capped by the configured ceiling {ceiling} GB")
        if current is not None and current >= size:
            raise AlreadyAtTarget(
                f"stage cache is already enabled at {current} GB (target {size} GB): a spike never shrinks a cache"
            )
        shown = f"{current} GB" if current is not None else "disabled"
        why = f" ({'; '.join(notes)})" if notes else ""
        return Plan(
            after={"cacheClusterEnabled": True, "cacheClusterSize": str(size)},
            summary=f"stage cache of {self.target()} {shown} → enabled {size} GB{why}",
            parameters={
                "requestedSizeGb": str(requested),
                "sizeGb": str(size),
                "ceilingGb": str(ceiling),
                "notes": notes,
            },
            limit=limit,
        )

    def _plan_restore(self, enabled: bool, current: Decimal | None, params: StageCache) -> Plan:
        if not params.enabled:
            if not enabled:
                raise AlreadyAtTarget("stage cache is already disabled, as in its baseline")
            return Plan(
                after={"cacheClusterEnabled": False, "cacheClusterSize": None},
                summary=f"stage cache of {self.target()} {current} GB → disabled (baseline restored)",
                parameters={"enabled": False},
            )
        if params.size_gb is None:
            raise ConfigurationError("restoring an enabled cache needs the baseline's size")
        size = valid_cache_size(params.size_gb)
        if current == size:
            raise AlreadyAtTarget(f"stage cache is already at its baseline {size} GB")
        if current is None or size > current:
            shown = f"{current} GB" if current is not None else "disabled"
            raise OnlyLowers(f"stage cache is {shown}, below the baseline {size} GB: a scale-down only lowers")
        return Plan(
            after={"cacheClusterEnabled": True, "cacheClusterSize": str(size)},
            summary=f"stage cache of {self.target()} {current or 'disabled'} → {size} GB (baseline restored)",
            parameters={"enabled": True, "sizeGb": str(size)},
        )

    def apply(self, plan: Plan, params: StageCache) -> dict[str, Any]:
        operations: list[dict[str, str]] = [
            {"op": "replace", "path": "/cacheClusterEnabled", "value": str(plan.after["cacheClusterEnabled"]).lower()}
        ]
        if plan.after["cacheClusterEnabled"]:
            operations.append({"op": "replace", "path": "/cacheClusterSize", "value": plan.after["cacheClusterSize"]})
        stage = self.clients.apigateway.update_stage(
            restApiId=self.rest_api_id(),
            stageName=self.settings.target_api_stage,
            patchOperations=operations,  # type: ignore[arg-type]
        )
        return self._state(stage)  # type: ignore[arg-type]
