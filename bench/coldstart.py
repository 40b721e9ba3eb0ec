"""Cold start: fresh interpreters importing each handler module, interleaved with the baselines.

Every subject runs in its own new process (bench/coldstart_child.py) with the environment the
template gives the function (Lambda's own variables included), so a handler module's top-level
code runs as it does in Lambda: Powertools Logger, Tracer (tracing is Active in the template, so
the X-Ray SDK loads) and Metrics, and the runbook. Subjects are interleaved (A B C ... A B C ...)
so that they share the machine's noise.

Two layouts of the layer are measured:
- "with .pyc": the layer's dependencies from .venv, as pip installed them (bytecode cached), and
  the `remediation` package compiled ahead. The best case.
- "as deployed": the layer as `sam build` ships it: its packages without any .pyc, in front of
  the runtime's boto3 (which has them). /opt is read-only in Lambda, so every cold start
  compiles the layer's modules from source; this variant does the same.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from world import LAYER, ROOT, template_environment

CHILD = Path(__file__).with_name("coldstart_child.py")
BASELINE_HANDLER = Path(__file__).with_name("baseline_handler.py")
HANDLERS = ("spike_handler", "scale_down_handler", "db_cpu_handler", "error_rate_triager")
C7N_RESOURCES = ["aws.lambda", "aws.rds", "aws.rest-stage"]
#: Imports whose whole cost (children included) the report quotes from the -X importtime run.
PROFILED_IMPORTS = (
    "boto3",
    "aws_xray_sdk.core",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.idempotency",
    "remediation.alarm",
    "remediation.actions",
    "remediation.actions.instance_class",
    "remediation.actions.read_replica",
    "remediation.actions.storage_autoscaling",
    "remediation.settings",
)
BUILT_LAYER = ROOT / ".aws-sam" / "build" / "RemediationLayer" / "python"


@dataclass
class Subject:
    key: str
    label: str
    python: str
    spec: dict[str, Any]
    seconds: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    modules: int = 0

    def median(self) -> float:
        return statistics.median(self.seconds)

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "runs": len(self.seconds),
            "median_s": self.median(),
            "min_s": min(self.seconds),
            "max_s": max(self.seconds),
            "wall_median_s": statistics.median(self.wall),
            "rss_median_mb": statistics.median(self.rss_kb) / 1024,
            "modules": self.modules,
        }


def child_environment() -> dict[str, str]:
    """The spike function's Lambda environment, and nothing from this shell but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        # Never write bytecode: Lambda cannot (read-only /opt), and the source tree stays clean.
        "PYTHONDONTWRITEBYTECODE": "1",
        **template_environment("spike_handler"),
    }


def _copy_without_bytecode(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, target)


def prepare_layouts(workdir: Path, *, deployed_wanted: bool = True) -> dict[str, Path | None]:
    """The two layer layouts. `deployed` is None when no built layer says what the layer holds."""
    compiled = workdir / "with-pyc"
    compiled.mkdir()
    _copy_without_bytecode(LAYER / "remediation", compiled / "remediation")
    compileall.compile_dir(str(compiled), quiet=1, legacy=False)
    deployed: Path | None = None
    if deployed_wanted and BUILT_LAYER.is_dir():
        deployed = workdir / "as-deployed"
        deployed.mkdir()
        site_packages = Path(sysconfig.get_paths()["purelib"])
        for entry in sorted(BUILT_LAYER.iterdir()):
            # This interpreter's build of each package the built layer holds (the built one is
            # for python3.12's ABI); the layer's own package from source.
            source = LAYER / entry.name if entry.name == "remediation" else site_packages / entry.name
            if source.exists():
                _copy_without_bytecode(source, deployed / entry.name)
    return {"with-pyc": compiled, "as-deployed": deployed}


def subjects(layouts: dict[str, Path | None], c7n_python: str | None, handlers: tuple[str, ...]) -> list[Subject]:
    python = sys.executable
    found: list[Subject] = [
        Subject("boto3", "`import boto3` (the floor)", python, {"kind": "modules", "modules": ["boto3"]}),
        Subject(
            "baseline",
            "hand-written boto3 handler (bench/baseline_handler.py)",
            python,
            {"kind": "file", "path": str(BASELINE_HANDLER)},
        ),
    ]
    compiled = layouts["with-pyc"]
    for handler in handlers:
        code = ROOT / "functions" / handler
        found.append(
            Subject(
                handler,
                f"`{handler}` (layer with .pyc)",
                python,
                {"kind": "file", "path": str(code / "app.py"), "sys_path": [str(code), str(compiled)]},
            )
        )
    # What the X-Ray SDK adds on top of boto3 (Powertools loads it even with tracing disabled,
    # so a handler "without it" cannot be measured without changing the handler).
    found.append(
        Subject(
            "boto3_xray",
            "`import boto3, aws_xray_sdk.core` (what the X-Ray SDK adds)",
            python,
            {"kind": "modules", "modules": ["boto3", "aws_xray_sdk.core"]},
        )
    )
    deployed = layouts["as-deployed"]
    if deployed is not None and "spike_handler" in handlers:
        code = ROOT / "functions" / "spike_handler"
        found.append(
            Subject(
                "spike_handler_deployed",
                "`spike_handler` as deployed (layer without .pyc, as sam build ships it)",
                python,
                {"kind": "file", "path": str(code / "app.py"), "sys_path": [str(code), str(deployed)]},
            )
        )
    if c7n_python:
        found.append(
            Subject(
                "c7n",
                "Cloud Custodian Lambda entry (`c7n.handler` + lambda, rds, rest-stage resources)",
                c7n_python,
                {"kind": "c7n", "resources": C7N_RESOURCES},
            )
        )
        found.append(
            Subject(
                "c7n_boto3",
                "`import boto3` in the Custodian virtualenv",
                c7n_python,
                {"kind": "modules", "modules": ["boto3"]},
            )
        )
    return found


