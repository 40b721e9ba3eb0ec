"""The collaborators one invocation works with, travelling as one object.

Live handlers build it from the environment; tests, the approval handler, the verifier and a
replay build it with their own clients, state, audit trail and clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from remediation.audit import AuditPublisher, AuditTrail
from remediation.clients import Clients
from remediation.settings import Settings
from remediation.state import StateStore


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    clients: Clients
    state: StateStore
    audit: AuditTrail
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def create(
        cls,
        handler: str,
        settings: Settings,
        clients: Clients,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Runtime:
        return cls(
            settings=settings,
            clients=clients,
            state=StateStore(clients.dynamodb, settings.state_table_name, clock=clock, sleep=sleep),
            audit=AuditTrail(
                AuditPublisher(clients.events, settings.audit_bus_name, sleep=sleep), handler, dry_run=settings.dry_run
            ),
            clock=clock,
        )
