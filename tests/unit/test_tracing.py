"""Tracing costs nothing until it is switched on: the X-Ray SDK loads only with XRAY_SDK_TRACING."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.template import ROOT

#: A handler module as a function ships it, called once, then what it loaded.
PROBE = """
import json, sys
from remediation.tracing import traced

@traced
def handler(event, context):
    return {"answered": event["question"]}

answer = handler({"question": 42}, None)
print(json.dumps({"answer": answer, "sdk": any(name.startswith("aws_xray_sdk") for name in sys.modules)}))
"""


def _call(tracing: str) -> dict[str, object]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "layers" / "remediation"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AUDIT_BUS_NAME": "bus",
        "STATE_TABLE_NAME": "table",
        # As in Lambda: the tracer records only where there is a daemon to send to.
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "XRAY_SDK_TRACING": tracing,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return answer


@pytest.mark.parametrize(("tracing", "sdk"), [("false", False), ("true", True), ("not-a-flag", False)])
def test_the_xray_sdk_loads_only_when_tracing_is_switched_on(tracing: str, sdk: bool) -> None:
    answer = _call(tracing)

    assert answer == {"answer": {"answered": 42}, "sdk": sdk}
