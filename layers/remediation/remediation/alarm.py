"""The edge: an SNS-wrapped CloudWatch alarm notification, parsed once into typed models.

Three shapes arrive and all are handled (SPEC §3):
- single-metric alarms (`Trigger.MetricName`, `Trigger.Dimensions`),
- metric-math alarms (`Trigger.Metrics`, as the error-rate alarm is),
- older messages without `AlarmArn` / `DatapointsToAlarm`, with decorated values such as
  `"TreatMissingData": "- TreatMissingData:   missing"`,
and composite alarms (`AlarmRule`, no `Trigger`) are recognised. A local emulator's message
(region code in `Region`, `Name`/`Value` dimension keys, no `AlarmArn`) parses too, and so does
its SNS envelope (`SigningCertURL`/`UnsubscribeURL`, no `Subject` or `MessageAttributes`).

Nothing deeper than this module sees a raw dict of the notification.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from botocore.utils import ArnParser, InvalidArnException
from msgspec import Meta, Struct
from msgspec.structs import force_setattr, replace

from remediation.errors import InvalidAlarmNotification
from remediation.validation import ValidationError, describe_validation, validated

#: SNS refuses larger messages; anything bigger did not come from CloudWatch through SNS.
MAX_MESSAGE_BYTES = 256 * 1024

#: A datapoint's period: CloudWatch allows 10 s to 7 days (an alarm evaluates at most 7 days).
Seconds = Annotated[int, Meta(ge=1, le=7 * 24 * 3600)]

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

_REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ARN_PARSER = ArnParser()
_ACCOUNT = re.compile(r"^\d{12}$")


class Arn(Struct, frozen=True):
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, value: str) -> Arn | None:
        """botocore's ARN parser, plus what it leaves unchecked: an AWS partition, a 12-digit account."""
        try:
            parts = _ARN_PARSER.parse_arn(value)
        except InvalidArnException:
            return None
        if not parts["partition"].startswith("aws") or not _ACCOUNT.match(parts["account"]) or not parts["resource"]:
            return None
        return cls(**parts)


