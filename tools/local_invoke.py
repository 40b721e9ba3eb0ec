"""Invoke one function of template.yaml on an event file, in this Python process: no Docker.

    python tools/local_invoke.py SpikeHandlerFunction events/latency-warning.json \\
        [--parameter-overrides DryRun=true ...] [--env-vars env.json] \\
        [--stack-name printapp-remediation] [--region us-east-1] [--account-id 123456789012]

`sam local invoke` runs the function in a Lambda container, which needs Docker. This does what
matters for trying an event, from the same template.yaml: the function's CodeUri and Handler,
`Globals.Function` merged in (Runtime, Timeout, MemorySize, Layers, Environment), each layer's
source folder on sys.path (as Lambda puts /opt/python), the environment with its intrinsics
resolved (parameter defaults, `--parameter-overrides`, then `--env-vars`), and a Lambda-like
context. The handler talks to AWS_ENDPOINT_URL when it is set (a local emulator), else to the
account of your credentials: it acts for real there, unless DryRun=true.

Differences from a Lambda container, on purpose: it runs on this Python (not necessarily the
function's Runtime), with the layers' requirements taken from this environment (`make` installs
them in .venv), and the shell's variables stay visible next to the function's.

Output: the handler's result as JSON on stdout (its logs and metrics go to stderr), exit 0. A
handler that raises gives the Lambda-style error on stdout, the traceback on stderr, exit 1.
A problem before the handler runs (unknown function, unreadable event, ...) is exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cfn_template import Resolver, Stack, TemplateError, function_properties, load_template, parameter_values

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
USAGE_ERROR = 2  # like argparse: the invocation never started
HANDLER_ERROR = 1  # like a Lambda invocation with a FunctionError


class SetupError(Exception):
    """Something to fix before the handler can run; the message says what."""


# --------------------------------------------------------------------------- the function, from the template


@dataclass(frozen=True)
class LocalFunction:
    logical_id: str
    name: str
    runtime: str
    code_dir: Path
    module: str  # "app" for Handler "app.lambda_handler"
    function: str  # "lambda_handler"
    timeout_seconds: int
    memory_mb: int
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    log_group: str


def _layer_dirs(template: Mapping[str, Any], layers: Sequence[Any]) -> tuple[Path, ...]:
    """The source folder of each layer of this template; a layer from elsewhere cannot be loaded."""
    dirs = []
    for layer in layers:
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        resource = template.get("Resources", {}).get(logical_id, {})
        content = resource.get("Properties", {}).get("ContentUri")
        if resource.get("Type") != "AWS::Serverless::LayerVersion" or not isinstance(content, str):
            # `sam local` downloads such a layer; here its code must already be importable.
            print(f"invoke: layer {layer} is not a local layer of the template; not loaded", file=sys.stderr)
            continue
        dirs.append(TEMPLATE.parent / content)
    return tuple(dirs)


def _text(value: Any) -> str:
    """Lambda environment values are strings: YAML's 5 and true arrive as "5" and "true"."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        raise SetupError(f"environment value {value!r} does not resolve to text")
    return str(value)


def _environment(
    logical_id: str, name: str, declared: Mapping[str, Any], env_vars: Mapping[str, Any]
) -> dict[str, str]:
    """The template's variables, then `--env-vars` (sam's rules: "Parameters" for all, then per function).

    Like `sam local invoke`, the file only overrides variables the template declares.
    """
    overrides = dict(env_vars.get("Parameters", {}))
    overrides.update(env_vars.get(logical_id) or env_vars.get(name) or {})
    ignored = sorted(set(overrides) - set(declared))
    if ignored:
        print(f"invoke: --env-vars: not declared by {logical_id}, ignored: {', '.join(ignored)}", file=sys.stderr)
    return {key: _text(overrides.get(key, value)) for key, value in declared.items()}


def declared_environment(properties: Mapping[str, Any], resolver: Resolver) -> tuple[dict[str, Any], set[str]]:
    """The function's variables, each resolved on its own: one that only a deployment knows (a
    generated role ARN) is left empty, and named, instead of failing the whole invocation."""
    declared: dict[str, Any] = {}
    deployed_only: set[str] = set()
    for key, value in properties.get("Environment", {}).get("Variables", {}).items():
        try:
            declared[key] = resolver.resolve(value)
        except TemplateError:
            declared[key] = ""
            deployed_only.add(key)
    return declared, deployed_only


