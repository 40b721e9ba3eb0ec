"""The layer ships what the functions import, pinned on purpose (layers/remediation/Makefile)."""

from __future__ import annotations

import re
from importlib import metadata

from support.template import ROOT

LAYER = ROOT / "layers" / "remediation"


def _makefile_services() -> set[str]:
    found = re.search(r"^SERVICES := (.+)$", (LAYER / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile names the services whose botocore models the layer keeps"
    return set(found.group(1).split())


def _requirements() -> dict[str, str]:
    pins = {}
    for text in (LAYER / "requirements.txt").read_text().splitlines():
        line = text.split("#", 1)[0].strip()
        if line:
            name, equals, version = line.partition("==")
            assert equals, f"{line}: every layer requirement is pinned with =="
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_the_layer_keeps_the_model_of_every_service_the_engine_calls() -> None:
    clients = (LAYER / "remediation" / "clients.py").read_text()
    called = set(re.findall(r'self\.get\("([a-z0-9-]+)"\)', clients))

    assert called, "remediation/clients.py names its services"
    assert called <= _makefile_services()


def test_one_botocore_pinned_on_purpose_the_one_the_tests_use() -> None:
    pins = _requirements()

    assert {"boto3", "botocore", "msgspec", "aws-lambda-powertools"} <= set(pins)
    for name in ("boto3", "botocore", "msgspec", "aws-lambda-powertools"):
        assert pins[name] == metadata.version(name), f"the layer's {name} is not the one the tests run"
