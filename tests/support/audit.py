"""Reading the audit trail in tests, and recording which AWS calls were made."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

WRITE_PREFIXES = ("Put", "Update", "Delete", "Create", "Modify", "Set", "Add", "Remove")


def details(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["detail"] for event in events]


def by_outcome(events: Iterable[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    return [event["detail"] for event in events if event["detail"]["outcome"] == outcome]


def for_action(events: Iterable[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if (e["detail"].get("action") or {}).get("name") == action]


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items}"
    return items[0]


class CallRecorder:
    """Every AWS operation made through the given clients, in order."""

    def __init__(self, *clients: Any) -> None:
        self.calls: list[str] = []
        for given in clients:
            client = getattr(given, "client", given)  # unwrap a fake around a real client
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @property
    def writes(self) -> list[str]:
        return [call for call in self.calls if call.startswith(WRITE_PREFIXES)]
