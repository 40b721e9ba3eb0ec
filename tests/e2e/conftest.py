"""One local AWS for every end-to-end test: started once, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_aws import LocalAws


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws
