"""Cold start: fresh interpreters importing each handler module, interleaved with the baselines.

Every subject runs in its own new process (bench/coldstart_child.py) with the environment the
template gives the function (Lambda's own variables included), so a handler module's top-level
code runs as it does in Lambda: Powertools Logger, Tracer (tracing is Active in the template, so
the X-Ray SDK loads) and Metrics, and the runbook. Subjects are interleaved (A B C ... A B C ...)
so that they share the machine's noise.

Two layouts of the layer are measured:
- "with .pyc": the layer's dependencies from .venv, as pip installed them (bytecode cached), and
  the `remediation` package compiled ahead, under this interpreter.
- "as deployed": the layer exactly as `sam build` ships it (.aws-sam/build/RemediationLayer:
  layers/remediation/Makefile's pinned wheels, compiled ahead for python3.12, pruned), loaded by
  python3.12, the functions' runtime. Its floor is `import boto3` from the same layer by the same
  python3.12, so the ratio compares like with like.
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
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws import LocalAwsError, python312_dirs
from world import LAYER, ROOT, template_environment

CHILD = Path(__file__).with_name("coldstart_child.py")
BASELINE_HANDLER = Path(__file__).with_name("baseline_handler.py")
HANDLERS = ("spike_handler", "scale_down_handler", "db_cpu_handler", "error_rate_triager")
C7N_RESOURCES = ["aws.lambda", "aws.rds", "aws.rest-stage"]
#: What every handler imports from libraries: boto3, Powertools (Logger, Metrics, idempotency), and
#: msgspec for the typed edge.
LIBRARIES = ["boto3", "aws_lambda_powertools", "aws_lambda_powertools.utilities.idempotency", "msgspec"]
#: Runs of the engine's anatomy (its import told apart: model classes, dataclasses, the rest).
ANATOMY_RUNS = 5

#: Imports whose whole cost (children included) the report quotes from the -X importtime run.
PROFILED_IMPORTS = (
    "boto3",
    "msgspec",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.utilities.idempotency",
    "remediation.alarm",
    "remediation.contract",
    "remediation.settings",
    "remediation.actions",
    "remediation.actions.instance_class",
    "remediation.actions.read_replica",
    "remediation.actions.storage_autoscaling",
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
    """The two layer layouts. `as-deployed` is None without a built layer (or a python3.12)."""
    compiled = workdir / "with-pyc"
    compiled.mkdir()
    _copy_without_bytecode(LAYER / "remediation", compiled / "remediation")
    compileall.compile_dir(str(compiled), quiet=1, legacy=False)
    deployed = BUILT_LAYER if deployed_wanted and BUILT_LAYER.is_dir() and _python312() else None
    uncompiled = None
    if deployed is not None:
        # What the layer's bytecode buys: the same layer without it (as `sam build` used to ship it).
        uncompiled = workdir / "as-deployed-without-pyc"
        _copy_without_bytecode(deployed, uncompiled)
    return {"with-pyc": compiled, "as-deployed": deployed, "as-deployed-without-pyc": uncompiled}


def _python312() -> str | None:
    try:
        return str(Path(python312_dirs()[0]) / "python3.12")
    except LocalAwsError:
        return None


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
    # The Powertools parser package no handler imports: it needs pydantic, which the built layer no
    # longer ships, so it is measured where pydantic is (the dev environment, moto's dependency).
    found.append(
        Subject(
            "parser",
            "`import boto3, aws_lambda_powertools.utilities.parser` (the parser no handler imports, with the "
            "pydantic it needs)",
            python,
            {"kind": "modules", "modules": ["boto3", "aws_lambda_powertools.utilities.parser"]},
        )
    )
    # What XRAY_SDK_TRACING=true would add to a cold start: the X-Ray SDK, on top of boto3.
    found.append(
        Subject(
            "boto3_xray",
            "`import boto3, aws_xray_sdk.core` (what XRAY_SDK_TRACING=true adds)",
            python,
            {"kind": "modules", "modules": ["boto3", "aws_xray_sdk.core"]},
        )
    )
    deployed, python312 = layouts["as-deployed"], _python312()
    if deployed is not None and python312:
        found.append(
            Subject(
                "boto3_deployed",
                "`import boto3` from the built layer, python3.12 (the floor as deployed)",
                python312,
                {"kind": "modules", "modules": ["boto3"], "sys_path": [str(deployed)]},
            )
        )
        # The floor of any handler written as STYLE.md asks (Powertools, a typed edge), before a
        # line of ours.
        found.append(
            Subject(
                "libraries_deployed",
                "`import boto3`, Powertools (Logger, Metrics, idempotency) and msgspec, from the built layer (the "
                "libraries alone)",
                python312,
                {"kind": "modules", "modules": LIBRARIES, "sys_path": [str(deployed)]},
            )
        )
        uncompiled = layouts.get("as-deployed-without-pyc")
        if uncompiled is not None and "spike_handler" in handlers:
            code = ROOT / "functions" / "spike_handler"
            found.append(
                Subject(
                    "spike_handler_deployed_without_pyc",
                    "`spike_handler` from the built layer without its .pyc (what the bytecode buys)",
                    python312,
                    {"kind": "file", "path": str(code / "app.py"), "sys_path": [str(code), str(uncompiled)]},
                )
            )
        for handler in handlers:
            code = ROOT / "functions" / handler
            found.append(
                Subject(
                    f"{handler}_deployed",
                    f"`{handler}` as deployed (the built layer, python3.12)",
                    python312,
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


def _child(subject: Subject, spec: dict[str, Any], environment: dict[str, str]) -> tuple[dict[str, Any], float]:
    """One fresh interpreter running bench/coldstart_child.py on `spec`: its answer, and the wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [subject.python, str(CHILD), json.dumps(spec)],
        env={**environment, **spec.get("env", {})},
        capture_output=True,
        text=True,
        check=False,
        cwd=str(ROOT),
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{spec['kind']} run of {subject.key} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall


