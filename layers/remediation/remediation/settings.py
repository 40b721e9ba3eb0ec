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
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from remediation.errors import ConfigurationError

# The only sizes API Gateway accepts for `cacheClusterSize`, in GB.
VALID_CACHE_SIZES_GB: tuple[Decimal, ...] = tuple(
    Decimal(size) for size in ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
)


class ApprovalMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


def _flag(value: object) -> object:
    """Accept the spellings people type into a console: true/false, 1/0, yes/no, on/off."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on", "enabled"}:
            return True
        if lowered in {"false", "0", "no", "off", "disabled"}:
            return False
    return value


PositiveSeconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]


class Settings(BaseModel):
    """The environment-variable contract. Field aliases are the variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # What the runbook acts on.
    target_function_name: str = Field("printapp-api", alias="TARGET_FUNCTION_NAME", min_length=1)
    target_rest_api_id: str = Field("", alias="TARGET_REST_API_ID")
    target_api_stage: str = Field("prod", alias="TARGET_API_STAGE", min_length=1)
    target_api_name: str = Field("printapp-api", alias="TARGET_API_NAME", min_length=1)
    target_db_instance_id: str = Field("printapp-db", alias="TARGET_DB_INSTANCE_ID", min_length=1)
    media_bucket_name: str = Field("printapp-media", alias="MEDIA_BUCKET_NAME")

    # Where decisions and state go.
    audit_bus_name: str = Field(alias="AUDIT_BUS_NAME", min_length=1)
    state_table_name: str = Field(alias="STATE_TABLE_NAME", min_length=1)

    # Safety switches.
    dry_run: bool = Field(False, alias="DRY_RUN")
    remediation_enabled: bool = Field(True, alias="REMEDIATION_ENABLED")
    kill_switch_parameter: str = Field("", alias="KILL_SWITCH_PARAMETER")
    alarm_topic_arns: tuple[str, ...] = Field((), alias="ALARM_TOPIC_ARNS")

    # Timing.
    cooldown_seconds: PositiveSeconds = Field(300, alias="COOLDOWN_SECONDS")
    db_cooldown_seconds: PositiveSeconds = Field(3600, alias="DB_COOLDOWN_SECONDS")
    scale_down_hysteresis_seconds: PositiveSeconds = Field(900, alias="SCALE_DOWN_HYSTERESIS_SECONDS")
    idempotency_ttl_seconds: PositiveSeconds = Field(24 * 3600, alias="IDEMPOTENCY_TTL_SECONDS")
    lock_ttl_seconds: PositiveSeconds = Field(120, alias="LOCK_TTL_SECONDS")
    #: How long an action waits for another remediation's lock on its target before the
    #: invocation fails (and Lambda delivers the alarm again later).
    lock_wait_seconds: float = Field(15, alias="LOCK_WAIT_SECONDS", ge=0, le=50)

    # Storm breaker: at most this many applied actions per window, then escalate.
    storm_max_actions: int = Field(10, alias="STORM_MAX_ACTIONS", ge=1)
    storm_window_seconds: PositiveSeconds = Field(900, alias="STORM_WINDOW_SECONDS")

    #: The Powertools tracer (the X-Ray SDK: a subsegment per AWS call) around each handler. Off,
    #: Lambda's active tracing still records every invocation, and no cold start pays for the SDK.
    xray_sdk_tracing: bool = Field(False, alias="XRAY_SDK_TRACING")

    # Closed loop (SPEC §9): every applied raise is checked afterwards by the verifier.
    verify_schedule_group: str = Field("printapp-remediation-verify", alias="VERIFY_SCHEDULE_GROUP", min_length=1)
    #: Unset, nothing is scheduled and every Applied event says its change goes unverified.
    verifier_function_arn: str = Field("", alias="VERIFIER_FUNCTION_ARN")
    scheduler_role_arn: str = Field("", alias="SCHEDULER_ROLE_ARN")
    verify_after_seconds: int = Field(600, alias="VERIFY_AFTER_SECONDS", ge=1, le=24 * 3600)
    db_verify_after_seconds: int = Field(1800, alias="DB_VERIFY_AFTER_SECONDS", ge=1, le=24 * 3600)
    verify_max_attempts: int = Field(3, alias="VERIFY_MAX_ATTEMPTS", ge=1, le=10)
    #: EventBridge Scheduler fills in `<aws.scheduler.schedule-arn>`; the local emulator does not
    #: (false there only): then the verifier trusts the state table's record of the decision alone.
    scheduler_context_attributes: bool = Field(True, alias="SCHEDULER_CONTEXT_ATTRIBUTES")
    #: The API 5XX rate (percent) past which a change that raised it is rolled back (the
    #: runbook's error-rate warning); Lambda errors and throttles use the triage levels below.
    rollback_5xx_rate_percent: float = Field(1, alias="ROLLBACK_5XX_RATE_PERCENT", gt=0, le=100)
    #: After a roll-back, the same raise on the same target escalates instead, for this long.
    rollback_hold_seconds: PositiveSeconds = Field(3600, alias="ROLLBACK_HOLD_SECONDS")

    # Spike runbook values.
    reserved_concurrency_target: int = Field(200, alias="RESERVED_CONCURRENCY_TARGET", ge=1)
    critical_reserved_concurrency_target: int = Field(200, alias="CRITICAL_RESERVED_CONCURRENCY_TARGET", ge=1)
    reserved_concurrency_ceiling: int = Field(400, alias="RESERVED_CONCURRENCY_CEILING", ge=1)
    # AWS keeps 100 unreserved by default; some accounts have a lower floor.
    unreserved_concurrency_floor: int = Field(100, alias="UNRESERVED_CONCURRENCY_FLOOR", ge=0)
    # The runbook says 1.0 GB, which API Gateway rejects: 1.6 is the smallest valid size above it.
    cache_size_gb: Decimal = Field(Decimal("1.6"), alias="CACHE_SIZE_GB")
    # Critical latency goes one cache step further.
    critical_cache_size_gb: Decimal = Field(Decimal("6.1"), alias="CRITICAL_CACHE_SIZE_GB")
    cache_size_ceiling_gb: Decimal = Field(Decimal("6.1"), alias="CACHE_SIZE_CEILING_GB")

    # Database runbook values.
    db_approval_mode: ApprovalMode = Field(ApprovalMode.AUTO, alias="DB_APPROVAL_MODE")
    #: How long an approval request can be approved (manual mode).
    approval_ttl_seconds: PositiveSeconds = Field(3600, alias="APPROVAL_TTL_SECONDS")
    db_max_read_replicas: int = Field(2, alias="DB_MAX_READ_REPLICAS", ge=0, le=15)
    db_max_allocated_storage_gb: int = Field(1000, alias="DB_MAX_ALLOCATED_STORAGE_GB", ge=20, le=65536)
    db_instance_class_ceiling: str = Field("", alias="DB_INSTANCE_CLASS_CEILING")

    # Error-rate triage: what counts as a cause, over the alarm's window.
    triage_throttles_min: float = Field(10, alias="TRIAGE_THROTTLES_MIN", ge=0)
    triage_function_errors_min: float = Field(5, alias="TRIAGE_FUNCTION_ERRORS_MIN", ge=0)
    triage_db_cpu_percent: float = Field(80, alias="TRIAGE_DB_CPU_PERCENT", gt=0, le=100)
    #: 0 = connections alone never decide (their healthy level depends on the instance class).
    triage_db_connections_max: float = Field(0, alias="TRIAGE_DB_CONNECTIONS_MAX", ge=0)

    # Warning/critical boundaries of the runbook's table, used to tell the level of an alarm.
    latency_critical_ms: float = Field(1000, alias="LATENCY_CRITICAL_MS", gt=0)
    concurrency_critical: float = Field(800, alias="CONCURRENCY_CRITICAL", gt=0)
    error_rate_critical_percent: float = Field(5, alias="ERROR_RATE_CRITICAL_PERCENT", gt=0)
    db_cpu_critical_percent: float = Field(80, alias="DB_CPU_CRITICAL_PERCENT", gt=0)
    s3_requests_critical_per_second: float = Field(200, alias="S3_REQUESTS_CRITICAL_PER_SECOND", gt=0)

    _flags = field_validator(
        "dry_run", "remediation_enabled", "scheduler_context_attributes", "xray_sdk_tracing", mode="before"
    )(_flag)

    @field_validator("alarm_topic_arns", mode="before")
    @classmethod
    def _split_arns(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(arn.strip() for arn in value.split(",") if arn.strip())
        return value

    @field_validator("cache_size_gb", "critical_cache_size_gb", "cache_size_ceiling_gb")
    @classmethod
    def _cache_size_in_range(cls, value: Decimal) -> Decimal:
        if not VALID_CACHE_SIZES_GB[0] <= value <= VALID_CACHE_SIZES_GB[-1]:
            valid = ", ".join(str(size) for size in VALID_CACHE_SIZES_GB)
            raise ValueError(f"{value} GB is outside the valid cache sizes ({valid})")
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
            )
            raise ConfigurationError(f"invalid remediation configuration: {problems}") from error


@cache
def current_settings() -> Settings:
    """The settings of this Lambda environment, read once per process."""
    return Settings.from_environ()
