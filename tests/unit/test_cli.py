"""The one command line (SPEC §10): `printapp-remediation`, as `make install` installs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import printapp_cli
from support.template import ROOT

CLI = Path(sys.executable).with_name("printapp-remediation")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: `make install` (or make test) installs the project's command line")
    return subprocess.run([str(CLI), *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_the_console_script_lists_its_commands() -> None:
    answer = _run("--help")

    assert answer.returncode == 0
    for command in ("invoke", "approve", "redrive"):
        assert f"  {command} " in answer.stdout


@pytest.mark.parametrize("command", sorted(printapp_cli.COMMANDS))
def test_each_commands_help_says_what_it_reads_and_whether_it_writes(command: str) -> None:
    answer = _run(command, "--help")

    assert answer.returncode == 0
    assert f"usage: printapp-remediation {command}" in answer.stdout
    assert "Reads: " in answer.stdout
    assert "Writes: " in answer.stdout


def test_usage_errors_exit_2() -> None:
    assert _run().returncode == 2
    assert _run("replay-everything").returncode == 2
    assert _run("approve").returncode == 2  # no decision id
    unknown = _run("invoke", "NoSuchFunction", "events/latency-warning.json", "--account-id", "123456789012")
    assert unknown.returncode == 2
    assert "NoSuchFunction" in unknown.stderr


def test_the_make_targets_call_the_command_line() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for command in ("invoke", "approve", "redrive"):
        assert f"$(VENV)/bin/printapp-remediation {command}" in makefile
