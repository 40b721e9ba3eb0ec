"""`make local-up`, `make invoke` against it, `make local-down`: the README's path to try things."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from local_aws import ROOT
from local_stack import RECORD

pytestmark = pytest.mark.e2e


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        ["make", "-s", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False
    )


def test_make_invoke_works_against_the_local_aws_of_make_local_up() -> None:
    up = _make("local-up")
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        pid = json.loads(RECORD.read_text())["pid"]

        # The README's example, as the local-up message prints it
        invoked = _make(
            "invoke",
            "FUNCTION=SpikeHandlerFunction",
            "EVENT=events/latency-warning.json",
            "ARGS=--account-id 123456789012",
        )

        assert invoked.returncode == 0, invoked.stdout[-2000:] + invoked.stderr[-3000:]
        result = json.loads(invoked.stdout)
        # the stack's latency alarm has not fired: re-read, it is not in ALARM, so nothing changes
        assert [d["limit"] for d in result["decisions"]] == ["alarm-state"]
        assert "talking to the local AWS of make local-up" in invoked.stderr
    finally:
        down = _make("local-down")
    assert down.returncode == 0, down.stderr
    assert not RECORD.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