class MetricIdentity(Struct, frozen=True):
    """What an alarm watches: how handlers recognise alarms, whoever created them."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]

    def dimension(self, name: str) -> str | None:
        return dict(self.dimensions).get(name)


#: Only alarms that fire on high load are load signals; any other comparison is left alone.
LOAD_COMPARISONS = frozenset({"GreaterThanThreshold", "GreaterThanOrEqualToThreshold"})


class AlarmConfig(Struct, frozen=True):
    """The alarm as CloudWatch has it configured now (DescribeAlarms): what decides, not the message."""

    name: str
    state: str
    threshold: float | None
    comparison: str | None
    metrics: tuple[MetricIdentity, ...]
    #: Seconds per datapoint (the first MetricStat's for a metric-math alarm).
    period: int | None = None
    metric_math: bool = False

    @property
    def fires_on_high_load(self) -> bool:
        return self.comparison in LOAD_COMPARISONS


class _Lenient(Struct, frozen=True, kw_only=True):
    """A part of a message AWS writes: fields it may add later are ignored, the ones read are checked
    strictly (a threshold written as text is a malformed notification, not a number to guess)."""


class Dimension(_Lenient, frozen=True, kw_only=True):
    # CloudWatch writes `name`/`value` in notifications and `Name`/`Value` in its API (and so do
    # local emulators' notifications): either is read, `name`/`value` is what the code uses.
    name: Annotated[str, Meta(min_length=1)] | None = None
    value: str | None = None
    Name: Annotated[str, Meta(min_length=1)] | None = None
    Value: str | None = None

    def __post_init__(self) -> None:
        if self.name is None:
            force_setattr(self, "name", self.Name)
        if self.value is None:
            force_setattr(self, "value", self.Value)
        if self.name is None or self.value is None:
            raise ValueError("a dimension needs a name and a value")


def _identity(namespace: str, metric_name: str, dimensions: list[Dimension]) -> MetricIdentity:
    return MetricIdentity(namespace, metric_name, tuple((d.name or "", d.value or "") for d in dimensions))


class MetricModel(_Lenient, frozen=True, kw_only=True):
    Namespace: str
    MetricName: str
    Dimensions: list[Dimension] = []


class MetricStatModel(_Lenient, frozen=True, kw_only=True):
    Metric: MetricModel
    Period: Seconds | None = None
    Stat: str | None = None


class MetricDataQuery(_Lenient, frozen=True, kw_only=True):
    Id: str
    Expression: str | None = None
    MetricStat: MetricStatModel | None = None
    Label: str | None = None
    ReturnData: bool = True


class TriggerModel(_Lenient, frozen=True, kw_only=True):
    MetricName: str | None = None
    Namespace: str | None = None
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Unit: str | None = None
    Dimensions: list[Dimension] = []
    Metrics: list[MetricDataQuery] = []
    Period: Seconds | None = None
    EvaluationPeriods: Annotated[int, Meta(ge=1, le=100_000)]
    DatapointsToAlarm: Annotated[int, Meta(ge=1, le=100_000)] | None = None
    ComparisonOperator: str
    Threshold: float | None = None
    TreatMissingData: str | None = None

    def __post_init__(self) -> None:
        if self.TreatMissingData is not None:
            # Older notifications carry "- TreatMissingData:   missing".
            undecorated = self.TreatMissingData.removeprefix("- TreatMissingData:").strip() or None
            force_setattr(self, "TreatMissingData", undecorated)
        if self.Metrics:
            if not any(query.MetricStat for query in self.Metrics):
                raise ValueError("a metric-math trigger needs at least one MetricStat")
        elif not (self.MetricName and self.Namespace):
            raise ValueError("Trigger needs MetricName and Namespace, or Metrics")

    @property
    def is_metric_math(self) -> bool:
        return bool(self.Metrics)

    @property
    def metrics(self) -> tuple[MetricIdentity, ...]:
        if self.Metrics:
            return tuple(
                _identity(q.MetricStat.Metric.Namespace, q.MetricStat.Metric.MetricName, q.MetricStat.Metric.Dimensions)
                for q in self.Metrics
                if q.MetricStat
            )
        # _one_shape guarantees both for a single-metric trigger.
        return (_identity(self.Namespace or "", self.MetricName or "", self.Dimensions),)

    @property
    def expression_label(self) -> str | None:
        for query in self.Metrics:
            if query.ReturnData:
                return query.Label or query.Expression or query.Id
        return None


class AlarmNotification(_Lenient, frozen=True, kw_only=True):
    """The CloudWatch alarm message carried in the SNS `Message`."""

    AlarmName: Annotated[str, Meta(min_length=1, max_length=255)]
    AlarmDescription: str | None = None
    AWSAccountId: Annotated[str, Meta(pattern=r"^\d{12}$")] | None = None
    NewStateValue: AlarmState
    OldStateValue: AlarmState | None = None
    NewStateReason: str = ""
    StateChangeTime: str
    Region: str | None = None
    AlarmArn: str | None = None
    Trigger: TriggerModel | None = None
    AlarmRule: str | None = None

    def __post_init__(self) -> None:
        # StateChangeTime is kept as sent (it is part of the idempotency key); it must still be a real time.
        try:
            datetime.fromisoformat(self.StateChangeTime)
        except ValueError:
            raise ValueError(f"StateChangeTime is not a time: {self.StateChangeTime[:64]!r}") from None
        arn = Arn.parse(self.AlarmArn) if self.AlarmArn is not None else None
        if self.AlarmArn is not None and (
            arn is None or arn.service != "cloudwatch" or not arn.resource.startswith("alarm:")
        ):
            raise ValueError(f"not a CloudWatch alarm ARN: {self.AlarmArn[:300]!r}")
        if self.AlarmArn is None and self.AWSAccountId is None:
            raise ValueError("neither AlarmArn nor AWSAccountId: the alarm's account is unknown")
        if arn and self.AWSAccountId and arn.account != self.AWSAccountId:
            raise ValueError("AlarmArn and AWSAccountId name different accounts")
        if self.Trigger is None and self.AlarmRule is None:
            raise ValueError("Trigger is missing (and it is not a composite alarm with an AlarmRule)")

    # --- derived, typed views -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.AlarmName

    @property
    def state(self) -> AlarmState:
        return self.NewStateValue

    @property
    def is_composite(self) -> bool:
        return self.Trigger is None

    @property
    def account_id(self) -> str:
        arn = Arn.parse(self.AlarmArn) if self.AlarmArn else None
        return arn.account if arn else str(self.AWSAccountId)

    @property
    def changed_at(self) -> datetime:
        return datetime.fromisoformat(self.StateChangeTime)

    @property
    def metrics(self) -> tuple[MetricIdentity, ...]:
        return self.Trigger.metrics if self.Trigger else ()

    @property
    def threshold(self) -> float | None:
        return self.Trigger.Threshold if self.Trigger else None

    @property
    def arn(self) -> str:
        """Set for every delivered alarm: `AlarmDelivery` fills it in when the message lacks it."""
        return self.AlarmArn or ""

    def with_source(self, topic_arn: str) -> AlarmNotification:
        """Fill in what older and emulator messages leave out, from the topic that carried them."""
        if self.AlarmArn:
            return self
        topic = Arn.parse(topic_arn)
        region = self.Region if self.Region and _REGION_CODE.match(self.Region) else (topic.region if topic else "")
        partition = topic.partition if topic else "aws"
        arn = f"arn:{partition}:cloudwatch:{region}:{self.AWSAccountId}:alarm:{self.AlarmName}"
        return replace(self, AlarmArn=arn)

    @property
    def region(self) -> str:
        """The region code. `Region` in AWS messages is a display name, so it comes from the ARN."""
        arn = Arn.parse(self.arn)
        return arn.region if arn else ""

    @property
    def state_change_key(self) -> dict[str, str]:
        """One alarm state change, however often SNS and Lambda deliver it (SPEC §4)."""
        return {"alarmArn": self.arn, "stateChangeTime": self.StateChangeTime, "newState": self.NewStateValue}


class AlarmDelivery(Struct, frozen=True):
    """One notification as delivered: the alarm plus where it came from."""

    topic_arn: str
    message_id: str
    alarm: AlarmNotification


class _SnsNotification(_Lenient, frozen=True, kw_only=True):
    """The SNS notification of a Lambda event, as far as the runbook reads it.

    Powertools' parser has this model, but importing any of the parser's package imports an
    envelope and the models of every event source Lambda has: a tenth of a cold start, for one
    model. The fields are Powertools' `SnsNotificationModel`'s; the URLs, signature and timestamp
    are not read (local emulators omit or misspell them), the message is checked below.
    """

    Type: Literal["Notification"]
    TopicArn: str
    MessageId: str
    Message: Any
    Subject: str | None = None


class _SnsRecord(_Lenient, frozen=True, kw_only=True):
    EventSource: Literal["aws:sns"] | None = None
    eventSource: Literal["aws:sns"] | None = None  # how some test events and tools spell it
    Sns: _SnsNotification

    def __post_init__(self) -> None:
        if self.EventSource is None and self.eventSource is None:
            raise ValueError("EventSource is missing")


class _SnsEvent(_Lenient, frozen=True, kw_only=True):
    Records: Annotated[list[_SnsRecord], Meta(min_length=1)]


class AlarmSnsEnvelope:
    """SNS records in, `AlarmDelivery` objects out."""

    def parse(self, data: dict[str, Any] | Any | None, model: type[AlarmNotification]) -> list[AlarmDelivery]:
        if not isinstance(data, dict):
            raise InvalidAlarmNotification(f"expected an SNS event object, got {type(data).__name__}")
        try:
            envelope = validated(data, _SnsEvent)
        except ValidationError as error:
            raise InvalidAlarmNotification(f"not an SNS event: {describe_validation(error)}") from error
        return [self._delivery(record.Sns, model) for record in envelope.Records]

    def _delivery(self, sns: _SnsNotification, model: type[AlarmNotification]) -> AlarmDelivery:
        context: dict[str, str | None] = {"topic_arn": sns.TopicArn, "message_id": sns.MessageId}
        message = sns.Message
        if not isinstance(message, str):
            raise InvalidAlarmNotification("SNS Message is not a string", **context)
        size = len(message.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            raise InvalidAlarmNotification(
                f"message is {size} bytes, over the SNS maximum of {MAX_MESSAGE_BYTES}", **context
            )
        try:
            payload = scrubbed(json.loads(message, parse_float=_finite, parse_constant=_not_a_number))
        except json.JSONDecodeError as error:
            raise InvalidAlarmNotification(f"message is not JSON ({error.msg} at {error.pos})", **context) from error
        except ValueError as error:  # NaN, Infinity, 1e999: CloudWatch never sends them
            raise InvalidAlarmNotification(f"message has a non-finite number ({error})", **context) from error
        if not isinstance(payload, dict):
            raise InvalidAlarmNotification("message is JSON but not an object", **context)
        context["alarm_name"] = str(payload.get("AlarmName", "")) or None
        try:
            alarm = validated(payload, model)
        except ValidationError as error:
            raise InvalidAlarmNotification(
                f"not a CloudWatch alarm notification: {describe_validation(error)}", **context
            ) from error
        if not isinstance(alarm, AlarmNotification):
            raise InvalidAlarmNotification("not a CloudWatch alarm notification", **context)
        return AlarmDelivery(topic_arn=sns.TopicArn, message_id=sns.MessageId, alarm=alarm.with_source(sns.TopicArn))


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _not_a_number(text: str) -> float:
    raise ValueError(f"{text} is not a number")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def scrubbed(value: Any) -> Any:
    """`value` with lone surrogates (which JSON escapes can carry, and no log line or UTF-8 encoder
    accepts) replaced by U+FFFD, in strings and keys alike."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrubbed(key): scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value


def parse_deliveries(event: object) -> list[AlarmDelivery]:
    """Parse a Lambda event from SNS. Raises `InvalidAlarmNotification`, never anything else."""
    event = scrubbed(event)
    try:
        deliveries = AlarmSnsEnvelope().parse(event, AlarmNotification)
    except InvalidAlarmNotification:
        raise
    except Exception as error:  # the parser's own envelope/model errors: still bad input
        raise InvalidAlarmNotification(f"unreadable event: {error}") from error
    return deliveries
