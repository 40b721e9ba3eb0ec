"""Does the replay agree with reality? The local story's own alarm history, replayed (SPEC §10).

`make demo` ends here: the local AWS's alarm history (DescribeAlarmHistory) over the story's
first chapter is replayed, read-only, through `printapp-remediation replay`'s simulation, with
the deployed functions' settings and the app as it was before the story; then each decision the
replay makes is set beside the one the deployed functions made, from the audit trail. Any
mismatch is a bug in one of the two.

The chapter is what a replay of alarm history can know: state changes the alarms notified through
SNS, the functions as deployed, nothing done by hand. The later steps change the functions'
environment (approval mode, dry run, verify delay), invoke them directly (metric-math alarms the
emulator cannot make, an untrusted sender, approvals), or put the app back by hand between the
closed-loop scenarios: none of that is in an alarm history, so a replay cannot see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import replay

#: The story's steps a replay of its alarm history must reproduce, decision by decision.
CHAPTER = ("first-ok", "spike", "duplicate", "recovery-too-soon", "recovery", "db-warning", "db-critical")


@dataclass(frozen=True)
class Before:
    """Read (read-only) after the deploy, before the story: what the replay starts from."""

    start: replay.Start
    deployed: replay.Deployed


@dataclass
class Fidelity:
    since: datetime
    until: datetime
    changes: int
    #: (alarm, state, handler, action) → what the deployed functions did, what the replay did
    rows: list[tuple[tuple[str, str, str, str], str, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    #: every call the replay made to the local AWS (all reads: the guard refuses anything else)
    calls: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[tuple[tuple[str, str, str, str], str, str]]:
        return [row for row in self.rows if row[1] != row[2]]

    def report(self) -> list[str]:
        """Plain lines for the terminal."""
        agreed = len(self.rows) - len(self.mismatches)
        lines = [
            f"Replay of the local AWS's alarm history ({self.since:%H:%M:%S}–{self.until:%H:%M:%S}, "
            f"{self.changes} state changes, read-only: {len(self.calls)} read calls): "
            f"{agreed} of {len(self.rows)} decisions agree with the deployed functions"
        ]
        for (alarm, state, handler, action), actual, replayed in self.rows:
            mark = "=" if actual == replayed else "≠"
            shown = f"{alarm.removeprefix('printapp-remediation-')} {state}"
            lines.append(
                f"  {mark} {shown:<28} {handler:<19} {action or '–':<26} deployed: {actual:<26} replay: {replayed}"
            )
        lines += [f"  left out: {why}" for why in self.left_out]
        return lines


def _said(detail: Mapping[str, Any]) -> str:
    limit = detail.get("limit")
    return str(detail.get("outcome")) + (f" ({limit})" if limit else "")


def _key(alarm: Any, state: Any, handler: Any, action: Any) -> tuple[str, str, str, str]:
    return (str(alarm or ""), str(state or ""), str(handler), str(action or ""))


def before_the_story(client: Callable[[str], Any], stack: str) -> Before:
    """What an operator's replay would read at the start of the window."""
    deployed, start = replay.read_deployment(client, stack)
    return Before(start, deployed)


def compare(
    client: Callable[[str], Any],
    before: Before,
    actual: Iterable[Mapping[str, Any]],
    since: datetime,
    until: datetime,
) -> Fidelity:
    """Replay the history of [since, until] read through `client` (read-only clients), and set
    each replayed decision beside the deployed functions' (`actual`: their audit events' details),
    matched by alarm, state, handler and action, in time order."""
    history, alarms = replay.read_account_history(client, since, until)
    changes, left_out = replay.state_changes(history, alarms, before.deployed.topics)
    replayed = replay.simulate(
        changes,
        start=before.start,
        left_out=left_out,
        deployed=before.deployed,
        metrics_from=client("cloudwatch"),
        until=until,
    )
    theirs: dict[tuple[str, str, str, str], list[str]] = {}
    for detail in actual:
        alarm, action = detail.get("alarm") or {}, detail.get("action") or {}
        key = _key(alarm.get("name"), alarm.get("state"), detail["handler"], action.get("name"))
        theirs.setdefault(key, []).append(_said(detail))
    ours: dict[tuple[str, str, str, str], list[str]] = {}
    for decision in replayed.decisions:
        key = _key(decision["alarm"], decision["state"], decision["handler"], decision["action"])
        ours.setdefault(key, []).append(_said(decision))
    fidelity = Fidelity(since, until, len(changes), left_out=replayed.left_out)
    for key in [*theirs, *(key for key in ours if key not in theirs)]:
        deployed, simulated = theirs.get(key, []), ours.get(key, [])
        for index in range(max(len(deployed), len(simulated))):
            fidelity.rows.append(
                (
                    key,
                    deployed[index] if index < len(deployed) else "nothing",
                    simulated[index] if index < len(simulated) else "nothing",
                )
            )
    return fidelity


def chapter_window(results: Sequence[Any]) -> tuple[datetime, datetime, list[Mapping[str, Any]]]:
    """The chapter's time window and the deployed functions' decisions in it."""
    chapter = [result for result in results if result.key in CHAPTER]
    details = [event["detail"] for result in chapter for event in result.events]
    # The emulator stamps its history to the second (CloudWatch, to the millisecond).
    return chapter[0].started.replace(microsecond=0), chapter[-1].finished, details
