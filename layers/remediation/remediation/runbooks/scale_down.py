"""Runbook: back to normal (OK on the traffic alarms).

Restore what the first scale-up found (its recorded baseline), but only when
- the alarm is still OK when re-read,
- no traffic alarm on the app's resources is still in ALARM, and
- the last scale-up is older than the hysteresis window (15 min by default),
so a flapping alarm does not saw capacity up and down.

It only ever undoes what this system raised: with no recorded baseline (a first deploy's
INSUFFICIENT_DATA → OK, a value an operator set by hand) it changes nothing (`no-baseline`); and
the engine leaves alone a target that no longer holds what this system raised it to.
"""

from __future__ import annotations

from remediation.actions import Direction, ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.errors import HysteresisActive, NoBaseline, TrafficAlarmActive
from remediation.intents import Act, Decided, History, Intent, Need, Report, Situation
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
        intents: list[Intent] = []
        if concurrency.baseline is None:
            intents.append(_nothing_to_undo(SetReservedConcurrency.name, settings.target_function_name))
        else:
            value = concurrency.baseline["reservedConcurrency"]
            intents.append(Act(SetReservedConcurrency, ReservedConcurrency(direction=Direction.RESTORE, value=value)))
        if cache.baseline is None:
            target = f"{settings.target_api_name}/{settings.target_api_stage}"
            intents.append(_nothing_to_undo(SetStageCache.name, target))
        else:
            restore = StageCache(
                direction=Direction.RESTORE,
                enabled=cache.baseline["cacheClusterEnabled"],
                size_gb=cache.baseline["cacheClusterSize"],
            )
            intents.append(Act(SetStageCache, restore))
        return Decided(tuple(intents))


def _nothing_to_undo(action: str, target: str) -> Report:
    return Report.of(
        NoBaseline(
            f"{action} on {target}: no scale-up of this system's is recorded (a first OK after deploy, or a "
            "value set by hand), so there is nothing of ours to undo; left as it is"
        ),
        action=(action, target),
    )
