"""What `make demo` shows: the PNG of the story and the terminal timeline, from synthetic steps.

The steps are built as the story builds them (demo.StepResult), with audit events shaped as the
functions send them, plus events that lack whatever can be lacking: the PNG and the terminal
must draw what they can and never crash on them.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console as RichConsole

import demo
import timeline

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EVERYDAY = {
    "reservedConcurrency": 100,
    "cacheEnabled": False,
    "cacheSizeGb": None,
    "instanceClass": "db.r5.large",
    "maxAllocatedStorageGb": None,
    "readReplicas": [],
}
LATENCY_ALARM = {"name": "printapp-remediation-api-latency-warning", "metricName": "Latency", "threshold": 500}
DB_ALARM = {"name": "printapp-remediation-db-cpu-critical", "metricName": "CPUUtilization", "threshold": 80}
ERROR_ALARM = {"name": "printapp-remediation-api-error-rate-critical", "metricName": "5XX error rate (%)"}
LONG_REASON = "the symptom persists " + " ".join(f"word{i}" for i in range(60)) + " END-OF-REASON"


def _event(at: float, outcome: str, handler: str = "spike_handler", **detail: Any) -> dict[str, Any]:
    kind = {"applied": "Remediation Applied", "escalated": "Escalation Required"}.get(outcome, outcome.title())
    return {
        "detail-type": kind,
        "detail": {
            "decisionId": f"{handler}-{outcome}-{at}",
            "correlationId": "c-1",
            "handler": handler,
            "alarm": LATENCY_ALARM,
            "action": None,
            "before": None,
            "after": None,
            "outcome": outcome,
            "reason": f"{outcome} by {handler}",
            "limit": None,
            "timestamp": (START + timedelta(seconds=at)).isoformat(timespec="milliseconds"),
            **detail,
        },
    }


def _action(name: str, target: str = "printapp-api") -> dict[str, Any]:
    return {"name": name, "target": target, "parameters": {}}


def _step(key: str, at: float, seconds: float, events: list[dict[str, Any]], **state: Any) -> demo.StepResult:
    signals = state.pop("signals", {})
    return demo.StepResult(
        key,
        f"The {key} step",
        START + timedelta(seconds=at),
        START + timedelta(seconds=at + seconds),
        events,
        {**EVERYDAY, **state},
        signals,
    )


RAISE = _event(
    3,
    "applied",
    decisionId="d-raise",
    action=_action("set-reserved-concurrency"),
    before={"reservedConcurrency": 100, "accountConcurrency": 1000},
    after={"reservedConcurrency": 200},
)
CACHE_ON = _event(
    3.2,
    "applied",
    decisionId="d-cache",
    action=_action("set-stage-cache", "printapp-api/prod"),
    before={"cacheClusterEnabled": False, "cacheClusterSize": None, "cacheClusterStatus": "NOT_AVAILABLE"},
    after={"cacheClusterEnabled": True, "cacheClusterSize": "1.6"},
)
VERIFIED = _event(
    30,
    "verified",
    "verifier",
    action=_action("set-reserved-concurrency"),
    before={"reservedConcurrency": 200},
    verifies={"decisionId": "d-raise", "action": "set-reserved-concurrency", "round": 1},
)
INEFFECTIVE = _event(
    31,
    "ineffective",
    "verifier",
    action=_action("set-stage-cache", "printapp-api/prod"),
    before={"cacheClusterEnabled": True, "cacheClusterSize": "1.6"},
    verifies={"decisionId": "d-cache", "action": "set-stage-cache", "round": 1},
)
NEXT_STEP = _event(
    31.5,
    "applied",
    "verifier",
    action=_action("set-stage-cache", "printapp-api/prod"),
    before={"cacheClusterEnabled": True, "cacheClusterSize": "1.6"},
    after={"cacheClusterEnabled": True, "cacheClusterSize": "6.1"},
    verifies={"decisionId": "d-cache", "action": "set-stage-cache", "round": 1},
)
ROLLED_BACK = _event(
    50,
    "rolled-back",
    "verifier",
    action=_action("set-reserved-concurrency"),
    before={"reservedConcurrency": 200},
    after={"reservedConcurrency": 100},
    verifies={"decisionId": "d-raise", "action": "set-reserved-concurrency", "round": 2},
)
SCALE_DOWN = _event(
    72,
    "applied",
    "scale_down_handler",
    action=_action("set-stage-cache", "printapp-api/prod"),
    before={"cacheClusterEnabled": True, "cacheClusterSize": "6.1"},
    after={"cacheClusterEnabled": False, "cacheClusterSize": None},
)
CLASS_STEP = _event(
    82,
    "applied",
    "db_cpu_handler",
    alarm=DB_ALARM,
    action=_action("step-up-instance-class", "printapp-db"),
    before={"instanceClass": "db.r5.large", "status": "available", "readReplicas": []},
    after={"instanceClass": "db.r5.xlarge"},
)
REPLICA = _event(
    83,
    "applied",
    "db_cpu_handler",
    alarm=DB_ALARM,
    action=_action("add-read-replica", "printapp-db"),
    before={"readReplicas": []},
    after={"readReplicas": ["printapp-db-replica-1"]},
)
STORAGE = _event(
    84,
    "applied",
    "db_cpu_handler",
    alarm=DB_ALARM,
    action=_action("enable-storage-autoscaling", "printapp-db"),
    before={"maxAllocatedStorageGb": None},
    after={"maxAllocatedStorageGb": 1000},
)
ESCALATION = _event(92, "escalated", "error_rate_triager", alarm=ERROR_ALARM, reason=LONG_REASON)
#: Events missing what can be missing (the audit contract allows nulls; a bug could drop more).
ODD: list[Any] = [
    {"detail": {}},
    {"detail-type": "Remediation Applied"},
    {"detail": {"outcome": "weird", "timestamp": "not a time", "before": "text", "after": [1, 2]}},
    {"detail": {"handler": "verifier", "outcome": "verified", "alarm": "oops", "verifies": {"decisionId": "gone"}}},
    {
        "detail": {
            "outcome": "applied",
            "action": {"name": None},
            "before": None,
            "after": {"reservedConcurrency": None},
        }
    },
    {"detail": {"outcome": "skipped", "timestamp": "2025-03-01T12:03:00"}},  # naive
    None,
]


def _story() -> list[demo.StepResult]:
    """A spike raised, checked (one verified, one ineffective and stepped up, then rolled back),
    scaled down; the database stepped up; an escalation; then events that lack things."""
    db = {"instanceClass": "db.r5.xlarge", "readReplicas": ["printapp-db-replica-1"], "maxAllocatedStorageGb": 1000}
    return [
        _step(
            "spike", 0, 6, [RAISE, CACHE_ON], signals={"latency": 812}, reservedConcurrency=200, cacheEnabled=True,
            cacheSizeGb="1.6",
        ),
        _step(
            "verify", 6, 54, [VERIFIED, INEFFECTIVE, NEXT_STEP, ROLLED_BACK], signals={"latency": 640},
            cacheEnabled=True, cacheSizeGb="6.1",
        ),
        _step("recovery", 70, 8, [SCALE_DOWN], signals={"latency": 210}),
        _step("db-critical", 80, 6, [CLASS_STEP, REPLICA, STORAGE], signals={"db_cpu": 93}, **db),
        _step("error-rate-unknown", 90, 4, [ESCALATION], signals={"error_rate": 6.1}, **db),
        _step("odd", 100, 5, ODD, instanceClass="db.x9.huge", readReplicas="not a list", cacheEnabled=None),
    ]  # fmt: skip


# --- the PNG -------------------------------------------------------------------------------------------


def _png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


def test_render_png_draws_the_story(tmp_path: Path) -> None:
    path = timeline.render_png(_story(), tmp_path / "out" / "timeline.png")

    assert path == tmp_path / "out" / "timeline.png"
    assert len(_png(path)) > 50_000  # seven panels with lines, markers and labels, not an empty canvas


@pytest.mark.parametrize(
    "results",
    [
        pytest.param([], id="no steps"),
        pytest.param([_step("odd", 0, 5, ODD, instanceClass=None, readReplicas=None)], id="only odd events"),
        pytest.param([_step("quiet", 0, 5, [])], id="no decisions"),
    ],
)
def test_render_png_survives_thin_stories(tmp_path: Path, results: list[demo.StepResult]) -> None:
    _png(timeline.render_png(results, tmp_path / "timeline.png"))


def test_capacity_lines_follow_the_changes_and_the_read_back_state() -> None:
    story = timeline._Story(_story())

    concurrency = story.capacity("concurrency")
    assert concurrency[0] == (0.0, 100.0)  # before the spike's raise, not the state after it
    assert (3.0, 200.0) in concurrency
    assert (50.0, 100.0) in concurrency  # the rollback, at its moment
    assert [v for _, v in story.capacity("cache")][:6] == [0.0, 0.0, 1.6, 1.6, 1.6, 6.1]
    assert max(v for _, v in story.capacity("db_class")) == 2.0  # db.r5.xlarge: the second rung


@pytest.mark.parametrize(
    ("event", "panel"),
    [
        (RAISE, "concurrency"),
        (CACHE_ON, "cache"),
        (SCALE_DOWN, "cache"),
        (NEXT_STEP, "cache"),
        (CLASS_STEP, "db_class"),
        (STORAGE, "db_class"),
        (REPLICA, "replicas"),
        (ESCALATION, "error_rate"),
        (VERIFIED, "concurrency"),
        (INEFFECTIVE, "cache"),
        (ROLLED_BACK, "concurrency"),
        (_event(1, "skipped", alarm=DB_ALARM), "db_cpu"),
        (_event(1, "skipped", alarm={"metricName": "ConcurrentExecutions"}), "latency"),
        (_event(1, "rejected", alarm={"name": "x", "metricName": None}), "latency"),
        (_event(1, "escalated", alarm={"name": "printapp-remediation-db-cpu-warning"}), "db_cpu"),
        (_event(1, "escalated", alarm={"metricName": "Throttles"}), "latency"),
        (_event(1, "rejected", alarm=None), "latency"),
        # A verdict without its own action still lands on the change it verifies.
        (_event(1, "drifted", "verifier", alarm=None, verifies={"action": "set-stage-cache"}), "cache"),
        ({"detail": {}}, "latency"),
    ],
)
def test_decision_panel(event: dict[str, Any], panel: str) -> None:
    assert timeline.decision_panel(event["detail"]) == panel


@pytest.mark.parametrize(
    ("event", "label"),
    [
        (RAISE, "100 → 200"),
        (CACHE_ON, "off → 1.6 GB"),
        (SCALE_DOWN, "6.1 GB → off"),
        (ROLLED_BACK, "200 → 100"),
        (CLASS_STEP, "db.r5.large → db.r5.xlarge"),
        (REPLICA, "+ printapp-db-replica-1"),
        (STORAGE, "max storage off → 1000 GB"),
        (NEXT_STEP, "1.6 GB → 6.1 GB"),
        (_event(1, "rolled-back", before={"cacheClusterEnabled": True, "cacheClusterSize": "1.6"}), None),
        (
            _event(1, "applied", before={"reservedConcurrency": None}, after={"reservedConcurrency": 50}),
            "unreserved → 50",
        ),
        (_event(1, "applied", action=_action("tune"), before={"knob": 1}, after={"knob": 2}), "knob 1 → 2"),
        (VERIFIED, None),
        (ESCALATION, None),
    ],
)
def test_change_label(event: dict[str, Any], label: str | None) -> None:
    assert timeline.change_label(event["detail"]) == label


def test_decision_labels_say_the_change_or_the_verdict() -> None:
    assert timeline.decision_label(RAISE["detail"]) == "100 → 200"
    assert timeline.decision_label(VERIFIED["detail"]) == "verified"
    assert timeline.decision_label(INEFFECTIVE["detail"]) == "ineffective"
    assert timeline.decision_label(ROLLED_BACK["detail"]) == "rolled-back: 200 → 100"
    assert timeline.decision_label(NEXT_STEP["detail"]) == "applied: 1.6 GB → 6.1 GB"
    planned = _event(1, "planned", before=RAISE["detail"]["before"], after=RAISE["detail"]["after"])
    assert timeline.decision_label(planned["detail"]) == "100 → 200"
    # Outcomes that change nothing are said by the marker and the legend, not a label.
    assert timeline.decision_label(ESCALATION["detail"]) is None
    assert timeline.decision_label(_event(1, "skipped", before={"reservedConcurrency": 200})["detail"]) is None


# --- the terminal ------------------------------------------------------------------------------------


def test_not_a_terminal_prints_one_plain_unwrapped_line_per_step_and_decision() -> None:
    out = io.StringIO()
    console = timeline.Console(RichConsole(file=out, force_terminal=False, width=40))
    events = [RAISE, CACHE_ON, ESCALATION, *ODD]

    with console.live() as live:
        live.add_step("Traffic spike: API latency above 500 ms, a title longer than the console is wide")
        for event in events[:2]:
            live.add_event(event)
        live.add_step("Error rate above 5 %, no component signal")
        for event in events[2:]:
            live.add_event(event)

    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + len(events)
    assert lines[0] == "== Traffic spike: API latency above 500 ms, a title longer than the console is wide"
    assert lines[3] == "== Error rate above 5 %, no component signal"
    assert "\x1b" not in out.getvalue()  # no colours, no cursor moves: a log keeps what it reads
    raise_line = lines[1]
    assert raise_line.startswith("12:00:03 | spike_handler | Remediation Applied | printapp-api | ")
    assert "reservedConcurrency=100 → reservedConcurrency=200" in raise_line
    assert "accountConcurrency" not in raise_line
    (escalation,) = [line for line in lines if "error_rate_triager" in line]
    assert escalation.endswith(LONG_REASON)
    assert len(escalation) > 300


def test_a_terminal_keeps_the_newest_rows_on_screen() -> None:
    def terminal() -> RichConsole:
        return RichConsole(file=io.StringIO(), force_terminal=True, width=150, height=15)

    console = timeline.Console(terminal())
    with console.live() as live:
        for step in range(4):
            live.add_step(f"step number {step}")
            for n in range(6):
                live.add_event(_event(step * 10 + n, "skipped", reason=f"reason-{step}-{n}"))
        assert isinstance(live, timeline._LiveTimeline)
        screen = terminal()
        with screen.capture() as captured:
            screen.print(live.renderable())

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", captured.get())
    assert len(shown.splitlines()) <= 14
    assert "reason-3-5" in shown  # the newest decision
    assert "step number 3" in shown  # and its step
    assert "reason-0-0" not in shown
    assert "step number 0" not in shown
    assert "earlier above" in shown


def test_a_terminal_shows_everything_while_it_fits() -> None:
    console = timeline.Console(RichConsole(file=io.StringIO(), force_terminal=True, width=150, height=40))
    with console.live() as live:
        live.add_step("the only step")
        live.add_event(RAISE)
        assert isinstance(live, timeline._LiveTimeline)
        screen = RichConsole(file=io.StringIO(), force_terminal=True, width=150, height=40)
        with screen.capture() as captured:
            screen.print(live.renderable())
    assert "the only step" in captured.get()
    assert "earlier above" not in captured.get()


def test_summary_not_on_a_terminal_keeps_json_lines_whole(tmp_path: Path) -> None:
    events = tmp_path / "audit-events.jsonl"
    line = '{"step": "spike", "detail": {"reason": "' + LONG_REASON + '"}}'
    events.write_text(line + "\n")
    out = io.StringIO()
    console = timeline.Console(RichConsole(file=out, force_terminal=False, width=60))

    console.summary(_story(), {"events": events, "png": tmp_path / "timeline.png"})

    printed = out.getvalue().splitlines()
    assert line in printed
    assert (
        "verify: decisions verified, ineffective, applied, rolled-back | reserved concurrency 100 | stage cache 6.1 GB "
        "| DB class db.r5.large | replicas 0 | The verify step"
    ) in printed
    assert "odd: decisions ?, ?, weird, verified, applied, skipped, ? | reserved concurrency 100 | stage cache off" in (
        "\n".join(printed)
    )
    assert "\x1b" not in out.getvalue()
