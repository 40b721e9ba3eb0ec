"""`make deploy`: samconfig's environment, the API id, and going live as one parameter."""

from __future__ import annotations

import pytest

from deploy import DeployError, environment, find_rest_api, next_steps, parameters
from support.app import App


def test_every_environment_starts_in_dry_run() -> None:
    for name in ("dev", "prod"):
        env = environment(name)
        assert parameters(env, rest_api_id="abc", live=False, extra={})["DryRun"] == "true"


def test_going_live_is_one_parameter_and_keeps_the_rest() -> None:
    dev = environment("dev")

    given = parameters(dev, rest_api_id="abcdefghij", live=True, extra={"LocalEmulator": "true"})

    assert given["DryRun"] == "false"
    assert given["TargetRestApiId"] == "abcdefghij"
    assert given["TargetFunctionName"] == "printapp-api-dev"
    assert given["LocalEmulator"] == "true"
    assert dev.stack == "printapp-remediation-dev"


def test_an_unknown_environment_is_a_clear_error() -> None:
    with pytest.raises(DeployError, match="no environment 'staging'"):
        environment("staging")


def test_the_api_id_is_found_by_name_or_asked_for(app: App) -> None:
    assert find_rest_api(app.apigateway, "printapp-api") == app.rest_api_id
    with pytest.raises(DeployError, match="give --rest-api-id"):
        find_rest_api(app.apigateway, "printapp-api-dev")


def test_the_next_steps_say_whether_it_acts() -> None:
    assert "DRY RUN" in next_steps("s", {}, dry_run=True)
    assert "LIVE" in next_steps("s", {}, dry_run=False)
