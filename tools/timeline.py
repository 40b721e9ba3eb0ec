"""What `make demo` shows: a live terminal timeline, a summary, and a PNG of the story."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console as RichConsole
from rich.console import Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

if TYPE_CHECKING:
    from demo import StepResult
    from local_aws import LocalAws

#: Colour of each decision, in the terminal and in the PNG.
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
_PNG_COLOUR = {
    "applied": "tab:green",
    "planned": "tab:cyan",
    "skipped": "goldenrod",
    "failed": "tab:red",
    "rejected": "tab:purple",
    "escalated": "tab:orange",
    "approval-requested": "tab:blue",
    "verified": "darkgreen",
    "ineffective": "sienna",
    "drifted": "deeppink",
    "rolled-back": "black",
}
#: The signals the story scripts, with the runbook's thresholds.
SIGNALS = {
    "latency": ("API latency (ms)", 500, 1000),
    "db_cpu": ("Database CPU (%)", 60, 80),
    "error_rate": ("API error rate (%)", 1, 5),
}


def _values(detail: dict[str, Any], key: str) -> str:
    value = detail.get(key)
    if not value:
        return "–"
    shown = {
        k: v
        for k, v in value.items()
        if k not in {"cacheClusterStatus", "accountConcurrency", "unreservedAccountConcurrency", "status"}
    }
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def event_row(event: dict[str, Any]) -> tuple[str, ...]:
    detail = event["detail"]
    action = detail.get("action") or {}
    return (
        datetime.fromisoformat(detail["timestamp"]).strftime("%H:%M:%S"),
        detail["handler"],
        f"[{OUTCOME_STYLE.get(detail['outcome'], 'white')}]{event['detail-type']}[/]",
        action.get("target") or (detail.get("alarm") or {}).get("name") or "–",
        f"{_values(detail, 'before')} → {_values(detail, 'after')}"
        if detail.get("after")
        else _values(detail, "before"),
        detail["reason"],
    )


class _LiveTimeline:
    def __init__(self, live: Live, table: Table) -> None:
        self._live = live
        self._table = table
        self._status = Spinner("dots", text="starting")

    def renderable(self) -> Group:
        return Group(self._table, self._status)

    def progress(self, message: str) -> None:
        self._status = Spinner("dots", text=message)
        self._live.update(self.renderable())

    def add_step(self, title: str) -> None:
        self._table.add_row("", "", f"[bold]{title}[/]", "", "", "", end_section=False)
        self.progress(f"{title}: waiting for the decisions on the audit bus")

    def add_event(self, event: dict[str, Any]) -> None:
        self._table.add_row(*event_row(event))
        self._live.update(self.renderable())


class Console:
    def __init__(self) -> None:
        self.console = RichConsole()

    def started(self, aws: LocalAws) -> None:
        self.console.print(
            f"[bold]PrintApp Remediation[/]: local AWS (ministack) on {aws.endpoint}, temp files in {aws.workdir}"
        )

    @contextmanager
    def live(self) -> Iterator[_LiveTimeline]:
        table = Table(title="Audit trail, as it arrives", expand=True, show_lines=False)
        for column, width in (
            ("time", 8),
            ("handler", 18),
            ("decision", 20),
            ("target", 18),
            ("before → after (read from the emulator)", 40),
            ("reason", 50),
        ):
            table.add_column(column, max_width=width, overflow="fold")
        with Live(console=self.console, refresh_per_second=8, transient=False) as live:
            timeline = _LiveTimeline(live, table)
            live.update(timeline.renderable())
            yield timeline
            timeline.progress("done")

    def summary(self, results: list[StepResult], files: dict[str, Path]) -> None:
        table = Table(title="The story, step by step (state read back from the emulator)")
        for column in ("step", "decisions", "reserved concurrency", "stage cache", "DB class", "replicas"):
            table.add_column(column)
        for result in results:
            outcomes = (
                ", ".join(
                    f"[{OUTCOME_STYLE.get(e['detail']['outcome'], 'white')}]{e['detail']['outcome']}[/]"
                    for e in result.events
                )
                or "none (acts once)"
            )
            if result.dead_letters:
                outcomes += f" → {len(result.dead_letters)} in the DLQ"
            state = result.state
            cache = f"{state['cacheSizeGb']} GB" if state["cacheEnabled"] else "off"
            table.add_row(
                result.title,
                outcomes,
                str(state["reservedConcurrency"]),
                cache,
                state["instanceClass"],
                str(len(state["readReplicas"])),
            )
        self.console.print(table)
        self.console.print("[bold]Audit events as JSON lines[/]:")
        self.console.print(files["events"].read_text(), markup=False, highlight=False, soft_wrap=True)
        self.console.print(f"Audit events: {files['events']}")
        self.console.print(f"Timeline PNG: {files['png']}")


def render_png(results: list[StepResult], path: Path) -> Path:
    """The scripted signal values against their thresholds, and a marker for every decision."""
    # Imported here: matplotlib is slow to import and only the PNG needs it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    start = results[0].started
    figure, axes = plt.subplots(len(SIGNALS), 1, figsize=(12, 8), sharex=True)
    for axis, (key, (label, warning, critical)) in zip(axes, SIGNALS.items(), strict=True):
        points = [((r.started - start).total_seconds(), r.signals[key]) for r in results if key in r.signals]
        if points:
            axis.step([p[0] for p in points], [p[1] for p in points], where="post", color="black", label=label)
            axis.plot([p[0] for p in points], [p[1] for p in points], "ko", markersize=3)
        axis.axhline(warning, color="goldenrod", linestyle="--", linewidth=1, label=f"warning > {warning}")
        axis.axhline(critical, color="tab:red", linestyle="--", linewidth=1, label=f"critical > {critical}")
        axis.set_ylabel(label)
        axis.legend(loc="upper right", fontsize=7)
    seen: set[str] = set()
    for result in results:
        for event in result.events:
            detail = event["detail"]
            at = (datetime.fromisoformat(detail["timestamp"]) - start).total_seconds()
            colour = _PNG_COLOUR.get(detail["outcome"], "grey")
            for axis in axes:
                axis.axvline(
                    at,
                    color=colour,
                    alpha=0.6,
                    linewidth=1.2,
                    label=None if detail["outcome"] in seen else detail["outcome"],
                )
            seen.add(detail["outcome"])
        axes[-1].annotate(
            result.key,
            ((result.started - start).total_seconds(), 0.02),
            xycoords=axes[-1].get_xaxis_transform(),
            rotation=90,
            fontsize=6,
            va="bottom",
            color="dimgray",
        )
    handles = [Line2D([0], [0], color=_PNG_COLOUR[o], linewidth=2) for o in sorted(seen)]
    figure.legend(handles, sorted(seen), loc="lower center", ncol=len(seen), fontsize=8, title="decisions")
    axes[-1].set_xlabel("seconds since the story started")
    figure.suptitle("PrintApp Remediation: the local story (signals scripted; decisions from the deployed functions)")
    figure.tight_layout(rect=(0, 0.06, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
