"""Approve a waiting change: invoke the deployed approval handler with your own identity.

    python tools/approve.py DECISION_ID [--stack-name printapp-remediation] [--function NAME]

DECISION_ID is the `decisionId` of the `Approval Requested` event (it is also in its reason).
The approver is who you are to AWS (STS GetCallerIdentity's ARN): who may approve is who may
invoke the approval handler. The function is found in the stack's outputs
(`ApprovalHandlerFunctionName`) unless `--function` names it. It talks to AWS_ENDPOINT_URL when
that is set (the local AWS of `make local-up`/`make demo`), else to the account of your
credentials.

Reads: STS GetCallerIdentity, CloudFormation DescribeStacks. Writes: through the approval
handler only (it re-checks the plan, then applies it once).

Output: the handler's decisions as JSON; exit 0 when the approval was decided (applied, or
skipped and why), 1 when the handler failed (see its error and the audit trail), 2 when it
could not be invoked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from stack import stack_outputs

DEFAULT_STACK = "printapp-remediation"
HANDLER_FAILED = 1
NOT_INVOKED = 2


def approval_function(cloudformation: Any, stack: str) -> str:
    name = stack_outputs(cloudformation, stack).get("ApprovalHandlerFunctionName")
    if name:
        return name
    raise LookupError(f"stack {stack} has no ApprovalHandlerFunctionName output: deploy the current template")


def approve(decision_id: str, *, function: str, lambda_client: Any, sts: Any) -> tuple[dict[str, Any], bool]:
    """Invoke the approval handler as the caller. Returns (its answer, whether it failed)."""
    approver = sts.get_caller_identity()["Arn"]
    response = lambda_client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps({"decisionId": decision_id, "approver": approver}).encode(),
    )
    answer = json.loads(response["Payload"].read() or b"null")
    return answer, bool(response.get("FunctionError"))


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, description: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or __doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("decision_id", help="the decisionId of the Approval Requested event")
    parser.add_argument("--stack-name", default=DEFAULT_STACK)
    parser.add_argument("--function", help="the approval handler's name (default: from the stack's outputs)")
    args = parser.parse_args(argv)
    try:
        function = args.function or approval_function(boto3.client("cloudformation"), args.stack_name)
        answer, failed = approve(
            args.decision_id, function=function, lambda_client=boto3.client("lambda"), sts=boto3.client("sts")
        )
    except (BotoCoreError, ClientError, LookupError) as error:
        print(f"approve: {error}", file=sys.stderr)
        return NOT_INVOKED
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return HANDLER_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
