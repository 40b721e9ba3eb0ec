"""The embedded local AWS: ministack on 127.0.0.1, and the real template deployed to it.

Used by `make demo` and by the end-to-end tests. ministack runs Python Lambda functions as
local processes (no Docker) and accepts `sam deploy`. It lives in its own virtualenv
(.venv-ministack, python3.12 like the functions' runtime, since it runs them with its own
interpreter), binds to 127.0.0.1 on a free port, keeps its temp files under .local/, and is
always stopped, also on Ctrl-C or an error (use it as a context manager).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stack import stack_outputs

ROOT = Path(__file__).resolve().parents[1]
MINISTACK_VENV = ROOT / ".venv-ministack"
SAM_VENV = ROOT / ".venv-sam"
WORKDIR = ROOT / ".local" / "ministack"
BUILD_DIR = ROOT / ".aws-sam" / "build"
REGION = "us-east-1"
#: ministack's account.
ACCOUNT_ID = "000000000000"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class LocalAwsError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python312_dirs() -> list[str]:
    """The folder of a python3.12 that really runs, for `sam build` of the python3.12 runtime.

    pyenv's shim is on PATH even when 3.12 is not active (and then fails), so each candidate
    is tried.
    """
    candidates = [str(p) for p in sorted((Path.home() / ".pyenv" / "versions").glob("3.12*/bin/python3.12"))]
    candidates += [found] if (found := shutil.which("python3.12")) else []
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return [str(Path(candidate).parent)]
    raise LocalAwsError("sam build needs a python3.12 (for the functions' runtime): install one, e.g. with pyenv")


class LocalAws:
    """A running ministack. `with LocalAws() as aws:` starts it and always stops it."""

    def __init__(self, workdir: Path = WORKDIR) -> None:
        self.workdir = workdir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "ministack.log"

    def start(self, timeout: float = 60) -> LocalAws:
        executable = MINISTACK_VENV / "bin" / "ministack"
        if not executable.exists():
            raise LocalAwsError(f"{executable} is missing: `make .venv-ministack/.installed` installs it")
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True)
        self.port = _free_port()
        env = {
            **os.environ,
            **CREDENTIALS,
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_HOST": "127.0.0.1",
            "AWS_DEFAULT_REGION": REGION,
            "TMPDIR": str(tmp),
            "STATE_DIR": str(self.workdir / "state"),
            "S3_DATA_DIR": str(self.workdir / "s3"),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("AWS_ENDPOINT_URL", None)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [str(executable)], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalAwsError(f"ministack exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise LocalAwsError(f"ministack did not answer on {self.endpoint} within {timeout} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # The whole group: ministack's Lambda workers run as its children.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        # Lambda work dirs are left behind by ministack; they live in our tmp.
        shutil.rmtree(self.workdir / "tmp", ignore_errors=True)

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- talking to it -----------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What a process needs to talk to this local AWS (and nothing else)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    # --- the real template, deployed ---------------------------------------------------------

    def _run_sam(self, *args: str, quiet: bool = True) -> None:
        env = {**os.environ, **self.environment(), "SAM_CLI_TELEMETRY": "0"}
        env["PATH"] = os.pathsep.join([*python312_dirs(), env.get("PATH", "")])
        sam = SAM_VENV / "bin" / "sam"
        if not sam.exists():
            raise LocalAwsError(f"{sam} is missing: `make .venv-sam/.installed` installs it")
        result = subprocess.run([str(sam), *args], cwd=ROOT, env=env, capture_output=quiet, check=False)
        if result.returncode != 0:
            output = (result.stdout or b"").decode() + (result.stderr or b"").decode()
            raise LocalAwsError(f"sam {args[0]} failed:\n{output[-4000:]}")

    def build(self) -> None:
        self._run_sam("build", "--build-dir", str(BUILD_DIR), "--cached", "--parallel")

    def deploy(self, stack: str, parameters: Mapping[str, object]) -> dict[str, str]:
        """`sam deploy` of the built template; returns the stack's outputs."""
        overrides = [f"{key}={value}" for key, value in parameters.items()]
        self._run_sam(
            "deploy",
            "--template-file",
            str(BUILD_DIR / "template.yaml"),
            "--stack-name",
            stack,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_IAM",
            "--region",
            REGION,
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            *overrides,
        )
        outputs = stack_outputs(self.client("cloudformation"), stack)
        # The emulator ignores TimeToLiveSpecification in templates: set it as AWS would have.
        self.client("dynamodb").update_time_to_live(
            TableName=outputs["StateTableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )
        return outputs


@contextmanager
def audit_capture(aws: LocalAws, bus_name: str, name: str = "audit-capture") -> Iterator[str]:
    """An SQS queue subscribed to the audit bus (the emulator drops EventBridge → Logs targets)."""
    sqs, events = aws.client("sqs"), aws.client("events")
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({"source": ["printapp.remediation"]}))
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    yield queue_url


def drain(aws: LocalAws, queue_url: str) -> list[dict[str, Any]]:
    """Every message waiting in a queue, parsed, deleted."""
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
