"""Runbook: back to normal (OK on the traffic alarms).

Restore what the first scale-up found (its recorded baseline; without one, the runbook's
reserved concurrency 100 and cache 0.5 GB), but only when
- the alarm is still OK when re-read,
- no traffic alarm on the app's resources is still in ALARM, and
- the last scale-up is older than the hysteresis window (15 min by default),
so a flapping alarm does not saw capacity up and down.
"""

from __future__ import annotations

from remediation.actions import Direction, ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.errors import HysteresisActive, TrafficAlarmActive
from remediation.intents import Act, Decided, History, Need, Report, Situation
from remediation.runbooks.base import Runbook
from remediation.signals import TRAFFIC_SIGNALS


class ScaleDownRunbook(Runbook):
    name = "scale_down_handler"
    signals = TRAFFIC_SIGNALS
    states = frozenset({"OK"})
    actions = (SetReservedConcurrency, SetStageCache)
    reads = frozenset({Need.FIRING_TRAFFIC_ALARMS, Need.SCALE_HISTORY})

    def decide_verified(self, situation: Situation) -> Decided:
        facts, settings = situation.facts, situation.settings
        if facts.firing_traffic_alarms:
            firing = ", ".join(sorted(facts.firing_traffic_alarms))
            return Decided(
                (Report.of(TrafficAlarmActive(f"traffic alarm still in ALARM: {firing}; keeping the scale-up")),)
            )
        concurrency = facts.history.get(SetReservedConcurrency.name, History())
        cache = facts.history.get(SetStageCache.name, History())
        latest = max((h.last_raise for h in (concurrency, cache) if h.last_raise is not None), default=None)
        hysteresis = settings.scale_down_hysteresis_seconds
        if latest is not None and situation.now - latest < hysteresis:
            ago = int(situation.now - latest)
            return Decided(
                (Report.of(HysteresisActive(f"last scale-up was {ago} s ago; scale-down waits {hysteresis} s")),)
            )
        concurrency_baseline = concurrency.baseline or {}
        cache_baseline = cache.baseline
        return Decided(
            (
                Act(
                    SetReservedConcurrency,
                    ReservedConcurrency(
                        direction=Direction.RESTORE,
                        value=concurrency_baseline.get("reservedConcurrency")
                        if concurrency.baseline
                        else settings.baseline_reserved_concurrency,
                    ),
                ),
                Act(
                    SetStageCache,
                    StageCache(
                        direction=Direction.RESTORE,
                        enabled=cache_baseline["cacheClusterEnabled"] if cache_baseline else True,
                        size_gb=(cache_baseline or {}).get("cacheClusterSize") or settings.baseline_cache_size_gb,
                    ),
                ),
            )
        )
