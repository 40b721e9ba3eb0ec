"""`make demo`: deploy the real template to a local AWS and play the runbook end to end.

Starts ministack on 127.0.0.1, builds and deploys template.yaml with `sam` (short cooldowns so
the story plays in about a minute), creates stand-ins for the app, then plays the story:
a traffic spike, the same notification again, recovery too soon and later, DB CPU warning and
critical, error-rate alarms with and without a cause, an S3 advisory, an untrusted sender and
the spike in dry-run; then the closed loop: a small model of the app answers each change, and the
verifier, fired by its one-time schedule, finds one spike verified, one ineffective that takes the
critical cache step (then verified), one drifted, one rolled back. Every decision comes from the
deployed functions through SNS, Scheduler and the audit bus; every before/after shown is read
back from the emulator. It ends by replaying the emulator's own alarm history of the first
chapter (tools/fidelity.py) and setting each replayed decision beside the deployed one.

What is emulated and what is not is in the README ("The local story").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fidelity
import replay
from app_model import LATENCY_WARNING_MS, AppModel, publish
from approve import approve
from local_aws import ACCOUNT_ID, REGION, ROOT, LocalAws, audit_capture, drain
from standins import EVERYDAY_RESERVED_CONCURRENCY, StandIns, create_standins, read_back
from timeline import Console, render_png

STACK = "printapp-remediation"
OUTPUT_DIR = ROOT / "out" / "demo"
#: Short timings so the story plays in about a minute (the defaults are minutes to an hour).
COOLDOWN_SECONDS, HYSTERESIS_SECONDS = 10, 20
DB_COOLDOWN_SECONDS = 30
#: The checks of the story's first changes are due tomorrow (they would interleave with its steps);
#: the closed-loop chapter sets VERIFY_AFTER_SECONDS on the spike handler and the verifier.
VERIFY_AFTER_SECONDS = 15
LOCAL_PARAMETERS = {
    "LocalEmulator": "true",
    "CooldownSeconds": COOLDOWN_SECONDS,
    "ScaleDownHysteresisSeconds": HYSTERESIS_SECONDS,
    "DbCooldownSeconds": DB_COOLDOWN_SECONDS,
    "VerifyAfterSeconds": 86400,
    "DbVerifyAfterSeconds": 86400,
    # The whole story applies more changes in a quarter of an hour than a real incident would.
    "StormMaxActions": 50,
}
#: How long a closed-loop scenario may take: two checks (delay + Scheduler's 10 s sweep) and a step.
LOOP_TIMEOUT_SECONDS = 120
#: How long a quiet step waits to be sure nothing (else) happens.
QUIET_SECONDS = 6


@dataclass
class StepResult:
    key: str
    title: str
    started: datetime
    finished: datetime
    events: list[dict[str, Any]]
    state: dict[str, Any]
    #: The story's scripted signal values at this step (for the PNG), e.g. {"latency": 812}.
    signals: dict[str, float] = field(default_factory=dict)
    #: Messages that reached a dead-letter queue during the step.
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


def _alarm_time(moment: datetime) -> str:
    """CloudWatch's StateChangeTime format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Story:
    """The steps, each waiting for its decisions on the audit bus and reading the app back."""

    def __init__(
        self,
        aws: LocalAws,
        outputs: dict[str, str],
        standins: StandIns,
        *,
        audit_queue: str,
        alarm_queue: str,
        on_event: Callable[[dict[str, Any]], None] = lambda _: None,
        on_step: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.aws = aws
        self.outputs = outputs
        self.standins = standins
        self.audit_queue = audit_queue
        self.alarm_queue = alarm_queue
        self.on_event = on_event
        self.on_step = on_step
        self.results: list[StepResult] = []
        self.cloudwatch = aws.client("cloudwatch")
        self.sns = aws.client("sns")
        self.lambda_ = aws.client("lambda")

    # --- plumbing ----------------------------------------------------------------------------

    def _collect(self, expected: int, timeout: float = 45) -> list[dict[str, Any]]:
        """Audit events until `expected` arrived (or, for expected=0, a quiet period passed)."""
        deadline = time.monotonic() + (QUIET_SECONDS if expected == 0 else timeout)
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline and (expected == 0 or len(events) < expected):
            for event in drain(self.aws, self.audit_queue):
                events.append(event)
                self.on_event(event)
            time.sleep(0.5)
        return events

    def _step(
        self, key: str, title: str, expected: int, act: Callable[[], None], signals: dict[str, float] | None = None
    ) -> StepResult:
        self.on_step(title)
        started = datetime.now(UTC)
        act()
        events = self._collect(expected)
        state = read_back(self.aws.client, self.standins)
        result = StepResult(key, title, started, datetime.now(UTC), events, state, signals or {})
        self.results.append(result)
        return result

    def _set_alarm(self, name: str, state: str, reason: str) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=f"{STACK}-{name}", StateValue=state, StateReason=reason)

    def _last_alarm_message(self) -> str:
        """The alarm notification the topic just carried (a raw SQS subscription sees it too)."""
        for _ in range(40):
            messages = drain(self.aws, self.alarm_queue)
            if messages:
                return json.dumps(messages[-1])
            time.sleep(0.25)
        raise RuntimeError("no alarm notification seen on the topic")

    def _deliver_metric_math(self, event_file: str, state_change: datetime) -> None:
        """An AWS-shaped metric-math notification from events/, for this account and time.

        The emulator has no metric-math alarms, and its SNS filter does not match keys inside
        arrays of objects (`Trigger.Metrics`), so the notification is handed to the triager as
        SNS would hand it: an asynchronous invoke with the SNS event, from the alarm topic.
        """
        self._deliver("ErrorRateTriagerFunctionName", event_file, state_change)

    def _deliver(self, function_output: str, event_file: str, state_change: datetime, **message_changes: Any) -> None:
        """An events/ notification, re-addressed to this account and time, invoked as SNS does."""
        event = json.loads((ROOT / "events" / event_file).read_text())
        sns = event["Records"][0]["Sns"]
        message = json.loads(sns["Message"])
        message["AWSAccountId"] = ACCOUNT_ID
        message["StateChangeTime"] = _alarm_time(state_change)
        message.update(message_changes)
        message["AlarmArn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{message['AlarmName']}"
        sns.update(
            Message=json.dumps(message),
            TopicArn=self.outputs["AlarmTopicArn"],
            MessageId=str(uuid.uuid4()),
            Timestamp=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        self.lambda_.invoke(
            FunctionName=self.outputs[function_output], InvocationType="Event", Payload=json.dumps(event).encode()
        )

    # --- the story ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Traffic for the evidence, and the alarms the emulator cannot make (metric math)."""
        now = datetime.now(UTC)
        api = [{"Name": "ApiName", "Value": "printapp-api"}, {"Name": "Stage", "Value": "prod"}]
        self.cloudwatch.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                {
                    "MetricName": "Count",
                    "Dimensions": api,
                    "Timestamp": now - timedelta(minutes=m),
                    "Value": 900.0 + 40 * (60 - m),
                }
                for m in range(60, 0, -5)
            ],
        )
        # The error-rate alarm is metric math on AWS; the emulator has none, so a single-metric
        # stand-in with the template's name lets the triager verify it before acting.
        for name, threshold in (("api-error-rate-critical", 5.0),):
            self.cloudwatch.put_metric_alarm(
                AlarmName=f"{STACK}-{name}",
                Namespace="AWS/ApiGateway",
                MetricName="5XXError",
                Dimensions=api,
                Statistic="Average",
                Period=60,
                EvaluationPeriods=3,
                Threshold=threshold,
                ComparisonOperator="GreaterThanThreshold",
            )
            self._set_alarm(name, "ALARM", "error rate above 5 % (stand-in for the metric-math alarm)")

    def play(self) -> list[StepResult]:
        self.prepare()
        self._step(
            "first-ok",
            "Just deployed: a traffic alarm's first OK (INSUFFICIENT_DATA → OK) changes nothing",
            2,
            lambda: self._set_alarm("lambda-concurrency-warning", "OK", "concurrency 40 < 500"),
            {"latency": 180},
        )
        drain(self.aws, self.alarm_queue)  # the duplicate step below resends the spike's notification
        spike = self._step(
            "spike",
            "Traffic spike: API latency above 500 ms",
            2,
            lambda: self._set_alarm("api-latency-warning", "ALARM", "latency 812 ms > 500 ms"),
            {"latency": 812},
        )
        message = self._last_alarm_message()
        self._step(
            "duplicate",
            "The same notification delivered again",
            0,
            lambda: self.sns.publish(TopicArn=self.outputs["AlarmTopicArn"], Message=message),
            {"latency": 790},
        )
        self._step(
            "recovery-too-soon",
            "Latency back to normal, too soon after the scale-up",
            1,
            lambda: self._set_alarm("api-latency-warning", "OK", "latency 230 ms < 500 ms"),
            {"latency": 230},
        )
        # Past the hysteresis window, counted from the scale-up.
        since_spike = (datetime.now(UTC) - spike.finished).total_seconds()
        time.sleep(max(0.0, HYSTERESIS_SECONDS + 2 - since_spike))
        self._step(
            "recovery",
            "Still normal after the hysteresis window",
            2,
            lambda: self._set_alarm("api-latency-critical", "OK", "latency 210 ms < 1000 ms"),
            {"latency": 210},
        )
        self._step(
            "db-warning",
            "Database CPU above 60 %",
            2,
            lambda: self._set_alarm("db-cpu-warning", "ALARM", "CPU 71 % > 60 %"),
            {"db_cpu": 71},
        )
        db_critical = self._step(
            "db-critical",
            "Database CPU above 80 %",
            1,
            lambda: self._set_alarm("db-cpu-critical", "ALARM", "CPU 93 % > 80 %"),
            {"db_cpu": 93},
        )
        self._throttled_error_rate()
        self._step(
            "error-rate-unknown",
            "Error rate above 5 %, no component signal",
            1,
            lambda: self._deliver_metric_math("error-rate-unknown.json", datetime.now(UTC)),
            {"error_rate": 6.1},
        )
        self._step(
            "s3-advisory",
            "Media bucket above 100 requests/s",
            1,
            lambda: self._deliver_metric_math("s3-request-rate.json", datetime.now(UTC)),
        )
        self._step("untrusted", "A notification from another account's topic", 1, self._untrusted)
        self._approval(db_critical)
        self._dry_run_spike()
        self.closed_loop()
        self._failure_to_dead_letter_queue()
        return self.results

    def _throttled_error_rate(self) -> None:
        # Throttles a quarter of an hour ago, in that alarm's window; nothing in the later one's.
        changed = datetime.now(UTC) - timedelta(minutes=15)
        self.aws.client("cloudwatch").put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Throttles",
                    "Dimensions": [{"Name": "FunctionName", "Value": "printapp-api"}],
                    "Timestamp": changed - timedelta(minutes=m),
                    "Value": 45.0,
                }
                for m in (1, 2, 3)
            ],
        )
        self._step(
            "error-rate-throttling",
            "Error rate above 5 %, Lambda throttling",
            1,
            lambda: self._deliver_metric_math("error-rate-throttling.json", changed),
            {"error_rate": 11.2},
        )

    def _untrusted(self) -> None:
        event = json.loads((ROOT / "events" / "latency-warning.json").read_text())
        event["Records"][0]["Sns"]["TopicArn"] = "arn:aws:sns:us-east-1:210987654321:not-ours"
        self.lambda_.invoke(
            FunctionName=self.outputs["SpikeHandlerFunctionName"],
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )

    def _set_environment(self, function_output: str, **variables: str) -> None:
        function = self.outputs[function_output]
        current = self.lambda_.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        self.lambda_.update_function_configuration(
            FunctionName=function, Environment={"Variables": {**current, **variables}}
        )

    def _failure_to_dead_letter_queue(self) -> None:
        """Nothing is lost: a failing action is audited, retried by Lambda, then kept in the DLQ.

        (The emulator does not retry SNS-triggered invocations, so this one is an async invoke.)
        The DB handler is pointed at an instance that does not exist, as after a bad redeploy, and
        a critical CPU alarm on that instance fires (made here, without actions: this step delivers
        its notification itself).
        """
        gone = "printapp-db-gone"
        self._set_environment("DbCpuHandlerFunctionName", TARGET_DB_INSTANCE_ID=gone)
        trigger = json.loads(
            json.loads((ROOT / "events" / "db-cpu-critical.json").read_text())["Records"][0]["Sns"]["Message"]
        )["Trigger"]
        trigger["Dimensions"] = [{"name": "DBInstanceIdentifier", "value": gone}]
        alarm = f"{STACK}-{gone}-cpu-critical"
        self.cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/RDS",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": gone}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=80,
            ComparisonOperator="GreaterThanThreshold",
        )
        self.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="CPU 95 % > 80 %")
        queue = self.outputs["DbCpuHandlerDeadLetterQueueUrl"]
        result = self._step(
            "failure",
            "An action that keeps failing: audited, retried, kept in the DLQ",
            3,
            lambda: self._deliver(
                "DbCpuHandlerFunctionName", "db-cpu-critical.json", datetime.now(UTC), AlarmName=alarm, Trigger=trigger
            ),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not result.dead_letters:
            result.dead_letters.extend(drain(self.aws, queue))
            time.sleep(0.5)

    def _approval(self, db_critical: StepResult) -> None:
        """Manual approval mode: the class step waits for a human, who approves it, once."""
        self._set_environment("DbCpuHandlerFunctionName", DB_APPROVAL_MODE="manual")
        # Past the database cooldown of the class step the story made before.
        since = (datetime.now(UTC) - db_critical.finished).total_seconds()
        time.sleep(max(0.0, DB_COOLDOWN_SECONDS + 1 - since))
        requested = self._step(
            "approval-requested",
            "Approval mode manual: database CPU still above 80 %, the class step waits for a human",
            1,
            lambda: self._deliver("DbCpuHandlerFunctionName", "db-cpu-critical.json", datetime.now(UTC)),
            {"db_cpu": 91},
        )
        request_id = requested.events[0]["detail"]["decisionId"] if requested.events else ""
        answers: list[Any] = []

        def approve_as_the_caller() -> None:
            answers.append(
                approve(
                    request_id,
                    function=self.outputs["ApprovalHandlerFunctionName"],
                    lambda_client=self.lambda_,
                    sts=self.aws.client("sts"),
                )
            )

        self._step("approved", "The on-call engineer approves it (make approve)", 1, approve_as_the_caller)
        self._step("approved-again", "The same request approved again", 1, approve_as_the_caller)

    def _dry_run_spike(self) -> None:
        self._set_environment("SpikeHandlerFunctionName", DRY_RUN="true")
        # Back to the everyday value, and past the cooldown of the triage's raise.
        self.lambda_.put_function_concurrency(
            FunctionName=self.standins.function_name, ReservedConcurrentExecutions=EVERYDAY_RESERVED_CONCURRENCY
        )
        time.sleep(COOLDOWN_SECONDS + 1)
        self._step(
            "dry-run",
            "The same spike with DRY_RUN=true",
            2,
            lambda: self._set_alarm("api-latency-warning", "ALARM", "latency 805 ms > 500 ms"),
            {"latency": 805},
        )

    # --- the closed loop (SPEC §9) --------------------------------------------------------------

    def closed_loop(self) -> None:
        """Every applied raise is checked afterwards by the verifier; a model of the app answers."""
        self._set_environment("SpikeHandlerFunctionName", DRY_RUN="false")
        for function in ("SpikeHandlerFunctionName", "VerifierFunctionName"):
            self._set_environment(function, VERIFY_AFTER_SECONDS=str(VERIFY_AFTER_SECONDS))
        self._scenario(
            "verify-verified",
            "Closed loop: a spike the raise relieves is verified",
            AppModel(load=1.0),
            lambda events: _count(events, "verified") >= 2,
        )
        self._scenario(
            "verify-ineffective",
            "Closed loop: a heavier spike; 1.6 GB does not help, the verifier takes 6.1 GB, which does",
            AppModel(load=2.2),
            lambda events: _count(events, "verified", round_=2) >= 1,
        )
        self._scenario(
            "verify-drifted",
            "Closed loop: someone switches the cache off again before its check",
            AppModel(load=1.0),
            lambda events: _count(events, "drifted") >= 1 and _count(events, "verified") >= 1,
            meanwhile=self._cache_off_by_hand,
        )
        self._scenario(
            "verify-rolled-back",
            "Closed loop: more concurrency overloads a small database, errors rise: rolled back",
            AppModel(load=0.9, database_connections=120),
            lambda events: _count(events, "rolled-back") >= 1 and _count(events, "verified") >= 1,
        )

    def _everyday(self) -> None:
        """The app back at its everyday capacity, by hand, the latency alarm OK, past the cooldown."""
        self.lambda_.put_function_concurrency(
            FunctionName=self.standins.function_name, ReservedConcurrentExecutions=EVERYDAY_RESERVED_CONCURRENCY
        )
        self._cache_off_by_hand()
        alarm = f"{STACK}-api-latency-warning"
        if self.cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] != "OK":
            self._set_alarm("api-latency-warning", "OK", "latency back to normal")
        time.sleep(COOLDOWN_SECONDS + 1)
        for event in drain(self.aws, self.audit_queue):
            self.on_event(event)

    def _cache_off_by_hand(self) -> None:
        self.aws.client("apigateway").update_stage(
            restApiId=self.standins.rest_api_id,
            stageName=self.standins.stage,
            patchOperations=[{"op": "replace", "path": "/cacheClusterEnabled", "value": "false"}],
        )

    def _scenario(
        self,
        key: str,
        title: str,
        model: AppModel,
        done: Callable[[list[dict[str, Any]]], bool],
        meanwhile: Callable[[], None] | None = None,
    ) -> StepResult:
        """Trigger a spike, let the model answer every few seconds, until the verdicts are in."""
        self._everyday()
        self.on_step(title)
        started = datetime.now(UTC)
        capacity = read_back(self.aws.client, self.standins)
        latency = model.latency_ms(capacity)
        self._set_alarm("api-latency-warning", "ALARM", f"latency {latency:g} ms > {LATENCY_WARNING_MS:g} ms")
        events = self._collect_until(lambda found: _count(found, "applied", handler="spike_handler") >= 2, [])
        if meanwhile is not None:
            meanwhile()
        deadline = time.monotonic() + LOOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not done(events):
            self._tick(model)
            self._collect_until(done, events, timeout=3)
        state = read_back(self.aws.client, self.standins)
        signals = model.signals(state)
        result = StepResult(key, title, started, datetime.now(UTC), events, state, {"latency": signals["latency"]})
        self.results.append(result)
        return result

    def _tick(self, model: AppModel) -> None:
        """The app answers its capacity: guard signals published, the latency alarm moved as CloudWatch would."""
        capacity = read_back(self.aws.client, self.standins)
        signals = model.signals(capacity)
        publish(self.cloudwatch, self.standins.function_name, signals, minutes=1)
        alarm = f"{STACK}-api-latency-warning"
        state = self.cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        latency = signals["latency"]
        wanted = "ALARM" if latency > LATENCY_WARNING_MS else "OK"
        if state != wanted:
            relation = ">" if wanted == "ALARM" else "<"
            self._set_alarm(
                "api-latency-warning", wanted, f"latency {latency:g} ms {relation} {LATENCY_WARNING_MS:g} ms"
            )

    def _collect_until(
        self, done: Callable[[list[dict[str, Any]]], bool], events: list[dict[str, Any]], timeout: float = 45
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(events):
            for event in drain(self.aws, self.audit_queue):
                events.append(event)
                self.on_event(event)
            time.sleep(0.5)
        return events


def _count(events: list[dict[str, Any]], outcome: str, *, handler: str | None = None, round_: int | None = None) -> int:
    return sum(
        1
        for event in events
        if event["detail"]["outcome"] == outcome
        and (handler is None or event["detail"]["handler"] == handler)
        and (round_ is None or (event["detail"].get("verifies") or {}).get("round") == round_)
    )


def deploy(aws: LocalAws, progress: Callable[[str], None]) -> tuple[dict[str, str], StandIns]:
    progress("creating the app's stand-ins (function, REST API and stage, database)")
    standins = create_standins(aws.client)
    progress("sam build (the layer and four functions)")
    aws.build()
    progress("sam deploy of template.yaml to the local AWS")
    outputs = aws.deploy(STACK, {**LOCAL_PARAMETERS, "TargetRestApiId": standins.rest_api_id})
    return outputs, standins


def subscribe_alarm_capture(aws: LocalAws, topic_arn: str) -> str:
    """A raw SQS subscription on the alarm topic, to see (and re-deliver) what alarms send."""
    sqs = aws.client("sqs")
    url: str = sqs.create_queue(QueueName="alarm-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return url


@dataclass
class Played:
    results: list[StepResult]
    #: The story's alarm history replayed, decision by decision against the deployed functions.
    fidelity: fidelity.Fidelity


def run(
    aws: LocalAws,
    *,
    on_event: Callable[[dict[str, Any]], None] = lambda _: None,
    on_step: Callable[[str], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
) -> Played:
    """The whole story against a started local AWS, then the replay of its alarm history.
    Used by `make demo` and the end-to-end test."""
    outputs, standins = deploy(aws, progress)
    # What `printapp-remediation replay` reads of an account, read-only, as it was before the story.
    read, guard = replay.read_only_clients(factory=aws.client)
    before = fidelity.before_the_story(read, STACK)
    alarm_queue = subscribe_alarm_capture(aws, outputs["AlarmTopicArn"])
    with audit_capture(aws, outputs["AuditBusName"]) as audit_queue:
        story = Story(
            aws, outputs, standins, audit_queue=audit_queue, alarm_queue=alarm_queue, on_event=on_event, on_step=on_step
        )
        results = story.play()
    progress("replaying the local AWS's alarm history of the first chapter (read-only)")
    since, until, actual = fidelity.chapter_window(results)
    check = fidelity.compare(read, before, actual, since, until)
    check.calls = list(guard.calls)
    return Played(results, check)


def write_outputs(results: list[StepResult], directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    lines = directory / "audit-events.jsonl"
    with lines.open("w") as out:
        for result in results:
            for event in result.events:
                out.write(json.dumps({"step": result.key, **event}) + "\n")
    png = render_png(results, directory / "timeline.png")
    return {"events": lines, "png": png}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR, help="where the PNG and JSON lines go")
    args = parser.parse_args(argv)
    console = Console()
    with LocalAws() as aws:
        console.started(aws)
        with console.live() as live:
            played = run(aws, on_event=live.add_event, on_step=live.add_step, progress=live.progress)
        files = write_outputs(played.results, args.output)
    console.summary(played.results, files)
    console.lines(played.fidelity.report(), bold_first=True)
    return 1 if played.fidelity.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
