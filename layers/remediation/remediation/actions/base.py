"""What every runbook action declares, in the manner of Cloud Custodian's actions.

An action is one file. It says its name, the IAM permissions it needs (a test checks the
template grants them), its typed parameters with their bounds, how it reads the current state
(the audit event's `before`), how it plans the change within its own limits (ceilings, account
headroom, only-raise) and how it applies it, reading the result back (`after`).

Everything shared (verification, cooldowns, locks, storm breaker, kill switch, dry-run, approval
mode, audit, error mapping) lives once, in the engine's pipeline (`remediation.pipeline`).

Converge, don't increment: a plan names the value it sets ("db.r5.xlarge", not "one step up"),
and `pins` fixes the parameters a retry of the same alarm state change must reuse, so a retry
sets what the first attempt planned and `holds` tells when that is already in place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from remediation.errors import Limit
from remediation.validation import as_json, camel, validated

if TYPE_CHECKING:
    from remediation.clients import Clients
    from remediation.settings import Settings


class Direction(StrEnum):
    #: Scale up: only ever raises, subject to cooldown, records the baseline first.
    RAISE = "raise"
    #: Scale down to a recorded baseline: subject to hysteresis (decided by the runbook).
    RESTORE = "restore"


class ActionParameters(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An action's typed parameters, bounds included. A runbook builds them from settings (already
    checked); the engine checks them (`checked`) before anything acts on them."""

    direction: Direction = Direction.RAISE

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parameters as stored (`as_json`): a fixed plan, an approval request, a verifier's next step."""
        return validated(data, cls)

    def checked(self) -> Self:
        """These parameters, with their bounds and the type's own rules checked (a constructor does not)."""
        return self.from_json(self.as_json())

    def as_json(self) -> dict[str, Any]:
        """As stored in the state table: snake_case, every field."""
        stored: dict[str, Any] = as_json(self)
        return stored

    def for_audit(self) -> dict[str, Any]:
        """As the audit event's `action.parameters` shows them: camelCase, unset ones left out."""
        return {camel(key): value for key, value in self.as_json().items() if value is not None}

    def pinned(self, pins: Mapping[str, Any]) -> Self:
        """The same parameters with what the first attempt fixed (`Plan.pins`) in place."""
        return replace(self, **pins)


P = TypeVar("P", bound=ActionParameters)


class Plan(Struct, frozen=True):
    """The change an action will make, after its own limits had their say."""

    after: Mapping[str, Any]
    #: One line for the audit event's `reason`.
    summary: str
    #: Effective parameters, e.g. the requested and the granted value.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: Set when a limit shaped the change (it was applied only in part).
    limit: Limit | None = None
    #: Parameters a retry of the same alarm state change must reuse (the concrete target chosen).
    pins: Mapping[str, Any] = field(default_factory=dict)


class Action(ABC, Generic[P]):
    name: ClassVar[str]
    #: IAM actions this action calls, reads included.
    permissions: ClassVar[tuple[str, ...]]
    parameters: ClassVar[type[ActionParameters]]
    #: True when applying it interrupts the app (DB class change): subject to approval mode.
    causes_outage: ClassVar[bool] = False

    def __init__(self, clients: Clients, settings: Settings) -> None:
        self.clients = clients
        self.settings = settings

    @abstractmethod
    def target(self) -> str:
        """The resource acted on: the key for locks, cooldowns and baselines."""

    def cooldown_seconds(self) -> int:
        return self.settings.cooldown_seconds

    def verify_after_seconds(self) -> int:
        """How long after an applied raise the verifier checks whether it helped."""
        return self.settings.verify_after_seconds

    @abstractmethod
    def read(self, params: P) -> dict[str, Any]:
        """The current state of the target (the `before`)."""

    def shared_read(self) -> str | None:
        """A name for what `read` reads when other actions read the same (and `apply` returns it
        whole, as it is after the change): a run then reads it once and passes it on."""
        return None

    @abstractmethod
    def plan(self, before: Mapping[str, Any], params: P) -> Plan:
        """Decide the change. Raises a `LimitReached` when nothing may change."""

    @abstractmethod
    def apply(self, plan: Plan, params: P) -> dict[str, Any]:
        """Make the change and return the state read back from AWS (the `after`)."""

    def holds(self, current: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        """Whether the target already has what a plan sets (a retry after the change took effect)."""
        return all(current.get(key) == value for key, value in after.items())

    def baseline(self, before: Mapping[str, Any]) -> dict[str, Any]:
        """What a later scale-down restores: by default the whole `before`."""
        return dict(before)

    def capacity(self, after: Mapping[str, Any]) -> dict[str, float]:
        """The app's capacity once applied, as dashboard metrics (name → value)."""
        return {}
