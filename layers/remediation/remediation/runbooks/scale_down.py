"""Runbook: back to normal (OK on the traffic alarms).

Restore what the first scale-up found (its recorded baseline; without one, the runbook's
reserved concurrency 100 and cache 0.5 GB), but only when
- the alarm is still OK when re-read,
- no traffic alarm on the app's resources is still in ALARM, and
- the last scale-up is older than the hysteresis window (15 min by default),
so a flapping alarm does not saw capacity up and down.
"""

from __future__ import annotations

from remediation import guardrails
from remediation.actions import Direction, ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.runbooks.base import Runbook
from remediation.runner import Run
from remediation.signals import TRAFFIC_SIGNALS


class ScaleDownRunbook(Runbook):
    name = "scale_down_handler"
    signals = TRAFFIC_SIGNALS
    actions = (SetReservedConcurrency, SetStageCache)

    def run(self, run: Run) -> None:
        self.require_state(run, "OK")
        cloudwatch = run.clients.cloudwatch
        guardrails.verify_alarm_state(cloudwatch, run.alarm, "OK")
        guardrails.check_no_traffic_alarm_firing(cloudwatch, run.settings)

        concurrency = SetReservedConcurrency(run.clients, run.settings)
        cache = SetStageCache(run.clients, run.settings)
        guardrails.check_hysteresis(
            (run.state.last_raise(action.name, action.target()) for action in (concurrency, cache)),
            run.state.now(),
            run.settings.scale_down_hysteresis_seconds,
        )

        settings = run.settings
        concurrency_baseline = run.state.baseline(concurrency.name, concurrency.target())
        run.execute(
            SetReservedConcurrency,
            ReservedConcurrency(
                direction=Direction.RESTORE,
                value=concurrency_baseline["reservedConcurrency"]
                if concurrency_baseline
                else settings.baseline_reserved_concurrency,
            ),
        )
        cache_baseline = run.state.baseline(cache.name, cache.target())
        run.execute(
            SetStageCache,
            StageCache(
                direction=Direction.RESTORE,
                enabled=cache_baseline["cacheClusterEnabled"] if cache_baseline else True,
                size_gb=(cache_baseline or {}).get("cacheClusterSize") or settings.baseline_cache_size_gb,
            ),
        )
