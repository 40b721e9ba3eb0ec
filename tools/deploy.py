"""`make deploy ENV=dev|prod`: build and deploy the stack with samconfig.toml's environment.

    python tools/deploy.py --env dev [--rest-api-id ID] [--live] [--yes] [--override KEY=VALUE ...]

What it does, in order: reads the environment's settings from samconfig.toml (stack, region,
parameter overrides); finds the app's REST API id (`--rest-api-id`, or the one API named
`TargetApiName` in the account: the template requires it, to grant the stage permission on that
API only); runs `sam build` with a python3.12 on PATH (the functions' runtime) and `sam deploy
--config-env ENV` with samconfig's overrides plus these; prints the stack's outputs and what to
do next.

Safe on day one: samconfig starts every environment in dry-run (`DryRun=true`: the full decision
logic, `Remediation Planned` events, no change). Going live is one parameter: `--live`
(`make deploy ENV=prod LIVE=1`) deploys with `DryRun=false`; set `DryRun=false` in samconfig.toml
to keep it so.

It deploys where boto3 and sam point: AWS_ENDPOINT_URL when set (a local AWS), else the account
of your credentials. Exit 0 deployed, 1 sam failed, 2 a problem before sam ran.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local_aws import SAM_VENV, python312_dirs
from stack import stack_outputs

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
SAM_FAILED, NOT_STARTED = 1, 2


class DeployError(Exception):
    """Something to fix before sam can run; the message says what."""


@dataclass(frozen=True)
class Environment:
    name: str
    stack: str
    region: str
    overrides: dict[str, str]


def environment(name: str, samconfig: Path = SAMCONFIG) -> Environment:
    config = tomllib.loads(samconfig.read_text())
    if name not in config:
        raise DeployError(f"samconfig.toml has no environment {name!r} (it has {', '.join(sorted(config)[:-1])})")
    deploy = config[name].get("deploy", {}).get("parameters", {})
    overrides = dict(item.split("=", 1) for item in shlex.split(deploy.get("parameter_overrides", "")))
    return Environment(
        name, deploy.get("stack_name", "printapp-remediation"), deploy.get("region", "us-east-1"), overrides
    )


def parameters(env: Environment, *, rest_api_id: str, live: bool, extra: Mapping[str, str]) -> dict[str, str]:
    """samconfig's overrides, then the API id, going live or not, and `--override`s: all of them,
    since sam's --parameter-overrides replaces samconfig's instead of adding to them."""
    merged = {**env.overrides, "TargetRestApiId": rest_api_id, **extra}
    merged.setdefault("DryRun", "true")
    if live:
        merged["DryRun"] = "false"
    return merged


def find_rest_api(apigateway: Any, name: str) -> str:
    found = [
        api["id"]
        for page in apigateway.get_paginator("get_rest_apis").paginate()
        for api in page["items"]
        if api.get("name") == name
    ]
    if len(found) != 1:
        raise DeployError(f"{len(found)} REST APIs are named {name!r} here: give --rest-api-id (REST_API_ID=...)")
    return str(found[0])


def sam(*args: str, region: str) -> int:
    executable = SAM_VENV / "bin" / "sam"
    if not executable.exists():
        raise DeployError(f"{executable} is missing: `make .venv-sam/.installed` installs it")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    env["PATH"] = os.pathsep.join([*python312_dirs(), env.get("PATH", "")])
    print(f"==> sam {' '.join(args)}", file=sys.stderr)
    return subprocess.run([str(executable), *args], cwd=ROOT, env=env, check=False).returncode


def next_steps(stack: str, outputs: Mapping[str, str], dry_run: bool) -> str:
    mode = (
        "DRY RUN: every decision is a `Remediation Planned` event, nothing changes. Watch the audit trail, "
        "then go live with `make deploy ENV=<env> LIVE=1` (DryRun=false)."
        if dry_run
        else "LIVE: the runbook acts. The kill switch is the SSM parameter "
        f"/{stack}/remediation-enabled (set it to false: audit-only, no redeploy)."
    )
    return "\n".join(
        [
            f"Stack {stack} is deployed. {mode}",
            f"- Subscribe to decisions: the audit bus {outputs.get('AuditBusName', '?')} (an example rule in the "
            "template sends them to a log group); page on Remediation Failed, Escalation Required, Approval Requested.",
            f"- Connect alarms you made by hand: add the topic {outputs.get('AlarmTopicArn', '?')} to their alarm "
            "and OK actions.",
            f"- Approve a change waiting in manual mode: make approve DECISION_ID=<decisionId> STACK={stack}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="a samconfig.toml environment: dev or prod")
    parser.add_argument("--rest-api-id", default=os.environ.get("REST_API_ID") or None)
    parser.add_argument("--live", action="store_true", help="deploy with DryRun=false: the runbook acts")
    parser.add_argument("--yes", action="store_true", help="no changeset confirmation (samconfig asks for prod)")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="one more parameter")
    args = parser.parse_args(argv)
    try:
        env = environment(args.env)
        extra = dict(item.split("=", 1) for item in args.override)
        api_name = {**env.overrides, **extra}.get("TargetApiName", "printapp-api")
        rest_api_id = args.rest_api_id or find_rest_api(boto3.client("apigateway", region_name=env.region), api_name)
        given = parameters(env, rest_api_id=rest_api_id, live=args.live, extra=extra)
        if sam("build", "--config-env", env.name, region=env.region):
            return SAM_FAILED
        confirm = ["--no-confirm-changeset"] if args.yes else []
        overrides = ["--parameter-overrides", *(f"{key}={value}" for key, value in given.items())]
        if sam("deploy", "--config-env", env.name, *confirm, *overrides, region=env.region):
            return SAM_FAILED
        outputs = stack_outputs(boto3.client("cloudformation", region_name=env.region), env.stack)
    except (DeployError, BotoCoreError, ClientError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return NOT_STARTED
    for key, value in sorted(outputs.items()):
        print(f"{key}\t{value}")
    print("\n" + next_steps(env.stack, outputs, dry_run=given["DryRun"] == "true"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