def _run_child(subject: Subject, environment: dict[str, str]) -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [subject.python, str(CHILD), json.dumps(subject.spec)],
        env={**environment, **subject.spec.get("env", {})},
        capture_output=True,
        text=True,
        check=False,
        cwd=str(ROOT),
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"cold start of {subject.key} failed:\n{result.stderr[-3000:]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    subject.seconds.append(answer["seconds"])
    subject.wall.append(wall)
    subject.rss_kb.append(answer["maxrss_kb"])
    subject.modules = answer["modules"]


def import_profile(subject: Subject, environment: dict[str, str], top: int = 10) -> dict[str, Any]:
    """One `-X importtime` run: self time summed per top-level package, and the slowest modules."""
    result = subprocess.run(
        [subject.python, "-X", "importtime", str(CHILD), json.dumps(subject.spec)],
        env={**environment, **subject.spec.get("env", {})},
        capture_output=True,
        text=True,
        check=True,
        cwd=str(ROOT),
    )
    per_package: dict[str, int] = defaultdict(int)
    per_module: list[tuple[int, str]] = []
    cumulative: dict[str, int] = {}
    line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")
    for raw in result.stderr.splitlines():
        match = line.match(raw)
        if not match:
            continue
        self_us, name = int(match.group(1)), match.group(4)
        cumulative[name] = int(match.group(2))
        per_package[name.split(".")[0]] += self_us
        per_module.append((self_us, name))
    total = sum(per_package.values())
    packages = sorted(per_package.items(), key=lambda item: -item[1])[:top]
    return {
        "total_ms": total / 1000,
        "packages": [{"package": name, "ms": us / 1000, "share": us / total} for name, us in packages],
        "modules": [{"module": name, "ms": us / 1000} for us, name in sorted(per_module, reverse=True)[:top]],
        "cumulative": [
            {"module": name, "ms": cumulative[name] / 1000} for name in PROFILED_IMPORTS if name in cumulative
        ],
    }


def measure(
    *,
    runs: int,
    c7n_python: str | None,
    handlers: tuple[str, ...] = HANDLERS,
    only: tuple[str, ...] = (),
    profile: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    environment = child_environment()
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as workdir:
        layouts = prepare_layouts(Path(workdir), deployed_wanted=not only or "spike_handler_deployed" in only)
        found = [s for s in subjects(layouts, c7n_python, handlers) if not only or s.key in only or s.key == "boto3"]
        if runs > 1:
            for subject in found:  # one untimed run each: the page cache is warm for everyone
                _run_child(subject, environment)
                subject.seconds.clear()
                subject.wall.clear()
                subject.rss_kb.clear()
        for run in range(runs):
            for subject in found:
                _run_child(subject, environment)
            log(f"  cold start round {run + 1}/{runs}")
        profiles = {}
        if profile:
            for subject in found:
                if subject.key in ("spike_handler", "spike_handler_deployed"):
                    profiles[subject.key] = import_profile(subject, environment)
    by_key = {subject.key: subject.summary() for subject in found}
    floor = by_key["boto3"]["median_s"]
    c7n = by_key.get("c7n", {}).get("median_s")
    for summary in by_key.values():
        summary["vs_boto3"] = summary["median_s"] / floor
        summary["vs_c7n"] = summary["median_s"] / c7n if c7n else None
    return {
        "runs": runs,
        "subjects": list(by_key.values()),
        "profiles": profiles,
        "deployed_layout": any(subject.key == "spike_handler_deployed" for subject in found),
        "c7n": c7n_python is not None,
        "c7n_version": _c7n_version(c7n_python),
    }


def _c7n_version(c7n_python: str | None) -> str | None:
    if not c7n_python:
        return None
    result = subprocess.run(
        [c7n_python, "-c", "import importlib.metadata as m; print(m.version('c7n'), m.version('boto3'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None
