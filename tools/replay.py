"""What would it have done? An alarm history run through the real handlers, read-only (SPEC §10).

    printapp-remediation replay --history history.json --alarms alarms.json [--set NAME=VALUE ...]
    printapp-remediation replay --since 2026-11-18T00:00 [--until ...]        (from the account)

Two phases, so that read-only is true by construction:
1. Read (the account or emulator boto3 points at, through clients that refuse anything but
   Describe/Get/List): the alarm history (`DescribeAlarmHistory`, StateUpdate items, paginated)
   and the alarms' configuration (`DescribeAlarms`), unless files give them (the AWS CLI's JSON
   output of `describe-alarm-history` and `describe-alarms`); the deployed stack's functions'
   environments (today's settings) and its alarm topic; and the targets' starting configuration
   (reserved concurrency, account concurrency, stage cache, DB instance).
2. Simulate, in an in-process moto world seeded with what was read: every state change CloudWatch
   notified the alarm topic of, in time order, rebuilt as the SNS notification CloudWatch sends,
   delivered to each handler whose template filter policy matches, through the real decision
   logic with that handler's settings, on a virtual clock set to the change's time. State (the
   state table, the audit bus, schedules) and effects (a raise is seen by the decisions after it)
   are the simulation's: cooldowns, hysteresis, only-raise, scale-down restores, the storm breaker
   play out, and each applied raise's check fires at its time. Historical metrics are the one
   thing read during the simulation: GetMetricData goes to the account (read-only) for the window
   a handler asks about; without an account, the decisions that needed them say `metricsMissing`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cfn_template import load_template
from stack import stack_outputs

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
USAGE_ERROR, FAILED = 2, 1
#: At most this far back, as SPEC §10 says (CloudWatch keeps 14 days of alarm history).
MAX_DAYS = 14
READ_VERBS = ("Describe", "Get", "List")
_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "eu-west-1": "Europe (Ireland)"}


class ReplayError(Exception):
    """The replay cannot start: a bad file, a window too long, an account it cannot read."""


# --------------------------------------------------------------------------- phase 1: read


class ReadOnly:
    """Registered on every client of phase 1: an operation that is not a read never leaves."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        name: str = model.name
        if not name.startswith(READ_VERBS):
            raise ReplayError(f"replay is read-only: it refused to call {name}")
        self.calls.append(name)


def read_only_clients(
    session: boto3.Session | None = None, *, factory: Callable[[str], Any] | None = None
) -> tuple[Callable[[str], Any], ReadOnly]:
    """`client(service)`: clients of the session (or made by `factory`, each a client of its own)
    that refuse any call but a read."""
    guard = ReadOnly()
    make: Callable[[str], Any] = factory or (session or boto3.Session()).client  # type: ignore[assignment]
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = make(service)
            made[service].meta.events.register("before-call.*.*", guard)
        return made[service]

    return client, guard


@dataclass(frozen=True)
class StateChange:
    time: datetime
    alarm: Mapping[str, Any]
    old: str
    new: str
    reason: str


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ReplayError(f"cannot read {what} {path}: {error}") from error


