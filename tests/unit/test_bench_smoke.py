"""The benchmark runs end to end on a tiny input and writes its report (nothing here is timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "## Machine",
    "## Summary",
    "## 1. Cold start",
    "## 2. AWS calls per decision",
    "## 3. Warm per-alarm time",
    "## 4. Alarm storm",
    "## 5. Layer size",
    "## 7. Replay speed",
    "## Missed goals: by how much, and why",
    "## What each change bought",
    "## How to reproduce",
)


def test_benchmark_runs_on_a_tiny_input_and_writes_the_report(tmp_path: Path) -> None:
    # Given a run with one cold start of three subjects, two call paths, two warm runs and a storm of 20
    report, results = tmp_path / "BENCHMARKS.md", tmp_path / "results.json"
    command = [
        sys.executable,
        "bench/run.py",
        *("--output", str(report), "--results", str(results)),
        *("--runs", "1", "--cold-subjects", "boto3,baseline,spike_handler", "--no-profile"),
        *("--paths", "spike,duplicate"),
        *("--warm-runs", "2", "--storm-changes", "2", "--storm-deliveries", "10"),
        "--skip-layer",
        "--skip-loop",
        *("--replay-changes", "12"),
    ]

    # When it runs
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)

    # Then the report has every section, and the storm decided each state change once
    assert finished.returncode == 0, finished.stderr[-3000:]
    text = report.read_text()
    for section in SECTIONS:
        assert section in text, f"{section} missing from the report"
    assert "| spike_handler" in text or "`spike_handler`" in text
    figures = json.loads(results.read_text())
    assert figures["storm"]["changes_decided"] == 2
    assert figures["storm"]["notifications"] == 20
    # and the warm goal is measured against the hand-written handler that makes the same decisions
    assert figures["storm"]["careful"]["writes"] == {"PutFunctionConcurrency": 1, "UpdateStage": 1}
    assert figures["warm"]["baseline_calls"] < figures["warm"]["careful_calls"] < figures["warm"]["ours_calls"]
    assert figures["warm"]["ratio"] == figures["warm"]["ours_ms"] / figures["warm"]["careful_ms"]
    assert figures["replay"]["changes"] == 12
    assert figures["replay"]["decisions"] > 0
    duplicate = next(path for path in figures["calls"] if path["key"] == "duplicate")
    assert duplicate["calls"] == ["PutItem(idempotency#…)"]


def test_the_engines_import_is_told_apart_into_struct_classes_dataclasses_and_the_rest() -> None:
    # Given the spike handler loaded as the cold-start benchmark loads it, its libraries first
    driver = (
        "import json, sys; sys.path.insert(0, 'bench'); import world, coldstart; "
        "code = world.ROOT / 'functions' / 'spike_handler'; "
        "subject = coldstart.Subject('spike_handler', 'spike', sys.executable, "
        "{'kind': 'file', 'path': str(code / 'app.py'), 'sys_path': [str(code), str(world.LAYER)]}); "
        "print(json.dumps(coldstart.engine_anatomy(subject, coldstart.child_environment(), runs=1)))"
    )

    # When its anatomy is measured
    finished = subprocess.run(
        [sys.executable, "-c", driver], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    # Then our msgspec Structs were seen being built, counted once each beside the rest; the engine has
    # no stdlib dataclasses left (python3.12 compiles each of their generated methods on import)
    assert finished.returncode == 0, finished.stderr[-3000:]
    anatomy = json.loads(finished.stdout.strip().splitlines()[-1])
    assert anatomy["models_count"] >= 40  # the edge, the settings, the audit detail, the engine's records
    assert 0 < anatomy["models_s"] < anatomy["engine_s"]
    assert anatomy["dataclasses_count"] == 0
    assert anatomy["rest_s"] > 0
