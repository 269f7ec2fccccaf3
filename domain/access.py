"""Who may do what: the roles' table and the scope checks, pure (no I/O, no clock).

A route declares the ``Ability`` it exercises; the role table says which roles hold it; a scoped
role (a dispatcher bound to a repair center, a device bound to a vehicle) is then checked
against the resource's own repair center or vehicle, which the route looks up. Every refusal
is ``Forbidden`` with the reason, answered 403.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts.access import Role
from domain.errors import DomainError

__all__ = [
    "ABILITIES",
    "DEFAULT_READ",
    "DEFAULT_WRITE",
    "Ability",
    "Forbidden",
    "Principal",
    "Role",
    "may",
    "require",
    "require_center",
    "require_vehicle",
    "sees_personal_data",
]


class Forbidden(DomainError):
    """The token is valid but its role or scope does not cover the request: 403, with why."""


class Ability(StrEnum):
    """What a route does, in the terms the role table speaks."""

    RECORD_CALLS = "record_calls"  # intake: calls (A), issue (B), callback
    READ_INTAKE = "read_intake"
    ACT_ON_ORDERS = "act_on_orders"  # receipt (C), dispatch (D), recall: scoped to a center
    MANAGE_VEHICLES = "manage_vehicles"  # availability (rule 6): scoped to a center
    ANSWER_ESCALATIONS = "answer_escalations"  # rules 1 and 2: scoped to a center
    REPORT_FROM_UNIT = "report_from_unit"  # E–H, positions, device faults: scoped to a vehicle
    READ_DISPATCH = "read_dispatch"  # orders, vehicles, centers, escalations: scoped
    DEFINE_REFERENCE = "define_reference"  # repair centers, crews, vehicles, routing rules
    RECORD_INCIDENTS = "record_incidents"  # network incidents: who answers for BC and DE
    READ_ALL = "read_all"  # the timeline, reference history, anything else one reads
    ADMINISTER = "administer"  # policies, replays, re-judgements
    BACKDATE_INCIDENTS = "backdate_incidents"  # an incident older than the window, with a reason
    SEE_PERSONAL_DATA = "see_personal_data"  # the caller's name and phone
    IDENTIFY = "identify"  # whoami, readiness
    READ_METRICS = "read_metrics"  # /metrics: the monitoring system's scrape


_EVERYONE = frozenset(Role)
ABILITIES: Mapping[Ability, frozenset[Role]] = {
    Ability.RECORD_CALLS: frozenset({Role.PHONE_SYSTEM}),
    Ability.READ_INTAKE: frozenset({Role.PHONE_SYSTEM, Role.AUDITOR, Role.ADMIN}),
    Ability.ACT_ON_ORDERS: frozenset({Role.DISPATCHER}),
    Ability.MANAGE_VEHICLES: frozenset({Role.DISPATCHER}),
    Ability.ANSWER_ESCALATIONS: frozenset({Role.DISPATCHER}),
    Ability.REPORT_FROM_UNIT: frozenset({Role.DEVICE}),
    Ability.READ_DISPATCH: frozenset({Role.DISPATCHER, Role.DEVICE, Role.AUDITOR, Role.ADMIN}),
    Ability.DEFINE_REFERENCE: frozenset({Role.ADMIN}),
    Ability.RECORD_INCIDENTS: frozenset({Role.ADMIN, Role.MONITORING}),
    Ability.READ_ALL: frozenset({Role.AUDITOR, Role.ADMIN}),
    Ability.ADMINISTER: frozenset({Role.ADMIN}),
    Ability.BACKDATE_INCIDENTS: frozenset({Role.ADMIN}),
    Ability.SEE_PERSONAL_DATA: frozenset({Role.PHONE_SYSTEM}),
    Ability.IDENTIFY: _EVERYONE,
    Ability.READ_METRICS: frozenset({Role.MONITORING, Role.ADMIN}),
}
"""Role by ability. The auditor reads everything and writes nothing; personal data is the phone
system's alone (it took the call); a dispatcher and a device hold only scoped abilities."""

DEFAULT_READ = Ability.READ_ALL
"""What a GET route that declares nothing requires: a new router is readable by auditors and
admins until it says more."""
DEFAULT_WRITE = Ability.ADMINISTER
"""What any other route that declares nothing requires: fail closed, to admins only."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    token_id: str
    role: Role
    expires_at: datetime
    repair_center_id: str | None = None
    vehicle_id: str | None = None

    @property
    def name(self) -> str:
        """How events and logs name the bearer: the token id and role, never the token."""
        return f"{self.role.value}:{self.token_id}"

    def scope_text(self) -> str:
        if self.repair_center_id is not None:
            return f" of repair center {self.repair_center_id!r}"
        if self.vehicle_id is not None:
            return f" of vehicle {self.vehicle_id!r}"
        return ""


def may(role: Role, ability: Ability) -> bool:
    return role in ABILITIES[ability]


def require(principal: Principal, *abilities: Ability, what: str) -> Ability:
    """The first of ``abilities`` the principal's role holds; ``Forbidden`` saying who may else."""
    for ability in abilities:
        if may(principal.role, ability):
            return ability
    allowed = sorted({role.value for ability in abilities for role in ABILITIES[ability]})
    raise Forbidden(
        f"role {principal.role.value!r} may not {what}; allowed: {', '.join(allowed) or 'nobody'}"
    )


def require_center(principal: Principal, repair_center_id: str | None, what: str) -> None:
    """A dispatcher acts only on its own repair center's orders, vehicles and escalations.

    ``repair_center_id`` is the resource's (``None``: it belongs to no center yet, which a
    dispatcher may not touch either). Roles without a center scope pass: the role table
    already decided for them."""
    if principal.role is Role.DEVICE:
        raise Forbidden(f"a device token may not {what}")
    if principal.role is not Role.DISPATCHER:
        return
    if repair_center_id is None or repair_center_id != principal.repair_center_id:
        held = "no repair center" if repair_center_id is None else repr(repair_center_id)
        raise Forbidden(
            f"the dispatcher of repair center {principal.repair_center_id!r} may not {what} "
            f"of {held}"
        )


def require_vehicle(principal: Principal, vehicle_id: str, what: str) -> None:
    """A device speaks and reads only for its own vehicle."""
    if principal.role is Role.DEVICE and vehicle_id != principal.vehicle_id:
        raise Forbidden(
            f"the device of vehicle {principal.vehicle_id!r} may not {what} of vehicle "
            f"{vehicle_id!r}"
        )


def sees_personal_data(principal: Principal) -> bool:
    """Whether answers to this principal may carry a caller's name and phone."""
    return may(principal.role, Ability.SEE_PERSONAL_DATA)
