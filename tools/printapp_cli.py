"""printapp-remediation: the project's one command line (SPEC §10).

    printapp-remediation invoke FUNCTION EVENT [...]   run a function of template.yaml on an event, no Docker
    printapp-remediation approve DECISION_ID [...]     approve a waiting change as yourself
    printapp-remediation redrive FUNCTION [...]        hand a function's dead letters back to it
    printapp-remediation replay --history F --alarms F  what it would have done over an alarm history (read-only)

`printapp-remediation COMMAND --help` says what each reads and whether it writes. Every command
talks to AWS_ENDPOINT_URL when that is set (the local AWS of `make local-up`), else to the
account of your credentials. Installed by `make install` (pyproject `[project.scripts]`); the make
targets (`make invoke`, `make approve`, `make redrive`) call it.

Exit codes, for every command: 0 done (the decision was made, whatever it was); 1 the handler
or AWS failed (the error is printed, and the audit trail has it); 2 bad usage, or it could not
start (an unknown function, an unreadable file, no stack).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

PROG = "printapp-remediation"
USAGE_ERROR = 2


@dataclass(frozen=True)
class Command:
    module: str
    summary: str
    reads: str
    writes: str


COMMANDS = {
    "invoke": Command(
        "local_invoke",
        "run a function of template.yaml on an event file, in-process (no Docker), as Lambda would",
        "template.yaml (handler, environment, layer), the event file, STS (the account id), and what the handler reads",
        "what the handler decides: its actions on the app, the state table, the audit bus (set DryRun=true with "
        "--parameter-overrides to write nothing to the app)",
    ),
    "approve": Command(
        "approve",
        "approve a waiting change (an Approval Requested event's decisionId) as yourself",
        "STS GetCallerIdentity (you are the approver), CloudFormation DescribeStacks (the approval handler)",
        "only through the approval handler, which re-checks the plan and applies it once",
    ),
    "replay": Command(
        "replay",
        "what would it have done? an alarm history run through the real handlers, in a simulation",
        "the alarm history and the alarms' configuration (DescribeAlarmHistory, DescribeAlarms; or --history and "
        "--alarms files), the deployed stack's settings and alarm topic (CloudFormation DescribeStacks and "
        "ListStackResources, Lambda GetFunctionConfiguration), the targets' starting configuration (Lambda, API "
        "Gateway, RDS: Get/Describe only) and the window's metrics (CloudWatch GetMetricData); with --no-account, "
        "only the files",
        "nothing: every client of the account refuses anything but Describe/Get/List; state and effects are "
        "simulated in-process",
    ),
    "redrive": Command(
        "redrive",
        "hand a function's dead letters back to it, once the cause is fixed",
        "CloudFormation DescribeStacks (the function and its DLQ), the DLQ's messages",
        "invokes the function with each original event (asynchronously, as SNS did), deletes each message",
    ),
}


def description(name: str) -> str:
    command = COMMANDS[name]
    return f"{command.summary[0].upper()}{command.summary[1:]}.\n\nReads: {command.reads}.\nWrites: {command.writes}."


def usage() -> str:
    lines = [f"usage: {PROG} COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", f"{PROG} COMMAND --help: what it reads and whether it writes.", "exit: 0 done, 1 failed, 2 usage"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else USAGE_ERROR
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"{PROG}: no command {name!r}\n\n{usage()}", file=sys.stderr)
        return USAGE_ERROR
    tool = importlib.import_module(COMMANDS[name].module)
    try:
        return int(tool.main(rest, prog=f"{PROG} {name}", description=description(name)))
    except SystemExit as exit_:  # argparse: --help is 0, a usage error is 2
        return exit_.code if isinstance(exit_.code, int) else USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
