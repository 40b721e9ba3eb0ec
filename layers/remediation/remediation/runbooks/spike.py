"""Runbook: traffic spike (ALARM on API latency or Lambda concurrency).

1. Verify: the alarm is still in ALARM; read the traffic (requests per minute, last hour).
2. Reserved concurrency of the app function → 200, within account headroom and the ceiling.
3. Stage cache → enabled, 1.6 GB (critical: one step further, 6.1 GB, within the ceiling).
A spike only ever raises.
"""

from __future__ import annotations

from remediation.actions import ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.intents import Act, Decided, Need, Situation
from remediation.runbooks.base import Runbook
from remediation.signals import TRAFFIC_SIGNALS, Level


class SpikeRunbook(Runbook):
    name = "spike_handler"
    signals = TRAFFIC_SIGNALS
    actions = (SetReservedConcurrency, SetStageCache)
    reads = frozenset({Need.TRAFFIC})
    permissions = ("cloudwatch:GetMetricData",)

    def decide_verified(self, situation: Situation) -> Decided:
        settings = situation.settings
        critical = situation.recognised.level is Level.CRITICAL
        concurrency = (
            settings.critical_reserved_concurrency_target if critical else settings.reserved_concurrency_target
        )
        cache = settings.critical_cache_size_gb if critical else settings.cache_size_gb
        return Decided(
            (
                Act(SetReservedConcurrency, ReservedConcurrency(value=concurrency)),
                Act(SetStageCache, StageCache(size_gb=cache)),
            ),
            evidence={"traffic": situation.facts.traffic},
        )
