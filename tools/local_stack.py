"""`make local-up` / `make local-down`: the local AWS kept running, with the stack deployed.

    python tools/local_stack.py up      # start ministack on 127.0.0.1, deploy the stack and stand-ins
    python tools/local_stack.py down    # stop it

While it is up, `.local/up/env` holds what a shell needs to talk to it (`set -a; . .local/up/env`),
and `make invoke` and `make approve` use it: try an event, or approve a request, against the real
template without an AWS account. `make local-down` stops the emulator and removes the files.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Sequence

from demo import STACK, deploy
from local_aws import ACCOUNT_ID, ROOT, LocalAws, LocalAwsError

UP = ROOT / ".local" / "up"
RECORD = UP / "local-aws.json"
ENV_FILE = UP / "env"


def running() -> dict[str, object] | None:
    """The running local AWS (pid, endpoint), or None."""
    if not RECORD.exists():
        return None
    record: dict[str, object] = json.loads(RECORD.read_text())
    try:
        os.killpg(int(str(record["pid"])), 0)
    except (ProcessLookupError, PermissionError):
        return None
    return record


def up() -> int:
    if (record := running()) is not None:
        print(f"the local AWS is already up on {record['endpoint']} (make local-down stops it)")
        return 0
    aws = LocalAws(workdir=UP / "ministack").start()
    try:
        outputs, standins = deploy(aws, lambda step: print(f"==> {step}", file=sys.stderr))
    except Exception:
        aws.stop()
        raise
    assert aws._process is not None
    RECORD.write_text(json.dumps({"pid": aws._process.pid, "endpoint": aws.endpoint, "outputs": outputs}))
    ENV_FILE.write_text("".join(f"{key}={value}\n" for key, value in aws.environment().items()))
    print(
        f"The local AWS is up on {aws.endpoint}, with the stack {STACK} deployed (account {ACCOUNT_ID}).\n"
        "Try an event (the events/ files are alarms of account 123456789012, so say the function runs there):\n"
        "  make invoke FUNCTION=SpikeHandlerFunction EVENT=events/latency-warning.json "
        f'ARGS="--account-id 123456789012 --parameter-overrides TargetRestApiId={standins.rest_api_id}"\n'
        f"Or your own shell: set -a; . {ENV_FILE.relative_to(ROOT)}; set +a\n"
        "Stop it with: make local-down"
    )
    return 0


def down() -> int:
    record = running()
    if record is None:
        print("the local AWS is not up")
    else:
        pid = int(str(record["pid"]))
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        print(f"the local AWS on {record['endpoint']} is stopped")
    for path in (RECORD, ENV_FILE):
        path.unlink(missing_ok=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    command = (list(argv) if argv is not None else sys.argv[1:]) or ["up"]
    if command[0] not in {"up", "down"}:
        print("usage: local_stack.py up|down", file=sys.stderr)
        return 2
    try:
        return up() if command[0] == "up" else down()
    except LocalAwsError as error:
        print(f"local-up: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
