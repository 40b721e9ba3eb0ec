"""`make redrive FUNCTION=<logical id or name>`: hand a function's dead letters back to it.

    python tools/redrive.py SpikeHandlerFunction [--stack-name printapp-remediation]

A handler's DLQ (a Lambda on-failure destination) keeps each alarm it could not handle after
Lambda's retries, with the original event as `requestPayload`. Once the cause is fixed, this
invokes the function again with each of those events (asynchronously, as SNS did: Lambda's
retries and the DLQ apply again) and deletes the message. A redriven alarm is the same alarm
state change: what an earlier attempt applied is not repeated.

The function and its queue come from the stack's outputs (`<Logical>Name`,
`<Logical>DeadLetterQueueUrl`); a function name works too. Reads and deletes DLQ messages;
invokes the function. Exit 0 with the count redriven, 2 when the stack or queue is not found.
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


def locate(cloudformation: Any, stack: str, function: str) -> tuple[str, str]:
    """(the function's name, its DLQ's URL) from the stack's outputs."""
    outputs = stack_outputs(cloudformation, stack)
    logical = function.removesuffix("Function")
    if f"{logical}FunctionName" not in outputs:
        named = [key.removesuffix("FunctionName") for key, value in outputs.items() if value == function]
        logical = named[0] if named else logical
    name, queue = outputs.get(f"{logical}FunctionName"), outputs.get(f"{logical}DeadLetterQueueUrl")
    if not name or not queue:
        raise LookupError(f"stack {stack} has no function {function!r} with a DLQ in its outputs")
    return name, queue


def redrive(sqs: Any, lambda_client: Any, *, queue_url: str, function: str) -> int:
    """Invoke `function` with every dead letter's original event; delete each one handed back."""
    count = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            return count
        for message in messages:
            payload = json.loads(message["Body"])["requestPayload"]
            lambda_client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode())
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            count += 1


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, description: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=description or __doc__.splitlines()[0],
    )
    parser.add_argument("function", help="e.g. DbCpuHandlerFunction, or the function's name")
    parser.add_argument("--stack-name", default=DEFAULT_STACK)
    args = parser.parse_args(argv)
    try:
        function, queue = locate(boto3.client("cloudformation"), args.stack_name, args.function)
        count = redrive(boto3.client("sqs"), boto3.client("lambda"), queue_url=queue, function=function)
    except (BotoCoreError, ClientError, LookupError) as error:
        print(f"redrive: {error}", file=sys.stderr)
        return 2
    print(f"{count} dead letter(s) handed back to {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
