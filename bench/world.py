"""The benchmark's world: the template's environment, and moto with the app's stand-ins.

Everything that measures against AWS runs in-process against moto (`mock_aws`), with the
stand-ins the tests use (`tests/support/app.py`): the app's function, REST API and stage,
database, this project's state table and audit bus (captured by an SQS queue).
"""

# ruff: noqa: PLC0415  (the layer, tests/ and tools/ are importable only once world.py put them on sys.path)

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "remediation"
for _path in (LAYER, ROOT / "tests", ROOT / "tools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# These imports need the paths above.
# moto before any boto3 session is made (tests/support/app.py makes one on import): only sessions
# made after moto is imported get its stubber.
import moto  # noqa: E402, F401
from botocore.awsrequest import AWSResponse  # noqa: E402

STACK = "printapp-remediation"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
#: The logical id of each handler's function in template.yaml.
FUNCTIONS = {
    "spike_handler": "SpikeHandlerFunction",
    "scale_down_handler": "ScaleDownHandlerFunction",
    "db_cpu_handler": "DbCpuHandlerFunction",
    "error_rate_triager": "ErrorRateTriagerFunction",
}
#: What the variables of the template name that moto's stand-ins replace.
STANDIN_VARIABLES = ("AUDIT_BUS_NAME", "STATE_TABLE_NAME", "TARGET_REST_API_ID")
#: Credentials and region for moto: never a real account.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def template_environment(handler: str) -> dict[str, str]:
    """The environment Lambda gives `handler`'s function: the template's variables and Lambda's own."""
    from cfn_template import Resolver, Stack, load_template
    from local_invoke import TEMPLATE, LambdaContext, lambda_environment, local_function

    template = load_template(TEMPLATE)
    stack = Stack(name=STACK, region=REGION, account_id=ACCOUNT_ID)
    function = local_function(template, FUNCTIONS[handler], Resolver(template, stack), {})
    return lambda_environment(function, LambdaContext.of(function, stack), REGION)


def handler_overrides(handler: str) -> dict[str, str]:
    """The template's variables for `handler`, less those moto's stand-ins provide (for App.settings)."""
    environment = template_environment(handler)
    settings_variables = _settings_aliases()
    return {
        key: value
        for key, value in environment.items()
        if key in settings_variables and key not in STANDIN_VARIABLES and value != ""
    }


def _settings_aliases() -> set[str]:
    from msgspec.structs import fields

    from remediation.settings import Settings

    return {field.encode_name for field in fields(Settings)}


@contextmanager
def patched_environ(values: Mapping[str, str], *, remove: tuple[str, ...] = ()) -> Iterator[None]:
    saved = dict(os.environ)
    for key in remove:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _reserved_total() -> int:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[ACCOUNT_ID][REGION]
    return sum(int(function.reserved_concurrency or 0) for function in backend.list_functions())


class _Body:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


def answer_get_account_settings(lambda_client: Any, *, account_limit: int = 1000) -> None:
    """moto has no GetAccountSettings: answer it from moto's own Lambda state, as one real API call.

    Registered last on `before-call`, so call recorders (registered earlier) count it like any
    other call, and it costs no hidden extra calls (unlike tests/support's wrapper, which lists
    functions and reads each one's concurrency through the same client).
    """

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {
            "AccountLimit": {
                "ConcurrentExecutions": account_limit,
                "UnreservedConcurrentExecutions": account_limit - _reserved_total(),
            },
            "AccountUsage": {"FunctionCount": 1},
            "ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0},
        }
        return AWSResponse("https://lambda.invalid/", 200, {}, _Body()), parsed

    lambda_client.meta.events.register_last("before-call.lambda.GetAccountSettings", answer)


@contextmanager
def moto_world() -> Iterator[Any]:
    """moto with the app's stand-ins (tests/support App) and the template's kill-switch parameter."""
    from moto import mock_aws

    from remediation.clients import default_clients
    from remediation.settings import current_settings

    with patched_environ(
        {**FAKE_AWS, "POWERTOOLS_TRACE_DISABLED": "true"},
        remove=("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"),
    ):
        current_settings.cache_clear()
        default_clients.cache_clear()
        with mock_aws():
            from support.app import App

            app = App()
            kill_switch = template_environment("spike_handler").get("KILL_SWITCH_PARAMETER")
            if kill_switch:
                app.ssm.put_parameter(Name=kill_switch, Value="true", Type="String")
            try:
                yield app
            finally:
                current_settings.cache_clear()
                default_clients.cache_clear()
