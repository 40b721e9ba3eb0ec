"""Configuration: one typed object, read once from the environment (SPEC §6).

Every knob has the runbook's value as its default, so the runbook is the configuration
until someone decides otherwise; changing a value is a parameter change, not a code change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

from msgspec import Meta, Struct
from msgspec.structs import fields

from remediation.errors import ConfigurationError
from remediation.validation import ValidationError, describe_validation, validated

# The only sizes API Gateway accepts for `cacheClusterSize`, in GB.
VALID_CACHE_SIZES_GB: tuple[Decimal, ...] = tuple(
    Decimal(size) for size in ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
)


class ApprovalMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


def _flag(value: str) -> str:
    """Accept the spellings people type into a console: true/false, 1/0, yes/no, on/off."""
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on", "enabled"}:
        return "true"
    if lowered in {"false", "0", "no", "off", "disabled"}:
        return "false"
    return value


PositiveSeconds = Annotated[int, Meta(ge=0, le=7 * 24 * 3600)]
NonEmpty = Annotated[str, Meta(min_length=1)]


class Settings(Struct, frozen=True, kw_only=True, rename="upper"):
    """The environment-variable contract. Each variable is its field's name in upper case."""

    # What the runbook acts on.
    target_function_name: NonEmpty = "printapp-api"
    target_rest_api_id: str = ""
    target_api_stage: NonEmpty = "prod"
    target_api_name: NonEmpty = "printapp-api"
    target_db_instance_id: NonEmpty = "printapp-db"
    media_bucket_name: str = "printapp-media"

    # Where decisions and state go.
    audit_bus_name: NonEmpty
    state_table_name: NonEmpty

    # Safety switches.
    dry_run: bool = False
    remediation_enabled: bool = True
    kill_switch_parameter: str = ""
    alarm_topic_arns: tuple[str, ...] = ()

    # Timing.
    cooldown_seconds: PositiveSeconds = 300
    db_cooldown_seconds: PositiveSeconds = 3600
    scale_down_hysteresis_seconds: PositiveSeconds = 900
    idempotency_ttl_seconds: PositiveSeconds = 24 * 3600
    lock_ttl_seconds: PositiveSeconds = 120
    #: How long an action waits for another remediation's lock on its target before the
    #: invocation fails (and Lambda delivers the alarm again later).
    lock_wait_seconds: Annotated[float, Meta(ge=0, le=50)] = 15

    # Storm breaker: at most this many applied actions per window, then escalate.
    storm_max_actions: Annotated[int, Meta(ge=1)] = 10
    storm_window_seconds: PositiveSeconds = 900

    #: The Powertools tracer (the X-Ray SDK: a subsegment per AWS call) around each handler. Off,
    #: Lambda's active tracing still records every invocation, and no cold start pays for the SDK.
    xray_sdk_tracing: bool = False

    # Closed loop (SPEC §9): every applied raise is checked afterwards by the verifier.
    verify_schedule_group: NonEmpty = "printapp-remediation-verify"
    #: Unset, nothing is scheduled and every Applied event says its change goes unverified.
    verifier_function_arn: str = ""
    scheduler_role_arn: str = ""
    verify_after_seconds: Annotated[int, Meta(ge=1, le=24 * 3600)] = 600
    db_verify_after_seconds: Annotated[int, Meta(ge=1, le=24 * 3600)] = 1800
    verify_max_attempts: Annotated[int, Meta(ge=1, le=10)] = 3
    #: EventBridge Scheduler fills in `<aws.scheduler.schedule-arn>`; the local emulator does not
    #: (false there only): then the verifier trusts the state table's record of the decision alone.
    scheduler_context_attributes: bool = True
    #: The API 5XX rate (percent) past which a change that raised it is rolled back (the
    #: runbook's error-rate warning); Lambda errors and throttles use the triage levels below.
    rollback_5xx_rate_percent: Annotated[float, Meta(gt=0, le=100)] = 1
    #: After a roll-back, the same raise on the same target escalates instead, for this long.
    rollback_hold_seconds: PositiveSeconds = 3600

    # Spike runbook values.
    reserved_concurrency_target: Annotated[int, Meta(ge=1)] = 200
    critical_reserved_concurrency_target: Annotated[int, Meta(ge=1)] = 200
    reserved_concurrency_ceiling: Annotated[int, Meta(ge=1)] = 400
    # AWS keeps 100 unreserved by default; some accounts have a lower floor.
    unreserved_concurrency_floor: Annotated[int, Meta(ge=0)] = 100
    # The runbook says 1.0 GB, which API Gateway rejects: 1.6 is the smallest valid size above it.
    cache_size_gb: Decimal = Decimal("1.6")
    # Critical latency goes one cache step further.
    critical_cache_size_gb: Decimal = Decimal("6.1")
    cache_size_ceiling_gb: Decimal = Decimal("6.1")

    # Database runbook values.
    db_approval_mode: ApprovalMode = ApprovalMode.AUTO
    #: How long an approval request can be approved (manual mode).
    approval_ttl_seconds: PositiveSeconds = 3600
    db_max_read_replicas: Annotated[int, Meta(ge=0, le=15)] = 2
    db_max_allocated_storage_gb: Annotated[int, Meta(ge=20, le=65536)] = 1000
    db_instance_class_ceiling: str = ""

    # Error-rate triage: what counts as a cause, over the alarm's window.
    triage_throttles_min: Annotated[float, Meta(ge=0)] = 10
    triage_function_errors_min: Annotated[float, Meta(ge=0)] = 5
    triage_db_cpu_percent: Annotated[float, Meta(gt=0, le=100)] = 80
    #: 0 = connections alone never decide (their healthy level depends on the instance class).
    triage_db_connections_max: Annotated[float, Meta(ge=0)] = 0

    # Warning/critical boundaries of the runbook's table, used to tell the level of an alarm.
    latency_critical_ms: Annotated[float, Meta(gt=0)] = 1000
    concurrency_critical: Annotated[float, Meta(gt=0)] = 800
    error_rate_critical_percent: Annotated[float, Meta(gt=0)] = 5
    db_cpu_critical_percent: Annotated[float, Meta(gt=0)] = 80
    s3_requests_critical_per_second: Annotated[float, Meta(gt=0)] = 200

    def __post_init__(self) -> None:
        for name in ("cache_size_gb", "critical_cache_size_gb", "cache_size_ceiling_gb"):
            value = getattr(self, name)
            if not VALID_CACHE_SIZES_GB[0] <= value <= VALID_CACHE_SIZES_GB[-1]:
                valid = ", ".join(str(size) for size in VALID_CACHE_SIZES_GB)
                raise ValueError(f"{name.upper()}: {value} GB is outside the valid cache sizes ({valid})")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        variables: dict[str, Any] = dict(os.environ if environ is None else environ)
        for field in fields(cls):
            text = variables.get(field.encode_name)
            if text is None:
                continue
            if field.type is bool:
                variables[field.encode_name] = _flag(text)
            elif field.type == tuple[str, ...]:  # a comma-separated list
                variables[field.encode_name] = [item.strip() for item in text.split(",") if item.strip()]
        try:
            return validated(variables, cls, from_text=True)
        except ValidationError as error:
            raise ConfigurationError(f"invalid remediation configuration: {describe_validation(error)}") from error


@cache
def current_settings() -> Settings:
    """The settings of this Lambda environment, read once per process."""
    return Settings.from_environ()
