"""Records in flight at an upgrade read back: what the state table holds from before the typed edge moved to msgspec."""

from __future__ import annotations

import json
from decimal import Decimal

from remediation.actions.base import Direction
from remediation.actions.instance_class import InstanceClassStep
from remediation.actions.read_replica import ReadReplica
from remediation.actions.reserved_concurrency import ReservedConcurrency
from remediation.actions.stage_cache import StageCache
from remediation.actions.storage_autoscaling import StorageAutoscaling
from remediation.alarm import AlarmNotification, parse_deliveries
from remediation.validation import as_json, validated
from support.app import ROOT, load_event

RECORDS = json.loads((ROOT / "tests" / "data" / "records-written-with-pydantic.json").read_text())


def test_an_alarm_stored_by_the_pydantic_version_reads_back_as_the_same_alarm() -> None:
    # Given the alarm a fixed plan, an approval request or a verifier's record kept before the upgrade
    stored = RECORDS["alarm"]

    # When the engine reads it back today
    alarm = validated(stored, AlarmNotification)

    # Then it is the alarm today's edge parses from the same notification, and it stores the same way again
    (delivery,) = parse_deliveries(load_event("latency-warning"))
    assert alarm == delivery.alarm
    assert validated(as_json(alarm), AlarmNotification) == alarm


def test_parameters_stored_by_the_pydantic_version_read_back_as_the_same_parameters() -> None:
    # Given each action's parameters as the pydantic version stored them (snake_case, Decimals as text)
    stored = RECORDS["params"]

    # When a retry, the approval handler or the verifier reads them back
    read = {
        "StageCache": StageCache.from_json(stored["StageCache"]),
        "ReservedConcurrency": ReservedConcurrency.from_json(stored["ReservedConcurrency"]),
        "ReservedConcurrency/restore": ReservedConcurrency.from_json(stored["ReservedConcurrency/restore"]),
        "InstanceClassStep": InstanceClassStep.from_json(stored["InstanceClassStep"]),
        "ReadReplica": ReadReplica.from_json(stored["ReadReplica"]),
        "StorageAutoscaling": StorageAutoscaling.from_json(stored["StorageAutoscaling"]),
    }

    # Then they are the parameters that were stored, and today's engine stores them the same way
    assert read == {
        "StageCache": StageCache(size_gb=Decimal("1.6")),
        "ReservedConcurrency": ReservedConcurrency(value=200),
        "ReservedConcurrency/restore": ReservedConcurrency(value=None, direction=Direction.RESTORE),
        "InstanceClassStep": InstanceClassStep(to="db.r5.xlarge"),
        "ReadReplica": ReadReplica(max_replicas=2, name="printapp-db-replica-1"),
        "StorageAutoscaling": StorageAutoscaling(max_allocated_storage_gb=1000),
    }
    assert {name: params.as_json() for name, params in read.items()} == stored
