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

from collections.abc import Mapping
from typing import Any

from remediation.actions import Direction, ReservedConcurrency, SetReservedConcurrency, SetStageCache, StageCache
from remediation.errors import HysteresisActive, NoBaseline, TrafficAlarmActive
from remediation.intents import Act, Decided, History, Intent, Need, Report, Situation
from remediation.runbooks.base import Runbook
from remediation.signals import TRAFFIC_SIGNALS


class ScaleDownRunbook(Runbook):
    name = "scale_down_handler"
    signals = TRAFFIC_SIGNALS
    states = frozenset({"OK"})
    raises = False
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
        targets = {
            SetReservedConcurrency.name: settings.target_function_name,
            SetStageCache.name: f"{settings.target_api_name}/{settings.target_api_stage}",
        }
        for name, history in ((SetReservedConcurrency.name, concurrency), (SetStageCache.name, cache)):
            act = restore(name, history.baseline) if history.baseline is not None else None
            intents.append(act or _nothing_to_undo(name, targets[name]))
        return Decided(tuple(intents))


def restore(action: str, baseline: Mapping[str, Any]) -> Act | None:
    """Put a traffic action's target back to its recorded baseline (scale-down and roll-back);
    None for an action with no way back (a database change is never undone automatically)."""
    if action == SetReservedConcurrency.name:
        return Act(
            SetReservedConcurrency,
            ReservedConcurrency(direction=Direction.RESTORE, value=baseline["reservedConcurrency"]),
        )
    if action == SetStageCache.name:
        return Act(
            SetStageCache,
            StageCache(
                direction=Direction.RESTORE,
                enabled=baseline["cacheClusterEnabled"],
                size_gb=baseline["cacheClusterSize"],
            ),
        )
    return None


def _nothing_to_undo(action: str, target: str) -> Report:
    return Report.of(
        NoBaseline(
            f"{action} on {target}: no scale-up of this system's is recorded (a first OK after deploy, or a "
            "value set by hand), so there is nothing of ours to undo; left as it is"
        ),
        action=(action, target),
    )