def _when(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state_changes(
    history: Mapping[str, Any], alarms: Mapping[str, Any], topics: Sequence[str] = ()
) -> tuple[list[StateChange], list[str]]:
    """The state changes CloudWatch notified the remediation topic of, oldest first; and what was
    left out, and why. A change notifies only when the alarm's actions are enabled and it has an
    SNS action for the new state: on one of `topics` (the deployed alarm topic), or on any topic
    when the topic is not known."""
    configured = {alarm["AlarmName"]: alarm for alarm in alarms.get("MetricAlarms", [])}
    changes: list[StateChange] = []
    left_out: list[str] = []
    silent: Counter[tuple[str, str]] = Counter()
    for item in history.get("AlarmHistoryItems", []):
        if item.get("HistoryItemType") != "StateUpdate":
            continue
        alarm = configured.get(item.get("AlarmName", ""))
        if alarm is None:
            left_out.append(f"{item.get('AlarmName')}: not in the alarms' configuration (composite, or deleted)")
            continue
        data = json.loads(item.get("HistoryData") or "{}")
        new, old = data.get("newState", {}), data.get("oldState", {})
        change = StateChange(
            _when(item["Timestamp"]),
            alarm,
            old.get("stateValue", "INSUFFICIENT_DATA"),
            new.get("stateValue", ""),
            new.get("stateReason") or item.get("HistorySummary", ""),
        )
        if change.old == change.new:
            silent[(alarm["AlarmName"], f"{change.new} → {change.new} is no change, nothing is sent")] += 1
        elif not alarm.get("ActionsEnabled", True):
            silent[(alarm["AlarmName"], "its actions are disabled")] += 1
        elif topic_of(alarm, change.new, topics) is None:
            silent[(alarm["AlarmName"], f"no action for {change.new} on the alarm topic")] += 1
        else:
            changes.append(change)
    left_out += [f"{name}: {count} state change(s) not notified: {why}" for (name, why), count in silent.items()]
    return sorted(changes, key=lambda change: change.time), left_out


def topic_of(alarm: Mapping[str, Any], state: str, topics: Sequence[str] = ()) -> str | None:
    """The SNS topic CloudWatch notifies of this alarm entering `state`, if any of ours."""
    actions = alarm.get({"ALARM": "AlarmActions", "OK": "OKActions"}.get(state, "InsufficientDataActions")) or []
    return next(
        (arn for arn in actions if arn.startswith("arn:aws:sns:") and (not topics or arn in topics)),
        None,
    )


def read_account_history(
    client: Callable[[str], Any], since: datetime, until: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    cloudwatch = client("cloudwatch")
    items = [
        item
        for page in cloudwatch.get_paginator("describe_alarm_history").paginate(
            HistoryItemType="StateUpdate", StartDate=since, EndDate=until, ScanBy="TimestampAscending"
        )
        for item in page.get("AlarmHistoryItems", [])
    ]
    alarms = [
        alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        for alarm in page.get("MetricAlarms", [])
    ]
    return {"AlarmHistoryItems": items}, {"MetricAlarms": alarms}


@dataclass
class Start:
    """The targets' configuration when the history begins, as read from the account."""

    reserved_concurrency: int | None = 100
    account_concurrency: int = 1000
    cache_enabled: bool = False
    cache_size: str | None = None
    instance_class: str = "db.r5.large"
    read_replicas: list[str] = field(default_factory=list)
    source: str = "the runbook's everyday values"


def read_start(client: Callable[[str], Any], settings: Mapping[str, str]) -> Start:
    """Read-only: what the targets are now (the closest known to the history's start)."""
    function = settings.get("TARGET_FUNCTION_NAME", "printapp-api")
    start = Start(source="read from the account (now)")
    start.reserved_concurrency = (
        client("lambda").get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
    )
    try:
        start.account_concurrency = client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    except ClientError as error:  # an emulator without it: AWS's default limit, said in the source
        start.source += f"; account concurrency not read ({error.response.get('Error', {}).get('Code')}): 1000 assumed"
    apigateway = client("apigateway")
    name, stage_name = settings.get("TARGET_API_NAME", "printapp-api"), settings.get("TARGET_API_STAGE", "prod")
    api_id = settings.get("TARGET_REST_API_ID") or next(
        (
            api["id"]
            for page in apigateway.get_paginator("get_rest_apis").paginate()
            for api in page["items"]
            if api.get("name") == name
        ),
        None,
    )
    if api_id:
        stage = apigateway.get_stage(restApiId=api_id, stageName=stage_name)
        start.cache_enabled = bool(stage.get("cacheClusterEnabled"))
        start.cache_size = str(stage.get("cacheClusterSize")) if start.cache_enabled else None
    instance = client("rds").describe_db_instances(
        DBInstanceIdentifier=settings.get("TARGET_DB_INSTANCE_ID", "printapp-db")
    )["DBInstances"][0]
    start.instance_class = instance["DBInstanceClass"]
    start.read_replicas = sorted(instance.get("ReadReplicaDBInstanceIdentifiers", []))
    return start


@dataclass
class Deployed:
    """The deployed stack: each handler's environment (today's settings) and the alarm topic."""

    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    source: str = "the settings' defaults (no deployed stack read)"


def handler_functions(template: Mapping[str, Any]) -> dict[str, str]:
    """The template's function logical ids → their handler directory (functions/<handler>/)."""
    return {
        logical_id: str(resource["Properties"].get("CodeUri", "")).rstrip("/").rsplit("/", 1)[-1]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def read_deployed(client: Callable[[str], Any], stack: str) -> Deployed:
    """Read-only: the stack's functions' environments (GetFunctionConfiguration) and its alarm topic."""
    cloudformation = client("cloudformation")
    try:
        outputs = stack_outputs(cloudformation, stack)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        return Deployed(source=f"the settings' defaults (stack {stack} not read: {code})")
    topics = tuple(value for key, value in outputs.items() if key == "AlarmTopicArn")
    handlers = handler_functions(load_template(TEMPLATE))
    environments: dict[str, dict[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page.get("StackResourceSummaries", []):
            handler = handlers.get(resource["LogicalResourceId"])
            if handler and resource["ResourceType"] == "AWS::Lambda::Function":
                configuration = client("lambda").get_function_configuration(FunctionName=resource["PhysicalResourceId"])
                environments[handler] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return Deployed(environments, topics, f"deployed stack {stack} (the settings of {len(environments)} functions)")


def read_deployment(
    client: Callable[[str], Any], stack: str, overrides: Mapping[str, str] | None = None
) -> tuple[Deployed, Start]:
    """The deployed stack, and the targets' configuration under its (or the overrides') names."""
    deployed = read_deployed(client, stack)
    return deployed, read_start(client, {**deployed.environments.get("spike_handler", {}), **(overrides or {})})


# --------------------------------------------------------------------------- notifications and routing


def _dimensions(dimensions: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in dimensions]


def _trigger(alarm: Mapping[str, Any]) -> dict[str, Any]:
    common = {
        "EvaluationPeriods": alarm.get("EvaluationPeriods", 1),
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm.get("EvaluationPeriods", 1)),
        "ComparisonOperator": alarm.get("ComparisonOperator"),
        "Threshold": alarm.get("Threshold"),
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile", ""),
    }
    if alarm.get("Metrics"):
        metrics = []
        for query in alarm["Metrics"]:
            shown: dict[str, Any] = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
            for key in ("Expression", "Label", "Period"):
                if key in query:
                    shown[key] = query[key]
            if "MetricStat" in query:
                stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
                shown["MetricStat"] = {
                    "Metric": {
                        "Dimensions": _dimensions(metric.get("Dimensions", [])),
                        "MetricName": metric["MetricName"],
                        "Namespace": metric["Namespace"],
                    },
                    "Period": stat["Period"],
                    "Stat": stat["Stat"],
                }
            metrics.append(shown)
        return {"Metrics": metrics, **common}
    statistic = alarm.get("Statistic")
    return {
        "MetricName": alarm["MetricName"],
        "Namespace": alarm["Namespace"],
        "StatisticType": "Statistic" if statistic else "ExtendedStatistic",
        "Statistic": statistic.upper() if statistic else None,
        "ExtendedStatistic": alarm.get("ExtendedStatistic"),
        "Unit": alarm.get("Unit"),
        "Dimensions": _dimensions(alarm.get("Dimensions", [])),
        "Period": alarm.get("Period"),
        **common,
    }


def _cloudwatch_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def notification(change: StateChange) -> dict[str, Any]:
    """The SNS event a Lambda subscriber gets for this state change, as CloudWatch writes it."""
    alarm = change.alarm
    arn = alarm["AlarmArn"]
    _, _, _, region, account, _ = arn.split(":", 5)
    topic = topic_of(alarm, change.new) or f"arn:aws:sns:{region}:{account}:replay"
    message = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _cloudwatch_time(
            _when(alarm.get("AlarmConfigurationUpdatedTimestamp", change.time))
        ),
        "NewStateValue": change.new,
        "NewStateReason": change.reason,
        "StateChangeTime": _cloudwatch_time(change.time),
        "Region": _REGION_NAMES.get(region, region),
        "AlarmArn": arn,
        "OldStateValue": change.old,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": _trigger(alarm),
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, topic)}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}/{message['StateChangeTime']}")),
                    "TopicArn": topic,
                    "Subject": f'{change.new}: "{alarm["AlarmName"]}" in {message["Region"]}'[:100],
                    "Message": json.dumps(message),
                    "Timestamp": change.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    # Not signed: the handlers never verify SNS signatures (Lambda's SNS trigger did).
                    "SignatureVersion": "1",
                    "Signature": "REPLAY",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-replay.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def filter_policies(template: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Handler directory → the filter policies of its SNS subscriptions, from template.yaml."""
    routes: dict[str, list[Mapping[str, Any]]] = {}
    resources = template.get("Resources", {})
    for logical_id, handler in handler_functions(template).items():
        for event in (resources[logical_id]["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SNS" and "FilterPolicy" in event.get("Properties", {}):
                routes.setdefault(handler, []).append(event["Properties"]["FilterPolicy"])
    return routes


def matches(policy: Mapping[str, Any], message: Any) -> bool:
    """SNS message-body filtering, for what the template's policies use: exact values, nesting
    (into objects and arrays of objects), `$or`."""
    for key, rule in policy.items():
        if key == "$or":
            if not any(matches(branch, message) for branch in rule):
                return False
            continue
        value = message.get(key) if isinstance(message, dict) else None
        candidates = value if isinstance(value, list) else [value]
        if isinstance(rule, dict):
            if not any(isinstance(candidate, dict) and matches(rule, candidate) for candidate in candidates):
                return False
        elif not any(candidate in rule for candidate in candidates if candidate is not None):
            return False
    return True


# --------------------------------------------------------------------------- phase 2: simulate


@dataclass
class VirtualClock:
    now: float

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class _Context:
    invoked_function_arn: str
    function_name: str = "replay"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "replay"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/replay"
    log_stream_name: str = "replay"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _runbooks() -> dict[str, Any]:
    from remediation.runbooks.db_cpu import DbCpuRunbook  # noqa: PLC0415  (after the layer is importable)
    from remediation.runbooks.error_rate import ErrorRateTriageRunbook  # noqa: PLC0415
    from remediation.runbooks.scale_down import ScaleDownRunbook  # noqa: PLC0415
    from remediation.runbooks.spike import SpikeRunbook  # noqa: PLC0415

    return {
        "spike_handler": SpikeRunbook(),
        "scale_down_handler": ScaleDownRunbook(),
        "db_cpu_handler": DbCpuRunbook(),
        "error_rate_triager": ErrorRateTriageRunbook(),
    }


#: Every client of the simulation: moto in-process, never an endpoint from the environment or a
#: profile (AWS_ENDPOINT_URL would otherwise send the simulation's writes to a real service).
#: (botocore-stubs lag botocore: the option is real since botocore 1.31.)
SIMULATION = Config(ignore_configured_endpoint_urls=True, signature_version=UNSIGNED)  # type: ignore[call-arg]


@contextlib.contextmanager
def _away_from_every_endpoint() -> Iterator[None]:
    """No endpoint variable while the simulation runs (belt and braces with SIMULATION)."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("AWS_ENDPOINT_URL")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def _put_alarm(cloudwatch: Any, alarm: Mapping[str, Any]) -> None:
    keys = (
        "AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic",
        "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
        "Metrics", "Unit",
    )  # fmt: skip
    cloudwatch.put_metric_alarm(**{key: copy.deepcopy(alarm[key]) for key in keys if alarm.get(key) is not None})


@dataclass
class Replay:
    """One configuration's run over the history: the decisions, in time order."""

    decisions: list[dict[str, Any]]
    left_out: list[str]
    start: Start
    settings: dict[str, str]
    #: Where the settings came from (the deployed stack, or the defaults).
    source: str = "the settings' defaults"
    #: With record_state: after each state change, the app's capacity as the simulation has it.
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    change: StateChange
    state: dict[str, Any]


#: Settings cleared whatever the deployment says (its own table, bus, schedule group, verifier and
#: stand-in API come from `_World.environ`): the kill switch says whether automation is on now,
#: not then, and a replay asks what it would have done had it been on.
_SIMULATION_OWNS = ("KILL_SWITCH_PARAMETER",)


def simulate(
    changes: Sequence[StateChange],
    *,
    overrides: Mapping[str, str] | None = None,
    start: Start | None = None,
    left_out: Sequence[str] = (),
    deployed: Deployed | None = None,
    metrics_from: Any = None,
    until: datetime | None = None,
    record_state: bool = False,
) -> Replay:
    """The history through the real handlers, in a moto world of its own (nothing outside it is written).

    Each handler runs with its deployed settings (`deployed`), `overrides` on top. Historical
    metrics come from `metrics_from` (a read-only CloudWatch client of the account) for the
    window each decision asks about; without one, the decisions that needed them say so.
    Checks due after `until` (default: when the last one would run) are left out, not fired.
    """
    from moto import mock_aws  # noqa: PLC0415  (slow to import; only the simulation needs it)

    start, deployed, overrides = start or Start(), deployed or Deployed(), dict(overrides or {})
    replay = Replay([], list(left_out), start, overrides, deployed.source)
    if not changes:
        return replay
    with _away_from_every_endpoint(), mock_aws():
        simulation = _Simulation(changes, replay, deployed, metrics_from)
        for change in changes:
            simulation.fire_checks(change.time.timestamp())
            # A run record is read until its last check (an hour's margin); not after.
            simulation.world.expire(change.time.timestamp(), runs_needed_for=simulation.last_check_after + 3600)
            simulation.deliver(change)
            if record_state:
                replay.steps.append(Step(change, simulation.read_back()))
        simulation.finish(changes[-1], until)
    return replay


class _Simulation:
    """One configuration's world and handlers, on the virtual clock."""

    def __init__(self, changes: Sequence[StateChange], replay: Replay, deployed: Deployed, metrics_from: Any) -> None:
        from remediation.clients import RETRY_CONFIG, Clients  # noqa: PLC0415
        from standins import AccountSettingsLambda  # noqa: PLC0415

        self.replay = replay
        _, _, _, region, account, _ = changes[0].alarm["AlarmArn"].split(":", 5)
        self.runbooks, self.routes = _runbooks(), filter_policies(load_template(TEMPLATE))
        names = _settings_of(
            "spike_handler", deployed, replay.settings, {"AUDIT_BUS_NAME": "-", "STATE_TABLE_NAME": "-"}
        )
        session = boto3.Session(region_name=region, aws_access_key_id="replay", aws_secret_access_key="replay")

        def make(service: str) -> Any:
            return session.client(service, config=SIMULATION)  # type: ignore[call-overload]

        self.make = make
        self.world = world = _World(make, names, replay.start, region, account)
        world.put_alarms({change.alarm["AlarmName"]: change.alarm for change in changes}.values())
        self.settings = {
            handler: _settings_of(handler, deployed, replay.settings, world.environ())
            for handler in [*self.runbooks, "verifier"]
        }
        self.metric_reads = HistoricalMetrics(world.cloudwatch, metrics_from)
        self.clients = Clients(
            {
                # moto's Lambda lacks GetAccountSettings: the account's limit read in phase 1 stands in.
                "lambda": AccountSettingsLambda(make("lambda"), account_limit=replay.start.account_concurrency),
                "cloudwatch": self.metric_reads,
                "events": world.events,
                "scheduler": world.scheduler,
            },
            config=RETRY_CONFIG.merge(SIMULATION),
            session=session,
        )
        self.clock = VirtualClock(changes[0].time.timestamp())
        #: How long after a change its last check can come (every round at the longest delay).
        self.last_check_after = max(
            max(s.verify_after_seconds, s.db_verify_after_seconds) * s.verify_max_attempts
            for s in self.settings.values()
        )
        self.handler_context: Any = _Context(f"arn:aws:lambda:{region}:{account}:function:replay-handler")
        self.verifier_context: Any = _Context(self.settings["verifier"].verifier_function_arn)

    def _run(self, when: datetime, invoke: Callable[[], Any]) -> None:
        from remediation.audit import metrics  # noqa: PLC0415

        self.metric_reads.missing.clear()
        # A failure is audited as Remediation Failed (Lambda would retry it): the decisions say it.
        with contextlib.suppress(Exception):
            invoke()
        # Lambda flushes each invocation's metrics; Powertools prints a full set at 100 values,
        # disabled or not, which would land in the replay's own output.
        metrics.clear_metrics()
        for decision in self.world.decisions(when):
            if self.metric_reads.missing:
                decision["metricsMissing"] = "; ".join(sorted(set(self.metric_reads.missing)))
            self.replay.decisions.append(decision)

    def fire_checks(self, until: float) -> None:
        """Every check due by `until`, at its time, through the verifier."""
        from remediation.verifier import handle_verification  # noqa: PLC0415

        for at, schedule in self.world.due(until):
            self.clock.now = at
            event = json.loads(schedule["Target"]["Input"].replace("<aws.scheduler.schedule-arn>", schedule["Arn"]))
            self._run(
                datetime.fromtimestamp(at, UTC),
                lambda event=event: handle_verification(  # type: ignore[misc]
                    event,
                    self.verifier_context,
                    settings=self.settings["verifier"],
                    clients=self.clients,
                    clock=self.clock,
                    sleep=self.clock.sleep,
                ),
            )

    def deliver(self, change: StateChange) -> None:
        """The alarm in its new state; its notification to every handler whose policy matches."""
        from remediation.runner import handle  # noqa: PLC0415

        self.world.cloudwatch.set_alarm_state(
            AlarmName=change.alarm["AlarmName"], StateValue=change.new, StateReason=(change.reason or "replay")[:1023]
        )
        event = notification(change)
        message = json.loads(event["Records"][0]["Sns"]["Message"])
        for handler, policies in self.routes.items():
            if handler in self.runbooks and any(matches(policy, message) for policy in policies):
                self.clock.now = change.time.timestamp() + 1
                self._run(
                    change.time,
                    lambda handler=handler: handle(  # type: ignore[misc]
                        event,
                        self.handler_context,
                        self.runbooks[handler],
                        settings=self.settings[handler],
                        clients=self.clients,
                        clock=self.clock,
                        sleep=self.clock.sleep,
                    ),
                )

    def finish(self, last: StateChange, until: datetime | None) -> None:
        """The checks still to come: all of them, or those due by `until` (the rest are left out)."""
        if until is None:
            self.fire_checks(last.time.timestamp() + self.last_check_after + 60)
            return
        self.fire_checks(until.timestamp())
        self.replay.left_out += [
            f"{name}: check due {datetime.fromtimestamp(at, UTC):%Y-%m-%dT%H:%M:%S}Z, after the window"
            for name, at in sorted(self.world.pending.items(), key=lambda item: item[1])
        ]

    def read_back(self) -> dict[str, Any]:
        from standins import read_back  # noqa: PLC0415

        return read_back(self.make, self.world.standins)


def _settings_of(handler: str, deployed: Deployed, overrides: Mapping[str, str], owned: Mapping[str, str]) -> Any:
    """A handler's settings in the simulation: as deployed, the overrides on top, what the
    simulation owns last."""
    from remediation.errors import ConfigurationError  # noqa: PLC0415
    from remediation.settings import Settings  # noqa: PLC0415

    environ = {**deployed.environments.get(handler, {}), **overrides, **owned, **dict.fromkeys(_SIMULATION_OWNS, "")}
    try:
        return Settings.from_environ(environ)
    except ConfigurationError as error:
        raise ReplayError(f"{handler}: {error}") from error


class HistoricalMetrics:
    """The simulation's CloudWatch, except GetMetricData: that reads the account's history (the
    handlers ask for their window on the virtual clock, so they see what the metrics were then).
    Without an account, or when the account refuses, the answer is empty and `missing` says so."""

    def __init__(self, simulation: Any, account: Any = None) -> None:
        self.simulation, self.account = simulation, account
        self.missing: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.simulation, name)

    def get_metric_data(self, **request: Any) -> Any:
        wanted = ", ".join(_metric_names(request.get("MetricDataQueries", [])))
        if self.account is not None:
            try:
                return self.account.get_metric_data(**request)
            except (ClientError, BotoCoreError) as error:
                self.missing.append(f"GetMetricData for {wanted} failed on the account: {error}")
                raise
        self.missing.append(f"no account to read {wanted} from: decided as if there were no datapoints")
        return {
            "MetricDataResults": [
                {"Id": query["Id"], "Label": query["Id"], "Timestamps": [], "Values": [], "StatusCode": "Complete"}
                for query in request.get("MetricDataQueries", [])
            ],
            "Messages": [],
        }


def _metric_names(queries: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        query["MetricStat"]["Metric"]["MetricName"] if "MetricStat" in query else str(query.get("Expression"))
        for query in queries
    ]


class _World:
    """The simulation's AWS: the app's stand-ins at their starting values, the state table, the
    audit bus and the schedule group.

    The audit bus and the scheduler are moto clients whose calls stop at botocore's `before-call`
    (parameters validated as for AWS): PutEvents is captured in memory, CreateSchedule is kept in
    moto and indexed by its time, so that due checks are found without listing every schedule.
    """

    TABLE, BUS, GROUP = "replay-state", "replay-audit", "replay-verify"

    def __init__(self, client: Callable[[str], Any], names: Any, start: Start, region: str, account: str) -> None:
        """`names`: the settings whose TARGET_* names the app's stand-ins take."""
        from botocore.awsrequest import AWSResponse  # noqa: PLC0415

        from standins import create_standins  # noqa: PLC0415

        self.region, self.account = region, account
        self.standins = standins = create_standins(
            client,
            function_name=names.target_function_name,
            api_name=names.target_api_name,
            stage=names.target_api_stage,
            db_instance_id=names.target_db_instance_id,
        )
        self.cloudwatch: Any = client("cloudwatch")
        self.scheduler: Any = client("scheduler")
        self.events: Any = client("events")
        self.audited: list[dict[str, Any]] = []
        #: schedule name → when it fires (epoch seconds), while it exists
        self.pending: dict[str, float] = {}
        accepted = AWSResponse("https://replay.invalid", 200, {}, None)  # type: ignore[arg-type]

        sent: list[Mapping[str, Any]] = []

        def put(params: Mapping[str, Any], **_: Any) -> None:
            sent[:] = params["Entries"]

        def capture(**_: Any) -> tuple[Any, dict[str, Any]]:  # after botocore validated the request
            self.audited += [json.loads(entry["Detail"]) for entry in sent]
            return accepted, {"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())} for _ in sent]}

        def scheduled(params: Mapping[str, Any], **_: Any) -> None:
            fires = datetime.strptime(params["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
            self.pending[params["Name"]] = fires.timestamp()

        self.events.meta.events.register("before-parameter-build.eventbridge.PutEvents", put)
        self.events.meta.events.register("before-call.eventbridge.PutEvents", capture)
        self.scheduler.meta.events.register("before-parameter-build.scheduler.CreateSchedule", scheduled)
        lambda_, apigateway, rds = client("lambda"), client("apigateway"), client("rds")
        if start.reserved_concurrency is None:
            lambda_.delete_function_concurrency(FunctionName=standins.function_name)
        else:
            lambda_.put_function_concurrency(
                FunctionName=standins.function_name, ReservedConcurrentExecutions=start.reserved_concurrency
            )
        operations: list[Any] = [
            {"op": "replace", "path": "/cacheClusterEnabled", "value": str(start.cache_enabled).lower()}
        ]
        if start.cache_enabled and start.cache_size:
            operations.append({"op": "replace", "path": "/cacheClusterSize", "value": start.cache_size})
        apigateway.update_stage(restApiId=standins.rest_api_id, stageName=standins.stage, patchOperations=operations)
        rds.modify_db_instance(
            DBInstanceIdentifier=standins.db_instance_id, DBInstanceClass=start.instance_class, ApplyImmediately=True
        )
        self.dynamodb: Any = client("dynamodb")
        self._expired_at = 0.0
        self.dynamodb.create_table(
            TableName=self.TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.scheduler.create_schedule_group(Name=self.GROUP)

    def expire(self, now: float, *, runs_needed_for: float) -> None:
        """DynamoDB's TTL, on the virtual clock, once a simulated hour: items whose `expiration`
        has passed are deleted (AWS deletes them within days; the engine reads none as valid).
        Run records are kept 15 days for Lambda's retries and the verifier's rounds; a replay has
        no retries, so those older than the last check's horizon (`runs_needed_for` seconds) go
        too; and idempotency records (which Powertools dates by the real clock, not the virtual
        one) guard against a duplicate delivery, which a replay never makes: between state
        changes, with no invocation in flight, they go. Without this a two-week history piles up a
        fortnight of records, and moto copies the whole table on every transaction: the replay
        slowed with every change.

        At the same hour, moto forgets the objects it keeps for its dashboard (every model it
        ever built, the items of each table copy included, until the mock stops): a replay never
        serves that dashboard, and kept they were about a third of a two-week replay's peak memory."""
        from moto.core.model_instances import reset_model_data  # noqa: PLC0415  (only the simulation has moto)

        from remediation.state import RUN_RECORD_KEEP_SECONDS  # noqa: PLC0415

        if now - self._expired_at < 3600:
            return
        self._expired_at = now
        reset_model_data()
        stale_runs = now - runs_needed_for + RUN_RECORD_KEEP_SECONDS
        dynamodb = self.dynamodb
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.TABLE,
            FilterExpression=(
                "expiration < :now OR (begins_with(id, :run) AND expiration < :stale) OR begins_with(id, :once)"
            ),
            ExpressionAttributeValues={
                ":now": {"N": str(int(now))},
                ":run": {"S": "run#"},
                ":once": {"S": "idempotency#"},
                ":stale": {"N": str(int(stale_runs))},
            },
            ProjectionExpression="id",
        ):
            for item in page.get("Items", []):
                dynamodb.delete_item(TableName=self.TABLE, Key={"id": item["id"]})

    def put_alarms(self, alarms: Iterable[Mapping[str, Any]]) -> None:
        """The history's alarms, as configured (their state follows the history)."""
        for alarm in alarms:
            _put_alarm(self.cloudwatch, alarm)

    def environ(self) -> dict[str, str]:
        return {
            "AUDIT_BUS_NAME": self.BUS,
            "STATE_TABLE_NAME": self.TABLE,
            "TARGET_REST_API_ID": self.standins.rest_api_id,
            "VERIFY_SCHEDULE_GROUP": self.GROUP,
            "VERIFIER_FUNCTION_ARN": f"arn:aws:lambda:{self.region}:{self.account}:function:replay-verifier",
            "SCHEDULER_ROLE_ARN": f"arn:aws:iam::{self.account}:role/replay-scheduler",
            "SCHEDULER_CONTEXT_ATTRIBUTES": "true",
        }

    def due(self, until: float) -> Iterator[tuple[float, dict[str, Any]]]:
        """The checks whose time has come, in time order; each fires once, then is deleted
        (ActionAfterCompletion DELETE). One that no longer exists (deleted by a handler) is dropped."""
        # Due at the same second: in the order they were scheduled (stable sort), as run to run.
        while ready := sorted(((at, name) for name, at in self.pending.items() if at <= until), key=lambda e: e[0]):
            at, name = ready[0]
            del self.pending[name]
            try:
                schedule = self.scheduler.get_schedule(Name=name, GroupName=self.GROUP)
            except self.scheduler.exceptions.ResourceNotFoundException:
                continue
            self.scheduler.delete_schedule(Name=name, GroupName=self.GROUP)
            yield at, dict(schedule)

    def decisions(self, when: datetime) -> list[dict[str, Any]]:
        found, self.audited = [_decision(detail, when) for detail in self.audited], []
        return found


def _decision(detail: Mapping[str, Any], when: datetime) -> dict[str, Any]:
    alarm, action = detail.get("alarm") or {}, detail.get("action") or {}
    decision = {
        "time": when.isoformat(timespec="seconds"),
        "alarm": alarm.get("name"),
        "state": alarm.get("state"),
        "handler": detail["handler"],
        "outcome": detail["outcome"],
        "action": action.get("name"),
        "target": action.get("target"),
        "before": detail.get("before"),
        "after": detail.get("after"),
        "limit": detail.get("limit"),
        "reason": detail["reason"],
        "decisionId": detail.get("decisionId"),
    }
    if detail.get("verifies"):
        decision["verifies"] = detail["verifies"]
    return decision


#: The timeline's signal panel of an alarm, by its metric (or, for metric math, its returned label).
_SIGNAL_OF = (("Latency", "latency"), ("CPUUtilization", "db_cpu"), ("5XX", "error_rate"), ("rror", "error_rate"))
_DATAPOINT = re.compile(r"\[(-?\d+(?:\.\d+)?)")


def _signal(change: StateChange) -> dict[str, float]:
    """The alarm's signal at its state change, from the first datapoint its reason quotes."""
    alarm = change.alarm
    named = str(alarm.get("MetricName") or "") + " ".join(
        str(q.get("Label") or q.get("Expression") or "") for q in alarm.get("Metrics") or []
    )
    panel = next((key for part, key in _SIGNAL_OF if part in named), None)
    found = _DATAPOINT.search(change.reason or "")
    return {panel: float(found.group(1))} if panel and found else {}


def timeline_steps(replay: Replay) -> list[Any]:
    """The replay as the demo's timeline draws it: a step per state change, with the decisions
    made at it (and the checks until the next one) and the capacity after it."""
    from demo import StepResult  # noqa: PLC0415  (the timeline's own step type)

    steps: list[Any] = []
    for index, step in enumerate(replay.steps):
        began = step.change.time
        ends = replay.steps[index + 1].change.time if index + 1 < len(replay.steps) else None
        events = [
            {"detail": {**decision, "timestamp": decision["time"], "alarm": {"name": decision["alarm"]}}}
            for decision in replay.decisions
            if began <= _when(decision["time"]) and (ends is None or _when(decision["time"]) < ends)
        ]
        key = f"{str(step.change.alarm['AlarmName']).removeprefix('printapp-remediation-')} {step.change.new}"
        steps.append(StepResult(key, key, began, began, events, step.state, _signal(step.change)))
    return steps


# --------------------------------------------------------------------------- output


_HIDDEN = frozenset({"cacheClusterStatus", "accountConcurrency", "unreservedAccountConcurrency", "status"})


def _change(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """What changed: the values that differ, before → after (all of them, if none differ)."""
    if not after:
        return "–"
    before = before or {}
    shown_keys = [k for k in after if k not in _HIDDEN]
    keys = [k for k in shown_keys if before.get(k) != after[k]] or shown_keys

    def shown(values: Mapping[str, Any]) -> str:
        return ", ".join(f"{k}={values.get(k)}" for k in keys)

    return f"{shown(before)} → {shown(after)}"


def _rows(decisions: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            d["time"],
            str(d["alarm"] or "–"),
            str(d["state"] or "–"),
            d["handler"],
            d["outcome"] + (f" ({d['limit']})" if d["limit"] else ""),
            f"{d['action']} {d['target']}" if d["action"] else "–",
            _change(d["before"], d["after"]),
            d["reason"] + (" [decided without historical metrics]" if d.get("metricsMissing") else ""),
        )
        for d in decisions
    ]


_HEADER = ("time", "alarm", "state", "handler", "decision", "action", "before → after", "why")


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last one (why) as it is."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]) for row in rows
    ]


def counts(decisions: Sequence[Mapping[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    return Counter(d["outcome"] for d in decisions), Counter(d["limit"] for d in decisions if d["limit"])


def _key(decision: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (decision["time"], decision["handler"], decision["alarm"] or "", decision["action"] or "")


def differences(ours: Replay, theirs: Replay) -> list[dict[str, Any]]:
    """Where two configurations decided differently: same moment, handler, alarm and action."""
    left: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    right: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for decision in ours.decisions:
        left.setdefault(_key(decision), []).append(decision)
    for decision in theirs.decisions:
        right.setdefault(_key(decision), []).append(decision)

    def said(found: list[Mapping[str, Any]]) -> str:
        return "; ".join(d["outcome"] + (f" ({d['limit']})" if d["limit"] else "") for d in found) or "nothing"

    found = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key, []), right.get(key, [])
        if said(a) != said(b):
            time, handler, alarm, action = key
            found.append(
                {"time": time, "handler": handler, "alarm": alarm, "action": action, "ours": said(a), "theirs": said(b)}
            )
    return found


def render_comparison(ours: Replay, theirs: Replay, fmt: str) -> str:
    changed = differences(ours, theirs)
    names = ", ".join(f"{k}={v}" for k, v in theirs.settings.items() if ours.settings.get(k) != v)
    if fmt == "json":
        return "\n".join(json.dumps({"compare": names, **d}) for d in changed)
    header = f"compared with {names}: {len(changed)} decisions differ"
    rows = [(d["time"], d["alarm"], d["handler"], d["action"] or "–", d["ours"], d["theirs"]) for d in changed]
    if fmt == "markdown":
        return "\n".join(
            [
                f"## {header}",
                "",
                "| time | alarm | handler | action | as configured | with " + names + " |",
                "| --- | --- | --- | --- | --- | --- |",
                *("| " + " | ".join(row) + " |" for row in rows),
            ]
        )
    return "\n".join([header, *("  ".join(row) for row in rows)])


def render(replay: Replay, fmt: str, changes: int) -> str:
    if fmt == "json":
        return "\n".join(json.dumps(d, default=str, ensure_ascii=False) for d in replay.decisions)
    outcomes, limits = counts(replay.decisions)
    rows = _rows(replay.decisions)
    if fmt == "markdown":
        lines = [
            f"## What it would have done: {changes} state changes, {len(replay.decisions)} decisions",
            "",
            f"Starting configuration: {replay.start.source}. Settings changed: "
            + (", ".join(f"`{k}={v}`" for k, v in replay.settings.items()) or "none")
            + ".",
            "",
            "| " + " | ".join(_HEADER) + " |",
            "|" + "|".join(" --- " for _ in _HEADER) + "|",
            *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
            "",
            "| outcome | decisions |",
            "| --- | --- |",
            *(f"| {outcome} | {count} |" for outcome, count in outcomes.most_common()),
            "",
            "| limit | decisions |",
            "| --- | --- |",
            *(f"| {limit} | {count} |" for limit, count in limits.most_common()),
        ]
    else:
        lines = [f"{changes} state changes replayed, {len(replay.decisions)} decisions (start: {replay.start.source})"]
        lines += _aligned([_HEADER, *rows])
        lines += ["", "by outcome: " + ", ".join(f"{o} {c}" for o, c in outcomes.most_common())]
        lines += ["by limit:   " + (", ".join(f"{o} {c}" for o, c in limits.most_common()) or "none")]
    if replay.left_out:
        lines += ["", "left out:", *(f"  {why}" for why in replay.left_out)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def _settings(items: Sequence[str]) -> dict[str, str]:
    found = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ReplayError(f"--set wants NAME=VALUE (an environment variable of SPEC §6), not {item!r}")
        found[name.strip()] = value
    return found


def parse_args(argv: Sequence[str] | None, prog: str | None, description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or __doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--history", type=Path, help="`aws cloudwatch describe-alarm-history` output (JSON)")
    parser.add_argument("--alarms", type=Path, help="`aws cloudwatch describe-alarms` output (JSON)")
    parser.add_argument(
        "--since", help=f"from the account: start of the window (ISO 8601, at most {MAX_DAYS} days back)"
    )
    parser.add_argument("--until", help="from the account: end of the window (default: now)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="change a setting (repeatable)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="run a second configuration (these settings on top of --set) and show where the two differ",
    )
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.add_argument("--png", type=Path, metavar="PATH", help="also draw the timeline, as the demo's, to PATH")
    parser.add_argument(
        "--stack",
        default="printapp-remediation",
        help="the deployed stack whose functions' settings and alarm topic the replay starts from "
        "(read-only; default: %(default)s)",
    )
    parser.add_argument(
        "--no-account",
        action="store_true",
        help="read nothing from AWS: the targets start at the runbook's everyday values",
    )
    return parser.parse_args(argv)


def _quiet_handlers() -> None:
    """The handlers log every decision and emit metrics to stdout, as in Lambda: here the replay's
    report is the output, so they log only errors (to stderr) and emit no metrics."""
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "printapp-remediation-replay")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "PrintAppRemediationReplay")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"


def _history(args: argparse.Namespace, client: Callable[[str], Any]) -> tuple[Any, Any]:
    """The history and the alarms' configuration: from the files, or read from the account."""
    if args.history or args.alarms:
        if not (args.history and args.alarms):
            raise ReplayError(
                "--history and --alarms go together: the history names alarms, their configuration says what they watch"
            )
        history, alarms = _json_file(args.history, "history"), _json_file(args.alarms, "alarms")
        for given, key, command in (
            (history, "AlarmHistoryItems", "describe-alarm-history"),
            (alarms, "MetricAlarms", "describe-alarms"),
        ):
            if not isinstance(given, dict) or not isinstance(given.get(key), list):
                raise ReplayError(f"expected the output of `aws cloudwatch {command}` (a JSON object with {key})")
        return history, alarms
    if args.no_account or not args.since:
        raise ReplayError("give --history and --alarms files, or --since to read the account's history")
    until = _when(args.until) if args.until else datetime.now(UTC)
    since = _when(args.since)
    if until - since > timedelta(days=MAX_DAYS) or since >= until:
        raise ReplayError(f"the window must be positive and at most {MAX_DAYS} days")
    return read_account_history(client, since, until)


@dataclass(frozen=True)
class _Run:
    """What every configuration of one command's replay shares: the state changes, the targets'
    start, the deployment, the account's metrics and the window."""

    changes: list[StateChange]
    left_out: list[str]
    start: Start
    deployed: Deployed
    metrics_from: Any
    until: datetime | None

    def __call__(self, settings: Mapping[str, str], *, record_state: bool = False) -> Replay:
        return simulate(
            self.changes,
            overrides=settings,
            start=self.start,
            left_out=self.left_out,
            deployed=self.deployed,
            metrics_from=self.metrics_from,
            until=self.until,
            record_state=record_state,
        )


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, description: str | None = None) -> int:
    args = parse_args(argv, prog, description)
    _quiet_handlers()
    try:
        overrides = _settings(args.set)
        compared = {**overrides, **_settings(args.compare)} if args.compare else None
        client, _ = read_only_clients()
        history, alarms = _history(args, client)
        start, deployed, metrics_from = Start(), Deployed(), None
        if not args.no_account:
            try:
                deployed, start = read_deployment(client, args.stack, overrides)
                metrics_from = client("cloudwatch")
            except (BotoCoreError, ClientError, LookupError, IndexError) as error:
                start = Start(source=f"the runbook's everyday values (the account could not be read: {error})")
        try:
            changes, left_out = state_changes(history, alarms, deployed.topics)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise ReplayError(
                "the history or alarms are not the AWS CLI's describe-alarm-history / describe-alarms output "
                f"({type(error).__name__}: {error})"
            ) from error
        until = (_when(args.until) if args.until else datetime.now(UTC)) if args.since else None
        run = _Run(changes, left_out, start, deployed, metrics_from, until)
        replay = run(overrides, record_state=bool(args.png))
        other = run(compared) if compared is not None else None
    except (ReplayError, BotoCoreError, ClientError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(render(replay, args.format, len(changes)))
    if other is not None:
        print()
        print(render_comparison(replay, other, args.format))
    if args.png:
        from timeline import render_png  # noqa: PLC0415  (rich and matplotlib: only for the picture)

        render_png(
            timeline_steps(replay),
            args.png,
            title=f"What it would have done: {len(changes)} state changes replayed ({replay.source})",
            time_axis=("hours since the first state change", 3600.0),
        )
        print(f"timeline: {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
