"""The checks that make it safe to act at 3 a.m. without a human (SPEC §4).

Each check either passes quietly or raises the typed error that names its limit; the engine
turns that into the audit event. None of them writes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from remediation.alarm import Arn
from remediation.errors import CooldownActive, KillSwitchUnreadable, RolledBackHold, UntrustedSource

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from remediation.alarm import AlarmDelivery
    from remediation.settings import Settings
    from remediation.state import RaiseRecord

logger = Logger()

_OFF = frozenset({"false", "0", "off", "no", "disabled"})


def own_arn(invoked_function_arn: str | None) -> Arn:
    """This function's ARN: its partition, region and account are the trust boundary's."""
    arn = Arn.parse(invoked_function_arn or "")
    if arn is None:
        raise UntrustedSource(f"cannot tell this function's account from {invoked_function_arn!r}")
    return arn


def check_trust(delivery: AlarmDelivery, settings: Settings, function: Arn) -> None:
    """Act only on a trusted topic AND an alarm of our own account, partition and region."""
    context = {"topic_arn": delivery.topic_arn, "message_id": delivery.message_id, "alarm_name": delivery.alarm.name}
    account = function.account
    if settings.alarm_topic_arns:
        if delivery.topic_arn not in settings.alarm_topic_arns:
            raise UntrustedSource(f"topic {delivery.topic_arn} is not in ALARM_TOPIC_ARNS", **context)
    else:
        topic = Arn.parse(delivery.topic_arn)
        if topic is None or topic.account != account:
            raise UntrustedSource(
                f"topic {delivery.topic_arn} is not in this function's account {account} (ALARM_TOPIC_ARNS unset)",
                **context,
            )
    alarm = Arn.parse(delivery.alarm.arn)
    if delivery.alarm.account_id != account or alarm is None:
        raise UntrustedSource(
            f"alarm belongs to account {delivery.alarm.account_id}, not this function's account {account}",
            **context,
        )
    if (alarm.partition, alarm.region) != (function.partition, function.region):
        raise UntrustedSource(
            f"alarm {delivery.alarm.arn} is in {alarm.partition}/{alarm.region or '?'}, not this function's "
            f"{function.partition}/{function.region}: its resources are not the ones this function manages",
            **context,
        )


def read_kill_switch(settings: Settings, ssm: SSMClient) -> str | None:
    """Why every handler is audit-only right now, or None when remediation is enabled.

    `REMEDIATION_ENABLED=false`, or the SSM parameter saying so, switches it off. A parameter
    that cannot be read is neither on nor off: `KillSwitchUnreadable` fails the invocation, so
    Lambda retries the alarm rather than acting blind or dropping it.
    """
    if not settings.remediation_enabled:
        return "kill switch: REMEDIATION_ENABLED=false, audit only"
    if not settings.kill_switch_parameter:
        return None
    try:
        value = ssm.get_parameter(Name=settings.kill_switch_parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            logger.warning(
                "kill switch parameter not found; remediation stays enabled",
                extra={"parameter": settings.kill_switch_parameter},
            )
            return None
        raise KillSwitchUnreadable(
            f"kill switch {settings.kill_switch_parameter} could not be read ({error}); not acting, retrying later"
        ) from error
    except BotoCoreError as error:
        raise KillSwitchUnreadable(
            f"kill switch {settings.kill_switch_parameter} could not be read ({error}); not acting, retrying later"
        ) from error
    if value.strip().lower() in _OFF:
        return f"kill switch: SSM parameter {settings.kill_switch_parameter} is {value!r}, audit only"
    return None


def check_cooldown(last: RaiseRecord | None, now: float, cooldown_seconds: int, what: str, correlation_id: str) -> None:
    """One raise per action and target per cooldown, whichever alarm asks; a retry of the state
    change that made the last raise is not held back by it. A raise the verifier rolled back is
    held for ROLLBACK_HOLD_SECONDS, whoever asks: the same raise would do the same harm."""
    if last is not None and last.held_until is not None and now < last.held_until:
        raise RolledBackHold(
            f"{what} was rolled back because it {last.held_because or 'made things worse'}; no raise of it until "
            f"{int(last.held_until - now)} s from now (ROLLBACK_HOLD_SECONDS): a human decides"
        )
    if last is None or last.correlation_id == correlation_id:
        return
    if now - last.applied_at < cooldown_seconds:
        raise CooldownActive(f"{what} was raised {int(now - last.applied_at)} s ago; cooldown is {cooldown_seconds} s")
