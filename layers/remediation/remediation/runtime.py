"""The collaborators one invocation works with, travelling as one object.

Live handlers build it from the environment; tests, the approval handler, the verifier and a
replay build it with their own clients, state, audit trail and clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from msgspec import Struct, field

from remediation.audit import AuditPublisher, AuditTrail
from remediation.clients import Clients, default_clients
from remediation.settings import Settings, current_settings
from remediation.state import StateStore


class Runtime(Struct, frozen=True):
    settings: Settings
    clients: Clients
    state: StateStore
    audit: AuditTrail
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def create(
        cls,
        handler: str,
        settings: Settings | None = None,
        clients: Clients | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Runtime:
        """Unset, settings and clients are this Lambda environment's (read once per process)."""
        settings = settings or current_settings()
        clients = clients or default_clients()
        return cls(
            settings=settings,
            clients=clients,
            state=StateStore(clients.dynamodb, settings.state_table_name, clock=clock, sleep=sleep),
            audit=AuditTrail(
                AuditPublisher(clients.events, settings.audit_bus_name, sleep=sleep), handler, dry_run=settings.dry_run
            ),
            clock=clock,
        )
