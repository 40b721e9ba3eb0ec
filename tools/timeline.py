"""What `make demo` shows: a live terminal timeline, a summary, and a PNG of the story.

The PNG answers "what did each decision do": the scripted signals against their thresholds, and
under them the capacity the remediation controls, read back from the emulator, with every
decision a marker on the panel it acted on, labelled with what changed. The terminal shows the
audit trail as it arrives: a live table cut from the top so the newest rows stay on screen, or,
when stdout is not a terminal (CI, a log file), one plain line per step and per decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rich.console import Console as RichConsole
from rich.console import ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from remediation.actions.instance_class import UnknownInstanceFamily, ladder_position

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    from demo import StepResult
    from local_aws import LocalAws

#: Colour of each decision in the terminal.
OUTCOME_STYLE = {
    "applied": "green",
    "planned": "cyan",
    "skipped": "yellow",
    "failed": "red",
    "rejected": "magenta",
    "escalated": "bright_red",
    "approval-requested": "blue",
    "verified": "bold green",
    "ineffective": "dark_orange",
    "drifted": "bright_magenta",
    "rolled-back": "bold red",
}
#: Colour and marker shape of each decision in the PNG: both, so a printout in grey still tells
#: them apart. No threshold line uses a marker, and thresholds are grey.
_PNG_STYLE = {
    "applied": ("tab:green", "^"),
    "planned": ("tab:cyan", "h"),
    "skipped": ("goldenrod", "s"),
    "failed": ("tab:red", "X"),
    "rejected": ("tab:purple", "P"),
    "escalated": ("tab:orange", "D"),
    "approval-requested": ("tab:blue", "p"),
    "verified": ("darkgreen", "*"),
    "ineffective": ("sienna", "o"),
    "drifted": ("deeppink", "d"),
    "rolled-back": ("black", "v"),
}
_UNKNOWN_STYLE = ("grey", "o")
#: The signals the story scripts, with the runbook's thresholds.
SIGNALS = {
    "latency": ("API latency (ms)", 500, 1000),
    "db_cpu": ("Database CPU (%)", 60, 80),
    "error_rate": ("API error rate (%)", 1, 5),
}
#: The capacity the remediation controls, drawn under the signals as read back after each step.
CAPACITY = {
    "concurrency": "Reserved concurrency",
    "cache": "Stage cache (GB)",
    "db_class": "DB instance class",
    "replicas": "Read replicas",
}
#: The PNG's panels, top to bottom.
PANELS = (*SIGNALS, *CAPACITY)
#: The capacity panel of an action, by a part of its name (a rollback restores with the same action).
_ACTION_PANELS = (
    ("concurrency", "concurrency"),
    ("cache", "cache"),
    ("instance-class", "db_class"),
    ("storage", "db_class"),
    ("replica", "replicas"),
)
#: Outcomes that name a change (made, or only planned): their markers say what changed.
_CHANGES = frozenset({"applied", "planned", "rolled-back"})
#: Outcomes after which the capacity is what the decision's `after` says.
_MADE = frozenset({"applied", "rolled-back"})
_HIDDEN_KEYS = frozenset({"cacheClusterStatus", "accountConcurrency", "unreservedAccountConcurrency", "status"})


# --- reading events that may lack anything -----------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _detail(event: Any) -> Mapping[str, Any]:
    return _mapping(_mapping(event).get("detail"))


def _text(value: Any, default: str = "–") -> str:
    return default if value is None or value == "" else str(value)


def _aware(moment: datetime) -> datetime:
    """Naive times are UTC (the story's clock): comparing naive and aware times would raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- the terminal --------------------------------------------------------------------------------


def _values(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not value:
        return "–"
    if not isinstance(value, Mapping):
        return str(value)
    return ", ".join(f"{k}={v}" for k, v in value.items() if k not in _HIDDEN_KEYS)


def event_fields(event: Any) -> tuple[str, str, str, str, str, str]:
    """time, handler, detail-type, target, before → after, reason: plain text, whatever is missing."""
    detail = _detail(event)
    action = _mapping(detail.get("action"))
    when = _timestamp(detail.get("timestamp"))
    return (
        when.strftime("%H:%M:%S") if when else "--:--:--",
        _text(detail.get("handler")),
        _text(_mapping(event).get("detail-type"), _text(detail.get("outcome"))),
        _text(action.get("target") or _mapping(detail.get("alarm")).get("name")),
        f"{_values(detail, 'before')} → {_values(detail, 'after')}"
        if detail.get("after")
        else _values(detail, "before"),
        _text(detail.get("reason")),
    )


def event_row(event: Any) -> tuple[Text, ...]:
    """A row of the live table: Text, so brackets in a reason are never read as markup."""
    when, handler, kind, target, change, reason = event_fields(event)
    style = OUTCOME_STYLE.get(_text(_detail(event).get("outcome"), ""), "white")
    return (Text(when), Text(handler), Text(kind, style=style), Text(target), Text(change), Text(reason))


def plain_line(event: Any) -> str:
    """One decision on one line, for a log: grep finds it, nothing wraps it."""
    return " | ".join(event_fields(event))


class Timeline(Protocol):
    """What the story reports to while it plays (demo.run's callbacks)."""

    def progress(self, message: str) -> None: ...

    def add_step(self, title: str) -> None: ...

    def add_event(self, event: dict[str, Any]) -> None: ...


class _PlainTimeline:
    """Not a terminal (CI, a log): no redraws, one line per step and per decision, never wrapped.

    A live display there would print every refresh, or only its last frame, cut to 80 columns.
    """

    def __init__(self, console: RichConsole) -> None:
        self._console = console

    def _line(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def progress(self, message: str) -> None:
        # Only the set-up's progress reaches here (a step's "waiting" is the live view's spinner).
        self._line(f"-- {message}")

    def add_step(self, title: str) -> None:
        self._line(f"== {title}")

    def add_event(self, event: dict[str, Any]) -> None:
        self._line(plain_line(event))


_COLUMNS = (
    ("time", 8),
    ("handler", 18),
    ("decision", 20),
    ("target", 18),
    ("before → after (read from the emulator)", 40),
    ("reason", 50),
)


def _audit_table(title: str) -> Table:
    table = Table(title=title, expand=True, show_lines=False)
    for column, width in _COLUMNS:
        table.add_column(column, max_width=width, overflow="fold")
    return table


class _LiveTimeline:
    """The audit table, newest rows last, as many as fit the screen.

    Rich's Live cuts whatever is taller than the terminal at the bottom, which is where the newest
    rows are; so the table is cut from the top instead (the summary and the JSON lines keep all).
    Rows fold, so what fits is measured, not counted.
    """

    def __init__(self, live: Live) -> None:
        self._live = live
        self._rows: list[tuple[Text, ...]] = []
        self._message = "starting"
        self._status = Spinner("dots", text=self._message)
        self._fitted: tuple[tuple[int, int, int, str], int] | None = None

    def renderable(self) -> _LiveTimeline:
        return self

    def _view(self, shown: int) -> Group:
        hidden = len(self._rows) - shown
        title = "Audit trail, as it arrives"
        if hidden:
            title += f" (the newest {shown} rows; {hidden} earlier above, all in the summary)"
        table = _audit_table(title)
        for row in self._rows[hidden:]:
            table.add_row(*row)
        return Group(table, self._status)

    def _fit(self, console: RichConsole, options: ConsoleOptions) -> int:
        # One line spare: a frame as tall as the screen scrolls it by one.
        height = max(1, options.size.height - 1)
        key = (len(self._rows), options.max_width, height, self._message)
        if self._fitted is not None and self._fitted[0] == key:
            return self._fitted[1]
        measure = options.reset_height()

        def fits(shown: int) -> bool:
            return len(console.render_lines(self._view(shown), measure, pad=False)) <= height

        low, high = 0, len(self._rows)
        if not fits(high):
            while low < high:  # the most rows that fit: fits() only turns false as rows are added
                middle = (low + high + 1) // 2
                if fits(middle):
                    low = middle
                else:
                    high = middle - 1
        self._fitted = (key, high)
        return high

    def __rich_console__(self, console: RichConsole, options: ConsoleOptions) -> RenderResult:
        yield self._view(self._fit(console, options))

    def progress(self, message: str) -> None:
        self._message = message
        self._status = Spinner("dots", text=message)
        self._live.update(self, refresh=True)

    def add_step(self, title: str) -> None:
        self._rows.append((Text(""), Text(""), Text(title, style="bold"), Text(""), Text(""), Text("")))
        self.progress(f"{title}: waiting for the decisions on the audit bus")

    def add_event(self, event: dict[str, Any]) -> None:
        self._rows.append(event_row(event))
        self._live.update(self, refresh=True)


class Console:
    def __init__(self, console: RichConsole | None = None) -> None:
        # Injected by tests (a StringIO console, terminal or not); stdout otherwise.
        self.console = console or RichConsole()

    def started(self, aws: LocalAws) -> None:
        self._plain(
            f"PrintApp Remediation: local AWS (ministack) on {aws.endpoint}, temp files in {aws.workdir}", bold=True
        )

    def _plain(self, line: str, *, bold: bool = False) -> None:
        self.console.print(
            Text(line, style="bold" if bold else ""), highlight=False, soft_wrap=not self.console.is_terminal
        )

    @contextmanager
    def live(self) -> Iterator[Timeline]:
        if not self.console.is_terminal:
            yield _PlainTimeline(self.console)
            return
        with Live(console=self.console, refresh_per_second=8, transient=False) as live:
            timeline = _LiveTimeline(live)
            live.update(timeline, refresh=True)
            yield timeline
            timeline.progress("done")

    def summary(self, results: list[StepResult], files: dict[str, Path]) -> None:
        rows = [_summary_row(result) for result in results]
        if self.console.is_terminal:
            table = Table(title="The story, step by step (state read back from the emulator)")
            for column in _SUMMARY_COLUMNS:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            self.console.print(table)
        else:
            # A table cut to a log's 80 columns truncates every cell: one line a step instead.
            self._plain("The story, step by step (state read back from the emulator):", bold=True)
            for result, (_, *cells) in zip(results, rows, strict=True):
                named = " | ".join(
                    f"{column} {cell.plain}" for column, cell in zip(_SUMMARY_COLUMNS[1:], cells, strict=True)
                )
                self._plain(f"{result.key}: {named} | {result.title}")
        self._plain("Audit events as JSON lines:", bold=True)
        # One event a line, as in the file: a wrapped line is no longer JSON.
        self.console.print(
            files["events"].read_text().rstrip("\n"), markup=False, highlight=False, emoji=False, soft_wrap=True
        )
        self._plain(f"Audit events: {files['events']}")
        self._plain(f"Timeline PNG: {files['png']}")

    def lines(self, lines: Sequence[str], *, bold_first: bool = False) -> None:
        """Plain lines (a report), the first one bold if asked."""
        for index, line in enumerate(lines):
            self._plain(line, bold=bold_first and index == 0)


_SUMMARY_COLUMNS = ("step", "decisions", "reserved concurrency", "stage cache", "DB class", "replicas")


def _summary_row(result: StepResult) -> tuple[Text, ...]:
    outcomes = Text(", ").join(
        Text(outcome, style=OUTCOME_STYLE.get(outcome, "white"))
        for outcome in (_text(_detail(e).get("outcome"), "?") for e in result.events)
    )
    if not outcomes:
        outcomes = Text("none (acts once)")
    if result.dead_letters:
        outcomes.append(f" → {len(result.dead_letters)} in the DLQ")
    state = _mapping(result.state)
    replicas = state.get("readReplicas")
    return (
        Text(result.title),
        outcomes,
        Text(_text(state.get("reservedConcurrency"), "unreserved")),
        Text(_cache_shown(state.get("cacheEnabled"), state.get("cacheSizeGb"))),
        Text(_text(state.get("instanceClass"), "?")),
        Text(str(len(replicas)) if isinstance(replicas, list) else "?"),
    )


# --- what a decision did ---------------------------------------------------------------------------


def _signal_panel(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    lowered = text.lower()
    if "latency" in lowered or "concurren" in lowered:
        return "latency"
    if "cpu" in lowered:
        return "db_cpu"
    if "error" in lowered or "5xx" in lowered:
        return "error_rate"
    return None


def _action_panel(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    return next((panel for part, panel in _ACTION_PANELS if part in name), None)


def _is_verdict(detail: Mapping[str, Any]) -> bool:
    """A verifier's decision about an earlier change (its verdict, or the step the verdict took)."""
    return detail.get("handler") == "verifier" and bool(_mapping(detail.get("verifies")))


def decision_panel(detail: Mapping[str, Any]) -> str:
    """The PNG panel a decision is drawn on: the capacity its action changes, else its alarm's signal.

    A verdict names the action it checked, so it lands on the panel of the change it verifies;
    a decision without either (a rejected message, an escalation) goes on the signal of its alarm,
    by metric name, then alarm name; with nothing to go by, on the first panel.
    """
    detail = _mapping(detail)
    for name in (_mapping(detail.get("action")).get("name"), _mapping(detail.get("verifies")).get("action")):
        panel = _action_panel(name)
        if panel is not None:
            return panel
    alarm = _mapping(detail.get("alarm"))
    for text in (alarm.get("metricName"), alarm.get("name")):
        panel = _signal_panel(text)
        if panel is not None:
            return panel
    return PANELS[0]


def _cache_shown(enabled: Any, size: Any) -> str:
    if enabled is False or size is None or size == "":
        return "off"
    return f"{size} GB"


def _count_shown(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "unreserved" if value is None else str(value)
    return f"{number:g}"


def _storage_shown(value: Any) -> str:
    return "off" if value is None else f"{_count_shown(value)} GB"


def _replicas(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _replicas_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    old, new = _replicas(before.get("readReplicas")), _replicas(after.get("readReplicas"))
    changes = [f"+ {r}" for r in new if r not in old] + [f"− {r}" for r in old if r not in new]
    return ", ".join(changes) or f"{len(old)} → {len(new)} replicas"


def _cache_values(values: Mapping[str, Any]) -> tuple[Any, Any]:
    """(enabled, size) from an audit event's before/after or from a read-back state."""
    enabled = values.get("cacheClusterEnabled", values.get("cacheEnabled"))
    size = values.get("cacheClusterSize", values.get("cacheSizeGb"))
    return enabled, size


#: How each kind of change reads: (action-name part, the keys that show it, before/after → label).
_CHANGE_FORMATS: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    (
        "concurrency",
        ("reservedConcurrency",),
        lambda b, a: f"{_count_shown(b.get('reservedConcurrency'))} → {_count_shown(a.get('reservedConcurrency'))}",
    ),
    (
        "cache",
        ("cacheClusterEnabled", "cacheClusterSize"),
        lambda b, a: f"{_cache_shown(*_cache_values(b))} → {_cache_shown(*_cache_values(a))}",
    ),
    (
        "instance-class",
        ("instanceClass",),
        lambda b, a: f"{_text(b.get('instanceClass'), '?')} → {_text(a.get('instanceClass'), '?')}",
    ),
    ("replica", ("readReplicas",), _replicas_change),
    (
        "storage",
        ("maxAllocatedStorageGb",),
        lambda b, a: (
            f"max storage {_storage_shown(b.get('maxAllocatedStorageGb'))} → "
            f"{_storage_shown(a.get('maxAllocatedStorageGb'))}"
        ),
    ),
)


def change_label(detail: Mapping[str, Any]) -> str | None:
    """What a decision changes, in the app's words: "100 → 200", "off → 1.6 GB", "+ replica-1".

    By its action when it names one; otherwise by what its before/after hold (the first value that
    differs). None when it has no after (nothing changed, or nothing is known to have).
    """
    detail = _mapping(detail)
    before, after = _mapping(detail.get("before")), _mapping(detail.get("after"))
    if not after:
        return None
    name = _mapping(detail.get("action")).get("name")
    present = [(part, keys, shown) for part, keys, shown in _CHANGE_FORMATS if any(k in after for k in keys)]
    for part, _, shown in present:
        if isinstance(name, str) and part in name:
            return str(shown(before, after))
    for _, keys, shown in present:
        if any(before.get(k) != after.get(k) for k in keys if k in after):
            return str(shown(before, after))
    if present:
        return str(present[0][2](before, after))
    differing = [f"{k} {_text(before.get(k))} → {_text(v)}" for k, v in after.items() if before.get(k) != v]
    return "; ".join(differing[:2]) or None


def decision_label(detail: Mapping[str, Any]) -> str | None:
    """The text beside a decision's marker: what changed, or a verifier's verdict.

    The other outcomes (skipped, escalated, ...) are said by the marker and the legend: a label
    on every one would bury the changes.
    """
    detail = _mapping(detail)
    outcome = _text(detail.get("outcome"), "")
    change = change_label(detail) if outcome in _CHANGES else None
    if _is_verdict(detail):
        return f"{outcome}: {change}" if change else outcome or None
    return change


# --- the PNG -------------------------------------------------------------------------------------------


def _capacity(panel: str, values: Mapping[str, Any]) -> float | None:
    """The number a capacity panel plots, from a read-back state or an event's before/after."""
    if panel == "concurrency":
        return _number(values.get("reservedConcurrency"))
    if panel == "cache":
        enabled, size = _cache_values(values)
        if enabled is None and size is None:
            return None
        return 0.0 if _cache_shown(enabled, size) == "off" else _number(size)
    if panel == "db_class":
        return _rung(values.get("instanceClass"))
    if panel == "replicas":
        replicas = values.get("readReplicas")
        return float(len(replicas)) if isinstance(replicas, list | tuple) else None
    return None


def _rung(instance_class: Any) -> float | None:
    """Its rung on its family's ladder, large = 1 (as the DbClassRank metric counts)."""
    if not isinstance(instance_class, str):
        return None
    try:
        _, _, index = ladder_position(instance_class)
    except UnknownInstanceFamily:
        return None
    return float(index + 1)


@dataclass
class _Decision:
    """One decision placed on the PNG."""

    panel: str
    x: float
    y: float
    detail: Mapping[str, Any]
    #: Points to the right, so decisions at one moment on one panel do not hide one another.
    nudge: float = 0.0

    @property
    def outcome(self) -> str:
        return _text(self.detail.get("outcome"), "")


@dataclass
class _Label:
    axis: Axes
    x: float
    y: float
    nudge: float
    text: str
    colour: str


Series = list[tuple[float, float]]


def _value_at(series: Series, x: float) -> float | None:
    """A step line's value at x (its first value before it starts)."""
    if not series:
        return None
    value = series[0][1]
    for at, y in series:
        if at > x:
            break
        value = y
    return value


class _Story:
    """The results, as times in seconds since the story started, per panel."""

    def __init__(self, results: Sequence[StepResult], unit_seconds: float = 1.0) -> None:
        self.results = results
        self.unit_seconds = unit_seconds
        self.start = _aware(results[0].started) if results else datetime.now(UTC)
        self.events: list[tuple[float, Mapping[str, Any]]] = []
        for result in results:
            for event in result.events:
                detail = _detail(event)
                if detail:
                    when = _timestamp(detail.get("timestamp")) or _aware(result.finished)
                    self.events.append((self.seconds(when), detail))
        self.events.sort(key=lambda e: e[0])

    def seconds(self, moment: datetime) -> float:
        """Time since the start, in the x axis' unit (seconds for the story, hours for a replay)."""
        return (_aware(moment) - self.start).total_seconds() / self.unit_seconds

    def signal(self, key: str) -> Series:
        points = []
        for result in self.results:
            value = _number(_mapping(result.signals).get(key))
            if value is not None:
                points.append((self.seconds(result.started), value))
        return points

    def capacity(self, panel: str) -> Series:
        """The state read back after each step, and each change made at its moment in between
        (before, then after: a change by hand between steps shows as a jump at the next change)."""
        points: list[tuple[float, float]] = []
        for result in self.results:
            value = _capacity(panel, _mapping(result.state))
            if value is not None:
                points.append((self.seconds(result.finished), value))
        changes: list[tuple[float, float]] = []
        for x, detail in self.events:
            if detail.get("outcome") in _MADE:
                for key in ("before", "after"):
                    value = _capacity(panel, _mapping(detail.get(key)))
                    if value is not None:
                        changes.append((x, value))
        if self.results:
            # At the start: as the first step found it (before its first change, if it made one).
            first_end = self.seconds(self.results[0].finished)
            made_first = [v for x, v in changes if x <= first_end]
            initial = made_first[0] if made_first else points[0][1] if points else None
            if initial is not None:
                points.insert(0, (0.0, initial))
        return sorted(points + changes, key=lambda p: p[0])

    def end(self) -> float:
        ends = [self.seconds(r.finished) for r in self.results] + [x for x, _ in self.events]
        return max([1.0, *ends])


def _style(outcome: str) -> tuple[str, str]:
    return _PNG_STYLE.get(outcome, _UNKNOWN_STYLE)


def _place(story: _Story, lines: dict[str, Series]) -> list[_Decision]:
    """Each decision on its panel, at the value it made or read, else on the panel's line."""
    placed: list[_Decision] = []
    for x, detail in story.events:
        panel = decision_panel(detail)
        y: float | None = None
        if panel in CAPACITY:
            # A change where it took the capacity; anything else (a verdict) at what it read.
            made = detail.get("outcome") in _MADE
            y = _capacity(panel, _mapping(detail.get("after" if made else "before")))
        if y is None:
            y = _value_at(lines[panel], x)
        if y is None:
            y = float(SIGNALS[panel][1]) if panel in SIGNALS else 0.0
        placed.append(_Decision(panel, x, y, detail))
    close = story.end() * 0.01
    for panel in PANELS:
        previous: _Decision | None = None
        for decision in (d for d in placed if d.panel == panel):
            if previous is not None and decision.x - previous.x < close:
                decision.nudge = previous.nudge + 7.0
            previous = decision
    return placed


def _limits(axis: Axes, panel: str, series: Series, decisions: list[_Decision]) -> None:
    """Fixed before labels are placed (their overlap is measured in pixels), with room above for them."""
    values = [y for _, y in series] + [d.y for d in decisions if d.panel == panel]
    if panel in SIGNALS:
        critical = SIGNALS[panel][2]
        axis.set_ylim(0, max([float(critical), *values]) * 1.4)
        return
    if not values:
        axis.set_ylim(0, 1)
        axis.set_yticks([])
        axis.text(0.5, 0.5, "not read back", transform=axis.transAxes, ha="center", color="grey", fontsize=7)
        return
    low, high = min(values), max(values)
    span = high - low or max(1.0, abs(high) * 0.5)
    axis.set_ylim(low - 0.35 * span, high + 0.7 * span)


def _class_ticks(axis: Axes, story: _Story) -> None:
    """The DB panel's rungs named after their class (of the family the story's database is in)."""
    classes = [_mapping(r.state).get("instanceClass") for r in story.results]
    family: tuple[str, tuple[str, ...]] | None = None
    for instance_class in classes:
        if isinstance(instance_class, str):
            try:
                name, sizes, _ = ladder_position(instance_class)
            except UnknownInstanceFamily:
                continue
            family = (name, sizes)
            break
    if family is None:
        return
    name, sizes = family
    low, high = axis.get_ylim()
    rungs = [r for r in range(1, len(sizes) + 1) if low <= r <= high]
    axis.set_yticks(rungs, [f"{name}.{sizes[r - 1]}" for r in rungs], fontsize=7)


_Align = Literal["left", "right"]
#: Where a label may go, tried in order: (points right, points up, alignment); near first, right first.
_LABEL_SPOTS: tuple[tuple[float, float, _Align], ...] = tuple(
    (dx, dy, "left" if dx > 0 else "right") for dy in (9.0, -9.0, 20.0, -20.0, 31.0, -31.0, 42.0) for dx in (5.0, -5.0)
)


def _place_labels(figure: Figure, labels: list[_Label]) -> None:
    """Each label at the first spot that overlaps no label or marker already there, inside its panel."""
    from matplotlib.text import Text as PlotText  # noqa: PLC0415

    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    taken: list[Bbox] = []
    for label in labels:
        centre = label.axis.transData.transform((label.x, label.y))
        shift = label.nudge * figure.dpi / 72
        taken.append(_box(centre[0] + shift - 5, centre[1] - 5, centre[0] + shift + 5, centre[1] + 5))
    for label in sorted(labels, key=lambda item: item.x):
        frame = label.axis.get_window_extent(renderer)
        annotation = label.axis.annotate(
            label.text,
            (label.x, label.y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=6.5,
            color=label.colour,
            va="center",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": label.colour, "linewidth": 0.4, "shrinkA": 1, "shrinkB": 4},
            zorder=6,
        )
        best: tuple[int, tuple[float, float, _Align]] | None = None
        for dx, dy, align in _LABEL_SPOTS:
            annotation.xyann = (dx + label.nudge, dy)
            annotation.set_horizontalalignment(align)
            annotation.update_positions(renderer)
            box = PlotText.get_window_extent(annotation, renderer)
            inside = frame.y0 <= box.y0 and box.y1 <= frame.y1 and box.x1 <= figure.bbox.x1
            score = sum(box.overlaps(other) for other in taken) + (0 if inside else 3)
            if best is None or score < best[0]:
                best = (score, (dx, dy, align))
            if score == 0:
                break
        assert best is not None
        dx, dy, align = best[1]
        annotation.xyann = (dx + label.nudge, dy)
        annotation.set_horizontalalignment(align)
        annotation.update_positions(renderer)
        taken.append(PlotText.get_window_extent(annotation, renderer).padded(4))


def _box(x0: float, y0: float, x1: float, y1: float) -> Bbox:
    from matplotlib.transforms import Bbox  # noqa: PLC0415

    return Bbox.from_extents(x0, y0, x1, y1)


def _step_keys(figure: Figure, axis: Axes, story: _Story) -> None:
    """The step keys under the bottom panel, rotated; pushed apart where steps came quickly."""
    gap = 10.0  # pixels: a rotated line of 6 pt text at the PNG's resolution, and a little air
    previous = -math.inf
    for result in story.results:
        x = story.seconds(result.started)
        actual = axis.transData.transform((x, 0))[0]
        at = max(actual, previous + gap)
        previous = at
        axis.annotate(
            result.key,
            (x, 0),
            xycoords=axis.get_xaxis_transform(),
            xytext=((at - actual) * 72 / figure.dpi, -8),
            textcoords="offset points",
            rotation=90,
            ha="center",
            va="top",
            fontsize=6,
            color="dimgray",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "silver", "linewidth": 0.4, "shrinkA": 0, "shrinkB": 0},
        )


def _draw_panel(axis: Axes, panel: str, series: Series, end: float, decisions: list[_Decision]) -> None:
    """A signal (black) with its thresholds (grey, labelled at the right edge), or a capacity line."""
    xs, ys = [p[0] for p in series] + [end], [p[1] for p in series]
    if series:
        ys.append(ys[-1])
        colour = "black" if panel in SIGNALS else "#2f4f6f"
        axis.step(xs, ys, where="post", color=colour, linewidth=1.4, zorder=2)
        axis.plot(xs[:-1], ys[:-1], "o", color=colour, markersize=2.5, zorder=2)
    axis.set_ylabel(SIGNALS[panel][0] if panel in SIGNALS else CAPACITY[panel], fontsize=8)
    axis.tick_params(labelsize=7)
    axis.grid(axis="x", color="0.93", linewidth=0.6)
    axis.set_xlim(-0.02 * end, end * 1.03)
    _limits(axis, panel, series, decisions)
    if panel not in SIGNALS:
        return
    _, warning, critical = SIGNALS[panel]
    for name, value, dash in (("warning", warning, "--"), ("critical", critical, ":")):
        axis.axhline(value, color="grey", linestyle=dash, linewidth=0.9, zorder=1)
        axis.text(
            1.005,
            value,
            f"{name} > {value}",
            transform=axis.get_yaxis_transform(),
            fontsize=6.5,
            color="dimgray",
            va="center",
        )


def _draw_decisions(figure: Figure, axes: dict[str, Axes], decisions: list[_Decision]) -> list[_Label]:
    """The markers, each verdict joined to the change it checked; returns the labels to place."""
    from matplotlib.transforms import offset_copy  # noqa: PLC0415

    by_id = {d.detail.get("decisionId"): d for d in decisions if d.outcome in _MADE and d.detail.get("decisionId")}
    labels: list[_Label] = []
    for decision in decisions:
        axis = axes[decision.panel]
        colour, marker = _style(decision.outcome)
        axis.plot(
            decision.x,
            decision.y,
            marker=marker,
            color=colour,
            markersize=7,
            markeredgecolor="black",
            markeredgewidth=0.4,
            linestyle="None",
            zorder=5,
            transform=offset_copy(axis.transData, fig=figure, x=decision.nudge, units="points"),
        )
        if _is_verdict(decision.detail):
            checked = by_id.get(_mapping(decision.detail.get("verifies")).get("decisionId"))
            if checked is not None and checked is not decision and checked.panel == decision.panel:
                # An arc, not a line: a verdict on an unchanged value would draw over the capacity line.
                axis.annotate(
                    "",
                    (decision.x, decision.y),
                    xytext=(checked.x, checked.y),
                    arrowprops={
                        "arrowstyle": "-",
                        "connectionstyle": "arc3,rad=-0.15",
                        "color": colour,
                        "linestyle": (0, (1, 1.5)),
                        "linewidth": 1.0,
                        "alpha": 0.8,
                        "shrinkA": 4,
                        "shrinkB": 4,
                    },
                    annotation_clip=False,
                    zorder=4,
                )
        text = decision_label(decision.detail)
        if text:
            labels.append(_Label(axis, decision.x, decision.y, decision.nudge, text, colour))
    return labels


def _legend(figure: Figure, decisions: list[_Decision]) -> None:
    """The outcomes drawn, by marker; apart from the thresholds, which are labelled on their panels."""
    from matplotlib.lines import Line2D  # noqa: PLC0415

    seen = [o for o in _PNG_STYLE if any(d.outcome == o for d in decisions)]
    seen += sorted({d.outcome for d in decisions if d.outcome not in _PNG_STYLE})
    if not seen:
        return
    handles = [
        Line2D(
            [],
            [],
            marker=_style(o)[1],
            color=_style(o)[0],
            markeredgecolor="black",
            markeredgewidth=0.4,
            linestyle="None",
            markersize=7,
        )
        for o in seen
    ]
    figure.legend(
        handles,
        [o or "(no outcome)" for o in seen],
        loc="lower center",
        ncol=min(len(seen), 11),
        fontsize=7.5,
        frameon=False,
        title="decisions, by outcome (thresholds are the grey lines: dashed warning, dotted critical)",
        title_fontsize=8,
        bbox_to_anchor=(0.5, 0.0),
    )


#: More steps than this and their keys would be a grey smear under the bottom panel.
_MOST_STEP_KEYS = 80
STORY_TITLE = (
    "PrintApp Remediation: the local story (signals scripted; capacity read back; "
    "decisions from the deployed functions)"
)


def render_png(
    results: list[StepResult],
    path: Path,
    *,
    title: str = STORY_TITLE,
    time_axis: tuple[str, float] = ("seconds since the story started", 1.0),
) -> Path:
    """The signals against their thresholds, the capacity the remediation controls under them,
    and every decision a marker on the panel it acted on, labelled with what it changed.
    `time_axis`: the x axis' label and its unit in seconds."""
    # Imported here: matplotlib is slow to import and only the PNG needs it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    story = _Story(results, time_axis[1])
    lines = {key: story.signal(key) for key in SIGNALS} | {panel: story.capacity(panel) for panel in CAPACITY}
    decisions = _place(story, lines)
    end = story.end()

    figure, grid = plt.subplots(len(PANELS), 1, figsize=(14, 17), sharex=True)
    # A fixed layout: labels are placed by measuring them, which needs the panels where they end up.
    figure.subplots_adjust(left=0.09, right=0.88, top=0.94, bottom=0.12, hspace=0.3)
    axes: dict[str, Axes] = dict(zip(PANELS, grid, strict=True))
    for panel, axis in axes.items():
        _draw_panel(axis, panel, lines[panel], end, decisions)
    _class_ticks(axes["db_class"], story)
    _place_labels(figure, _draw_decisions(figure, axes, decisions))

    bottom = axes[PANELS[-1]]
    bottom.tick_params(labelbottom=False)
    if len(results) <= _MOST_STEP_KEYS:
        _step_keys(figure, bottom, story)
    seconds = grid[0].secondary_xaxis("top")
    seconds.set_xlabel(time_axis[0], fontsize=8)
    seconds.tick_params(labelsize=7)
    if not results:
        grid[0].text(0.5, 0.5, "no steps", transform=grid[0].transAxes, ha="center")
    _legend(figure, decisions)
    figure.suptitle(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
