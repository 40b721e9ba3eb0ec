"""End to end: the real template deployed to the local AWS, the story played through SNS.

Every assertion reads the emulator (the app's state via its APIs, the decisions via the audit
bus), not the handlers' own return values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

import demo
from fidelity import CHAPTER
from local_aws import LocalAws

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def played(local_aws: LocalAws) -> demo.Played:
    return demo.run(local_aws)


@pytest.fixture(scope="module")
def story(played: demo.Played) -> dict[str, demo.StepResult]:
    return {result.key: result for result in played.results}


def outcomes(step: demo.StepResult) -> list[tuple[str, str | None]]:
    return sorted(((e["detail"]["action"] or {}).get("name", ""), e["detail"]["outcome"]) for e in step.events)


def test_the_first_ok_after_deploy_changes_nothing(story: dict[str, demo.StepResult]) -> None:
    first_ok = story["first-ok"]
    assert sorted((e["detail"]["action"]["name"], e["detail"]["limit"]) for e in first_ok.events) == [
        ("set-reserved-concurrency", "no-baseline"),
        ("set-stage-cache", "no-baseline"),
    ]
    assert first_ok.state["reservedConcurrency"] == 100
    assert first_ok.state["cacheEnabled"] is False


def test_a_spike_raises_concurrency_and_enables_the_cache(story: dict[str, demo.StepResult]) -> None:
    spike = story["spike"]
    assert outcomes(spike) == [("set-reserved-concurrency", "applied"), ("set-stage-cache", "applied")]
    assert spike.state["reservedConcurrency"] == 200
    assert (spike.state["cacheEnabled"], spike.state["cacheSizeGb"]) == (True, "1.6")
    assert {e["detail"]["handler"] for e in spike.events} == {"spike_handler"}


def test_the_same_notification_again_acts_once(story: dict[str, demo.StepResult]) -> None:
    assert story["duplicate"].events == []
    assert story["duplicate"].state == story["spike"].state


def test_scale_down_waits_for_hysteresis_then_restores_the_baseline(story: dict[str, demo.StepResult]) -> None:
    too_soon = story["recovery-too-soon"]
    assert [e["detail"]["limit"] for e in too_soon.events] == ["hysteresis"]
    assert too_soon.state["reservedConcurrency"] == 200
    recovery = story["recovery"]
    assert outcomes(recovery) == [("set-reserved-concurrency", "applied"), ("set-stage-cache", "applied")]
    assert (recovery.state["reservedConcurrency"], recovery.state["cacheEnabled"]) == (100, False)


def test_database_cpu_takes_the_no_outage_steps_then_one_class_step(story: dict[str, demo.StepResult]) -> None:
    warning = story["db-warning"]
    assert outcomes(warning) == [("add-read-replica", "applied"), ("enable-storage-autoscaling", "applied")]
    assert warning.state["maxAllocatedStorageGb"] == 1000
    assert warning.state["readReplicas"] == ["printapp-db-replica-1"]
    assert warning.state["instanceClass"] == "db.r5.large"
    critical = story["db-critical"]
    assert outcomes(critical) == [("step-up-instance-class", "applied")]
    assert critical.state["instanceClass"] == "db.r5.xlarge"


def test_a_class_step_in_manual_mode_waits_for_an_approval_and_applies_once(story: dict[str, demo.StepResult]) -> None:
    requested = story["approval-requested"]
    assert [e["detail-type"] for e in requested.events] == ["Approval Requested"]
    assert requested.state["instanceClass"] == "db.r5.xlarge"
    request = requested.events[0]["detail"]
    approved = story["approved"]
    assert [e["detail-type"] for e in approved.events] == ["Remediation Applied"]
    detail = approved.events[0]["detail"]
    assert (detail["handler"], detail["approval"]["requestDecisionId"]) == ("approval_handler", request["decisionId"])
    assert detail["approval"]["approver"].startswith("arn:")
    assert approved.state["instanceClass"] == "db.r5.2xlarge"
    again = story["approved-again"]
    assert [(e["detail-type"], e["detail"]["limit"]) for e in again.events] == [
        ("Remediation Skipped", "already-approved")
    ]
    assert again.state["instanceClass"] == "db.r5.2xlarge"


def test_error_rate_triage_routes_throttling_and_escalates_the_rest(story: dict[str, demo.StepResult]) -> None:
    throttling = story["error-rate-throttling"]
    assert outcomes(throttling) == [("set-reserved-concurrency", "applied")]
    assert throttling.events[0]["detail"]["evidence"]["triage"]["cause"] == "throttling"
    assert throttling.state["reservedConcurrency"] == 200
    unknown = story["error-rate-unknown"]
    assert [e["detail-type"] for e in unknown.events] == ["Escalation Required"]
    assert unknown.state == throttling.state
    advisory = story["s3-advisory"]
    assert [e["detail-type"] for e in advisory.events] == ["Escalation Required"]
    assert "printapp-media" in advisory.events[0]["detail"]["reason"]


def test_an_untrusted_sender_is_rejected(story: dict[str, demo.StepResult]) -> None:
    untrusted = story["untrusted"]
    assert [(e["detail-type"], e["detail"]["limit"]) for e in untrusted.events] == [
        ("Alarm Rejected", "trust-boundary")
    ]
    assert untrusted.state == story["s3-advisory"].state


def test_dry_run_plans_and_changes_nothing(story: dict[str, demo.StepResult]) -> None:
    dry_run = story["dry-run"]
    assert {e["detail-type"] for e in dry_run.events} == {"Remediation Planned"}
    assert all(e["detail"]["dryRun"] for e in dry_run.events)
    assert (dry_run.state["reservedConcurrency"], dry_run.state["cacheEnabled"]) == (100, False)


def test_a_lasting_failure_is_audited_retried_and_kept_in_the_dlq(story: dict[str, demo.StepResult]) -> None:
    failure = story["failure"]
    assert {e["detail-type"] for e in failure.events} == {"Remediation Failed"}
    # the first attempt and Lambda's two retries each ran and each was audited
    assert len(failure.events) == 3
    assert len(failure.dead_letters) == 1
    payload = failure.dead_letters[0]["requestPayload"]
    assert "printapp-db-gone" in payload["Records"][0]["Sns"]["Message"]


def test_every_event_of_the_story_is_a_valid_audit_event(story: dict[str, demo.StepResult]) -> None:
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "audit-event.schema.json").read_text())
    validator = Draft4Validator(schema)
    for step in story.values():
        for event in step.events:
            assert not list(validator.iter_errors(event)), (step.key, event)


def test_the_story_writes_its_json_lines_and_png(story: dict[str, demo.StepResult], tmp_path: Path) -> None:
    files = demo.write_outputs(list(story.values()), tmp_path)

    lines = files["events"].read_text().splitlines()
    assert len(lines) == sum(len(step.events) for step in story.values())
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_local_aws_leaves_no_process_behind() -> None:
    aws = LocalAws().start()
    pid = aws._process.pid if aws._process else 0
    aws.stop()

    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_the_dashboard_and_the_remediators_own_alarms_are_deployed(
    story: dict[str, demo.StepResult], local_aws: LocalAws
) -> None:
    cloudwatch = local_aws.client("cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName="PrintAppScaling")["DashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert "Capacity as the remediation set it" in titles
    assert "Remediation decisions, by outcome" in titles
    names = [
        a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNamePrefix="printapp-remediation-")["MetricAlarms"]
    ]
    assert "printapp-remediation-remediation-failed" in names
    assert "printapp-remediation-spike-handler-dead-letters" in names


def _verdicts(step: demo.StepResult) -> list[tuple[str, str, int]]:
    return sorted(
        (e["detail"]["action"]["name"], e["detail"]["outcome"], e["detail"]["verifies"]["round"])
        for e in step.events
        if e["detail"]["handler"] == "verifier"
    )


def test_the_verifier_verifies_a_change_that_helped(story: dict[str, demo.StepResult]) -> None:
    step = story["verify-verified"]
    assert _verdicts(step) == [("set-reserved-concurrency", "verified", 1), ("set-stage-cache", "verified", 1)]
    # each verdict names the decision it checked, in that decision's correlation
    applied = {e["detail"]["decisionId"]: e["detail"] for e in step.events if e["detail"]["outcome"] == "applied"}
    for event in step.events:
        detail = event["detail"]
        if detail["handler"] == "verifier":
            checked = applied[detail["verifies"]["decisionId"]]
            assert detail["correlationId"] == checked["correlationId"]
            assert event["detail-type"] == "Remediation Verified"


def test_an_ineffective_cache_takes_the_critical_step_which_is_then_verified(
    story: dict[str, demo.StepResult],
) -> None:
    step = story["verify-ineffective"]
    verdicts = _verdicts(step)
    assert ("set-stage-cache", "ineffective", 1) in verdicts
    assert ("set-stage-cache", "applied", 1) in verdicts  # the next step, a decision of the verifier's
    assert ("set-stage-cache", "verified", 2) in verdicts
    assert (step.state["cacheEnabled"], step.state["cacheSizeGb"]) == (True, "6.1")


def test_a_change_undone_by_hand_is_reported_as_drift(story: dict[str, demo.StepResult]) -> None:
    step = story["verify-drifted"]
    assert ("set-stage-cache", "drifted", 1) in _verdicts(step)
    assert step.state["cacheEnabled"] is False  # not fought


def test_a_change_that_made_things_worse_is_rolled_back(story: dict[str, demo.StepResult]) -> None:
    step = story["verify-rolled-back"]
    verdicts = _verdicts(step)
    assert ("set-reserved-concurrency", "rolled-back", 1) in verdicts
    assert ("set-stage-cache", "verified", 1) in verdicts  # a cache cannot cause the function's errors
    assert step.state["reservedConcurrency"] == 100


def test_a_replay_of_the_local_aws_history_decides_as_the_deployed_functions_did(played: demo.Played) -> None:
    fidelity = played.fidelity
    # the chapter's five state changes and the first OK after deploy, read back from DescribeAlarmHistory
    assert fidelity.changes == 6
    assert fidelity.mismatches == []
    # decision by decision: every one the deployed functions made in the chapter, and nothing more
    assert len(fidelity.rows) == sum(len(step.events) for step in played.results if step.key in CHAPTER)
    assert ("printapp-remediation-db-cpu-critical", "ALARM", "db_cpu_handler", "step-up-instance-class") in {
        key for key, _, _ in fidelity.rows
    }
    # and read-only, through the guard that refuses anything but Describe/Get/List
    assert "DescribeAlarmHistory" in fidelity.calls
    assert all(call.startswith(("Describe", "Get", "List")) for call in fidelity.calls)
