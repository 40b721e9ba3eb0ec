"""`make bench`: cold start, AWS calls per decision, warm time, an alarm storm, the layer size, the closed loop,
the replay's speed.

    .venv/bin/python bench/run.py [--c7n-python .venv-c7n/bin/python] [--output docs/BENCHMARKS.md]

Writes the report (docs/BENCHMARKS.md) and the raw figures (out/bench/results.json).
"""

# ruff: noqa: PLC0415  (the layer, tests/ and tools/ are importable only once world.py put them on sys.path)

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import world  # first: puts the layer, tests/ and tools/ on sys.path

ROOT = world.ROOT


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("boto3", "botocore", "moto", "aws-lambda-powertools", "msgspec")
    )
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_version()} ({sys.executable})",
        "packages": versions,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=ROOT / "out" / "bench" / "results.json")
    parser.add_argument("--c7n-python", help="python of the Cloud Custodian virtualenv (skipped when absent)")
    parser.add_argument("--runs", type=int, default=9, help="cold-start runs per subject (default: %(default)s)")
    parser.add_argument("--handlers", default="all", help="cold start: comma-separated handlers, or all")
    parser.add_argument("--cold-subjects", default="", help="cold start: only these subjects (comma-separated keys)")
    parser.add_argument("--paths", default="", help="AWS calls: only these paths (comma-separated keys)")
    parser.add_argument("--no-profile", action="store_true", help="skip the -X importtime diagnostic run")
    parser.add_argument("--warm-runs", type=int, default=30, help="warm runs per handler (default: %(default)s)")
    parser.add_argument("--storm-changes", type=int, default=50)
    parser.add_argument("--storm-deliveries", type=int, default=20)
    parser.add_argument("--skip-layer", action="store_true", help="no sam build / layer size")
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-loop", action="store_true", help="no closed-loop timing in the local story (ministack)")
    parser.add_argument(
        "--replay-changes", type=int, default=2000, help="replay speed: state changes in the generated history"
    )
    parser.add_argument("--skip-replay", action="store_true", help="no replay speed")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine()}
    import awscalls
    import coldstart
    import layer
    import warm

    if not args.skip_layer:
        log("5. layer size (sam build) — first, so cold start can use the built layer's layout")
        try:
            results["layer"] = layer.measure(log=log)
        except Exception as error:  # sam missing or offline: the rest still runs
            log(f"  layer: not measured: {error}")
    log("1. cold start")
    handlers = coldstart.HANDLERS if args.handlers == "all" else tuple(args.handlers.split(","))
    c7n = args.c7n_python if args.c7n_python and Path(args.c7n_python).exists() else None
    if args.c7n_python and not c7n:
        log(f"  {args.c7n_python} not found: Cloud Custodian is not measured")
    results["cold"] = coldstart.measure(
        runs=args.runs,
        c7n_python=c7n,
        handlers=handlers,
        only=tuple(filter(None, args.cold_subjects.split(","))),
        profile=not args.no_profile,
        log=log,
    )
    if not args.skip_calls:
        log("2. AWS calls per decision")
        with warm.quiet():
            results["calls"] = awscalls.measure(log=log, only=tuple(filter(None, args.paths.split(","))))
    log("3. warm per-alarm time")
    results["warm"] = warm.measure_warm(args.warm_runs, log=log)
    log("4. alarm storm")
    results["storm"] = warm.measure_storm(args.storm_changes, args.storm_deliveries, log=log)
    if not args.skip_loop:
        log("6. the closed loop in the local story (ministack)")
        import loop

        try:
            results["loop"] = loop.measure(log=log)
        except Exception as error:  # the local AWS missing: the rest still runs
            log(f"  closed loop: not measured: {error}")
    if not args.skip_replay:
        log("7. replay speed")
        import replay_speed

        with warm.quiet():
            results["replay"] = replay_speed.measure(args.replay_changes, log=log)
    results["seconds"] = time.perf_counter() - started
    command = ".venv/bin/python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str))
    import report

    report.write(args.output, results, command.strip())
    log(f"wrote {args.output} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
