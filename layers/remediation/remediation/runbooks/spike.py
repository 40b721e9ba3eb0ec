"""Runbook: traffic spike (ALARM on API latency or Lambda concurrency).

1. Verify: the alarm is still in ALARM; read the traffic (requests per minute, last hour).
2. Reserved concurrency of the app function → 200, within account headroom and the ceiling.
3. Stage cache → enabled, 1.6 GB (critical: one step further, 6.1 GB, within the ceiling).
A spike only ever raises.
"""

from __future__ import annotations

from remediation import guardrails
from remediation.actions import ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.evidence import read_traffic
from remediation.runbooks.base import Runbook
from remediation.runner import Run
from remediation.signals import TRAFFIC_SIGNALS


class SpikeRunbook(Runbook):
    name = "spike_handler"
    signals = TRAFFIC_SIGNALS
    actions = (SetReservedConcurrency, SetStageCache)
    permissions = ("cloudwatch:GetMetricData",)

    def run(self, run: Run) -> None:
        self.require_state(run, "ALARM")
        guardrails.verify_alarm_state(run.clients.cloudwatch, run.alarm, "ALARM")
        run.evidence["traffic"] = read_traffic(run.clients.cloudwatch, run.settings)
        settings = run.settings
        run.execute(
            SetReservedConcurrency,
            ReservedConcurrency(
                value=settings.critical_reserved_concurrency_target
                if run.critical
                else settings.reserved_concurrency_target
            ),
        )
        run.execute(
            SetStageCache,
            StageCache(size_gb=settings.critical_cache_size_gb if run.critical else settings.cache_size_gb),
        )
