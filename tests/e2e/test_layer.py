"""The layer as `sam build` ships it: compiled ahead, pruned, and loadable by the runtime's python."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from local_aws import BUILD_DIR, ROOT, LocalAws, python312_dirs

pytestmark = pytest.mark.e2e

LOADS = """
import json, sys, time
began = time.perf_counter()
import boto3
from remediation.runner import handle
from remediation.runbooks.spike import SpikeRunbook
services = sys.argv[1].split()
made = [boto3.client(name, region_name="us-east-1").meta.service_model.service_name for name in services]
print(json.dumps({"made": made, "xray": any(m.startswith("aws_xray_sdk") for m in sys.modules)}))
"""


def test_the_built_layer_is_compiled_pruned_and_loads(local_aws: LocalAws) -> None:
    local_aws.build()
    site = BUILD_DIR / "RemediationLayer" / "python"
    services = re.search(r"^SERVICES := (.+)$", (ROOT / "layers/remediation/Makefile").read_text(), re.M)
    assert services

    # every module has its bytecode, for the runtime's python, checked by hash only
    sources = list(site.rglob("*.py"))
    compiled = {path.parent.parent / (path.name.split(".")[0] + ".py") for path in site.rglob("*.cpython-312.pyc")}
    assert sources
    assert set(sources) <= compiled
    flags = int.from_bytes(
        (site / "remediation" / "__pycache__" / "runner.cpython-312.pyc").read_bytes()[4:8], "little"
    )
    assert flags == 0b01, "hash-based and unchecked (PEP 552)"
    # botocore keeps the models of the services the engine calls, and no other
    models = {path.name for path in (site / "botocore" / "data").iterdir() if path.is_dir()}
    assert models == set(services.group(1).split())

    # and python3.12 loads the engine from it, makes every client it needs, without the X-Ray SDK
    python = str(Path(python312_dirs()[0]) / "python3.12")
    loaded = subprocess.run(
        [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); exec({LOADS!r})", services.group(1)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    answer = json.loads(loaded.stdout.splitlines()[-1])
    assert sorted(answer["made"]) == sorted(services.group(1).split())
    assert answer["xray"] is False