def local_function(
    template: Mapping[str, Any], logical_id: str, resolver: Resolver, env_vars: Mapping[str, Any]
) -> LocalFunction:
    properties = function_properties(template, logical_id)
    layers = properties.pop("Layers", [])
    # Only what running it needs is resolved: Policies, Events... may name things only a deployment knows.
    wanted = ("FunctionName", "Runtime", "CodeUri", "Handler", "Timeout", "MemorySize", "LoggingConfig")
    resolved = resolver.resolve({key: properties[key] for key in wanted if key in properties})
    declared, deployed_only = declared_environment(properties, resolver)
    # Without a FunctionName, CloudFormation names it stack-LogicalId-RANDOM; the random part is unknowable.
    name = resolved.get("FunctionName") or f"{resolver.stack.name}-{logical_id}"
    runtime = resolved.get("Runtime", "")
    if not runtime.startswith("python"):
        raise SetupError(f"{logical_id} runs {runtime or 'no runtime'}; this invoker runs Python handlers only")
    code_uri, handler = resolved.get("CodeUri"), resolved.get("Handler", "")
    if not isinstance(code_uri, str) or "." not in handler:
        raise SetupError(f"{logical_id} needs a local CodeUri and a Handler like app.lambda_handler")
    module, function = handler.rsplit(".", 1)
    unset = sorted(deployed_only - set(env_vars.get("Parameters", {})) - set(env_vars.get(logical_id) or {}))
    if unset:
        print(
            f"invoke: known only once the stack is deployed, left empty (set them with --env-vars): {', '.join(unset)}",
            file=sys.stderr,
        )
    return LocalFunction(
        logical_id=logical_id,
        name=name,
        runtime=runtime,
        code_dir=TEMPLATE.parent / code_uri,
        module=module,
        function=function,
        # Lambda's defaults when neither the function nor Globals says.
        timeout_seconds=int(resolved.get("Timeout", 3)),
        memory_mb=int(resolved.get("MemorySize", 128)),
        layer_dirs=_layer_dirs(template, layers),
        environment=_environment(logical_id, name, declared, env_vars),
        log_group=resolved.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{name}",
    )


