"""`make deploy ENV=dev`, as written, against the local AWS: the dev stack starts in dry-run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from local_aws import ROOT, LocalAws

pytestmark = pytest.mark.e2e


def test_deploying_the_dev_environment_starts_in_dry_run(local_aws: LocalAws) -> None:
    # Given the local AWS, and samconfig.toml's dev environment as an operator would use it
    environment = {**os.environ, **local_aws.environment()}

    # When tools/deploy.py (make deploy ENV=dev) builds and deploys it
    deployed = subprocess.run(
        [
            sys.executable,
            "tools/deploy.py",
            "--env",
            "dev",
            "--rest-api-id",
            "devapi0001",
            "--yes",
            "--override",
            "LocalEmulator=true",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    # Then the stack is there, its outputs and next steps are printed, and it only plans
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-4000:]
    assert "Stack printapp-remediation-dev is deployed. DRY RUN" in deployed.stdout
    assert "make approve DECISION_ID=" in deployed.stdout
    functions = local_aws.client("lambda")
    spike = functions.get_function_configuration(FunctionName="printapp-remediation-dev-spike-handler")
    variables = spike["Environment"]["Variables"]
    assert (variables["DRY_RUN"], variables["TARGET_FUNCTION_NAME"], variables["TARGET_REST_API_ID"]) == (
        "true",
        "printapp-api-dev",
        "devapi0001",
    )