def _run_child(subject: Subject, environment: dict[str, str]) -> None:
    answer, wall = _child(subject, subject.spec, environment)
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


def engine_anatomy(subject: Subject, environment: dict[str, str], runs: int = ANATOMY_RUNS) -> dict[str, Any]:
    """The engine's own share of a handler's import, told apart (medians of `runs` fresh processes).

    The libraries (LIBRARIES) are imported first and not timed, so what is timed is ours alone:
    building our msgspec Struct classes (their `class` statements), our stdlib dataclasses (python3.12
    execs each generated method separately), and the rest of our modules' code.
    """
    spec = {**subject.spec, "kind": "anatomy", "preload": LIBRARIES, "ours": "remediation"}
    seen: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = {}
    for _ in range(runs):
        answer, _wall = _child(subject, spec, environment)
        seen["engine"].append(answer["seconds"])
        for part in ("models", "dataclasses"):
            counts[part], spent = answer[part]
            seen[part].append(spent)
        seen["rest"].append(answer["seconds"] - answer["models"][1] - answer["dataclasses"][1])
    return {
        "key": subject.key,
        "runs": runs,
        **{f"{part}_s": statistics.median(values) for part, values in seen.items()},
        **{f"{part}_count": count for part, count in counts.items()},
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
        layouts = prepare_layouts(Path(workdir), deployed_wanted=not only or any("_deployed" in k for k in only))
        floors = ("boto3", "boto3_deployed")
        found = [s for s in subjects(layouts, c7n_python, handlers) if not only or s.key in only or s.key in floors]
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
        anatomy = [
            engine_anatomy(subject, environment)
            for subject in found
            if profile and subject.key.endswith("_deployed") and subject.key.removesuffix("_deployed") in handlers
        ]
    by_key = {subject.key: subject.summary() for subject in found}
    c7n = by_key.get("c7n", {}).get("median_s")
    for key, summary in by_key.items():
        # As deployed, against `import boto3` as deployed: the same python3.12, the same layer.
        floor = "boto3_deployed" if "_deployed" in key and "boto3_deployed" in by_key else "boto3"
        summary["floor"] = floor
        summary["vs_boto3"] = summary["median_s"] / by_key[floor]["median_s"]
        summary["vs_c7n"] = summary["median_s"] / c7n if c7n else None
    return {
        "runs": runs,
        "subjects": list(by_key.values()),
        "profiles": profiles,
        "anatomy": anatomy,
        "deployed_layout": any(subject.key.endswith("_deployed") for subject in found),
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