# --------------------------------------------------------------------------- what Lambda hands the handler


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    # A string, as the Python runtime gives it (it reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
    memory_limit_in_mb: str
    log_group_name: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = field(default_factory=lambda: f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}")
    client_context: Any = None
    identity: Any = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @classmethod
    def of(cls, function: LocalFunction, stack: Stack) -> LambdaContext:
        arn = f"arn:{stack.partition}:lambda:{stack.region}:{stack.account_id}:function:{function.name}"
        return cls(function.name, arn, str(function.memory_mb), function.log_group, function.timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_environment(function: LocalFunction, context: LambdaContext, region: str) -> dict[str, str]:
    """The variables Lambda sets itself (reserved: a template cannot set them), then the function's."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "_HANDLER": f"{function.module}.{function.function}",
        **function.environment,
    }


def load_handler(function: LocalFunction) -> Callable[[Any, Any], Any]:
    # Lambda's sys.path: the code (/var/task) first, then /opt/python, where a later layer's files
    # overwrite an earlier one's: so the last layer is searched first.
    for path in (*function.layer_dirs, function.code_dir):
        sys.path.insert(0, str(path))
    source = function.code_dir / (function.module.replace(".", "/") + ".py")
    if not source.is_file():
        raise SetupError(f"{function.logical_id}: handler module {source.relative_to(ROOT)} not found")
    # Every handler file is app.py: a name of its own keeps it apart from any other `app` module.
    module_name = f"_invoked_{function.logical_id}_{function.module.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, function.function, None)
    if not callable(handler):
        raise AttributeError(f"{source.relative_to(ROOT)} has no function {function.function}")
    return handler  # type: ignore[no-any-return]


class TaskTimedOut(Exception):
    pass


@contextlib.contextmanager
def lambda_timeout(seconds: float) -> Iterator[None]:
    """Stop the handler when its Timeout is up, as Lambda does (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(*_: Any) -> None:
        raise TaskTimedOut(f"Task timed out after {seconds:.2f} seconds")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- inputs


def _overrides(items: Sequence[str]) -> dict[str, str]:
    """`K=V` pairs, or sam's `ParameterKey=K,ParameterValue=V` form; quoted groups are split."""
    overrides = {}
    for item in (word for given in items for word in shlex.split(given)):
        if item.startswith("ParameterKey="):
            parts = dict(part.split("=", 1) for part in item.split(",", 1))
            key, value = parts.get("ParameterKey", ""), parts.get("ParameterValue")
        else:
            key, _, value = item.partition("=")
            value = value if "=" in item else None
        if not key or value is None:
            raise SetupError(f"--parameter-overrides: {item!r} is not KEY=VALUE")
        overrides[key] = value
    return overrides


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise SetupError(f"cannot read the {what} {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise SetupError(f"the {what} {path} is not JSON: {error}") from error


def _env_vars(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    env_vars = _read_json(path, "--env-vars file")
    if not isinstance(env_vars, dict) or not all(isinstance(v, dict) for v in env_vars.values()):
        raise SetupError(
            f'{path}: expected {{"FunctionLogicalId": {{"VAR": "value"}}, "Parameters": {{"VAR": "value"}}}}'
        )
    return env_vars


def _region(given: str | None) -> str:
    region = given or os.environ.get("AWS_REGION") or boto3.session.Session().region_name  # env, then profile
    if not region:
        raise SetupError("no AWS region: pass --region, or set AWS_REGION")
    return region


def _account_id(given: str | None, region: str) -> str:
    """The account the function runs in: it is part of its ARN, which the trust boundary reads."""
    if given:
        return given
    # Fail fast: a wrong endpoint should not hang the command for minutes.
    sts = boto3.client("sts", region_name=region, config=Config(connect_timeout=5, retries={"max_attempts": 2}))
    try:
        return str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:
        where = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        raise SetupError(
            f"cannot tell the AWS account (STS GetCallerIdentity against {where} failed: {error}). "
            "Pass --account-id 123456789012, or set AWS_ENDPOINT_URL to a local emulator / use valid credentials."
        ) from error


def parse_args(
    argv: Sequence[str] | None, *, prog: str | None = None, description: str | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog or "tools/local_invoke.py",
        description=description or "Invoke a function of template.yaml on an event file, in-process (no Docker).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION_LOGICAL_ID", help="e.g. SpikeHandlerFunction")
    parser.add_argument("event", metavar="EVENT_FILE", type=Path, help="e.g. events/latency-warning.json")
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as for sam (e.g. DryRun=true CooldownSeconds=60)",
    )
    parser.add_argument(
        "--env-vars", type=Path, help='JSON as for `sam local invoke --env-vars`: {"LogicalId": {"VAR": "v"}}'
    )
    parser.add_argument("--stack-name", default="printapp-remediation", help="AWS::StackName (default: %(default)s)")
    parser.add_argument("--region", help="AWS::Region (default: AWS_REGION / your profile)")
    parser.add_argument("--account-id", help="AWS::AccountId (default: asked from STS GetCallerIdentity)")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- main


def _lambda_error(error: BaseException) -> dict[str, Any]:
    """What Lambda returns for a function error."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, description: str | None = None) -> int:
    args = parse_args(argv, prog=prog, description=description)
    try:
        template = load_template(TEMPLATE)
        overrides = _overrides(args.parameter_overrides)
        function_properties(template, args.function)  # an unknown function fails before any AWS call
        parameter_values(template, overrides)  # so does a bad override
        event = _read_json(args.event, "event file")
        env_vars = _env_vars(args.env_vars)
        region = _region(args.region)
        stack = Stack(name=args.stack_name, region=region, account_id=_account_id(args.account_id, region))
        function = local_function(template, args.function, Resolver(template, stack, overrides), env_vars)
    except (SetupError, TemplateError) as error:
        print(f"invoke: {error}", file=sys.stderr)
        return USAGE_ERROR

    if not function.runtime.endswith(f"{sys.version_info.major}.{sys.version_info.minor}"):
        print(f"invoke: note: {function.runtime} function, run on Python {sys.version.split()[0]}", file=sys.stderr)
    context = LambdaContext.of(function, stack)
    os.environ.update(lambda_environment(function, context, region))
    try:
        # Like Lambda: the handler's logs and metrics are a stream of their own, the result is the answer.
        with contextlib.redirect_stdout(sys.stderr):
            handler = load_handler(function)
            with lambda_timeout(function.timeout_seconds):
                result = handler(event, context)
    except SetupError as error:
        print(f"invoke: {error}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as error:
        traceback.print_exc()
        print(f"invoke: {function.logical_id} failed: {type(error).__name__}: {error}", file=sys.stderr)
        print(json.dumps(_lambda_error(error), indent=2))
        return HANDLER_ERROR
    print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
