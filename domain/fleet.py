"""Vehicles as a repair center sees them: state, who stands by, who is best sent, who is short.

Pure functions over what dispatch has recorded: a vehicle's open orders and what its unit and
dispatchers said of it. Rule 3 (a unit holds a queue of orders), rule 5 (capacity), rule 6 (not
all of a trade unavailable at once) and rule 7 (a faulty unit is flagged, not hidden).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from contracts import CrewArrived, CrewDeparted, Position
from domain.orders import OrderState


class VehicleState(StrEnum):
    STANDBY = "standby"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    UNAVAILABLE = "unavailable"


_BUSIEST_FIRST = (VehicleState.ON_SITE, VehicleState.EN_ROUTE, VehicleState.ASSIGNED)


def stage_on_vehicle(state: OrderState) -> VehicleState | None:
    """What the order's attempt under way asks of its vehicle; None once it asks nothing."""
    dispatched = state.dispatched
    if dispatched is None or state.done:
        return None
    reports = state.reports_of(dispatched)
    if any(isinstance(r, CrewArrived) for r in reports):
        return VehicleState.ON_SITE
    if any(isinstance(r, CrewDeparted) for r in reports):
        return VehicleState.EN_ROUTE
    return VehicleState.ASSIGNED


def vehicle_state(unavailable: bool, stages: Iterable[VehicleState]) -> VehicleState:
    """Unavailable when its crew said so; else the busiest of its orders' stages; else standby."""
    if unavailable:
        return VehicleState.UNAVAILABLE
    held = set(stages)
    return next((s for s in _BUSIEST_FIRST if s in held), VehicleState.STANDBY)


@dataclass(frozen=True)
class Group:
    """Vehicles whose crews share a repair center, department and trade (rule 6's "same trade")."""

    repair_center_id: str
    department: str | None
    trade: str | None

    @property
    def key(self) -> str:
        return f"{self.repair_center_id}/{self.department or '*'}/{self.trade or '*'}"

    def __str__(self) -> str:
        return f"{self.department or 'any department'} / {self.trade or 'any trade'}"


def unavailability_refusal(group: Group, others_standing_by: Sequence[str]) -> str | None:
    """Rule 6: why a vehicle may not leave standby, or None when another of its group stands by."""
    if others_standing_by:
        return None
    return (
        f"no other vehicle of {group} at repair center {group.repair_center_id} is on standby: "
        "staff of the same trade may not all be unavailable at once (rule 6)"
    )


@dataclass(frozen=True)
class Fleet:
    """One vehicle as the ranking needs it."""

    vehicle_id: str
    crew_id: str
    department: str
    trade: str
    state: VehicleState
    device_faulty: bool
    position: Position | None


@dataclass(frozen=True)
class Candidate:
    rank: int
    vehicle: Fleet
    distance_km: float | None
    reason: str


def of_group(vehicle: Fleet, department: str | None, trade: str | None) -> bool:
    """Right department and trade for an order that names them (an order naming none fits all)."""
    return (department is None or vehicle.department == department) and (
        trade is None or vehicle.trade == trade
    )


def blocked_reason(department: str | None, trade: str | None, fleet: Iterable[Fleet]) -> str | None:
    """Rule 5: why the order cannot go to a suitable standby vehicle (right department and trade,
    on standby, its unit working), or None when one stands by."""
    group = [v for v in fleet if of_group(v, department, trade)]
    if any(v.state is VehicleState.STANDBY and not v.device_faulty for v in group):
        return None
    if not group:
        return f"no vehicle of {department or 'any department'} / {trade or 'any trade'} here"
    busy = sum(v.state in _BUSIEST_FIRST for v in group)
    unavailable = sum(v.state is VehicleState.UNAVAILABLE for v in group)
    faulty = sum(v.state is VehicleState.STANDBY and v.device_faulty for v in group)
    return (
        f"no suitable vehicle on standby among {len(group)}: {busy} busy, "
        f"{unavailable} unavailable, {faulty} on standby with a faulty GPS unit"
    )


def dispatch_warnings(vehicle: Fleet) -> list[str]:
    """What a dispatcher should know when sending an order to ``vehicle`` (as it stood before):
    the dispatch is recorded all the same, since the repair center may have no better choice."""
    out = []
    if vehicle.device_faulty:
        out.append(
            f"the GPS unit of vehicle {vehicle.vehicle_id} is reported faulty (rule 7): the order "
            "may not reach it; phone the crew"
        )
    if vehicle.state is VehicleState.UNAVAILABLE:
        out.append(f"vehicle {vehicle.vehicle_id} is unavailable: its crew said it cannot set off")
    elif vehicle.state is not VehicleState.STANDBY:
        out.append(
            f"vehicle {vehicle.vehicle_id} is {vehicle.state.value}: the order joins its queue"
        )
    return out


def great_circle_km(a: Position, b: Position) -> float:
    """Haversine distance on a sphere of the Earth's mean radius."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


def rank_candidates(
    department: str | None, trade: str | None, fault_at: Position | None, fleet: Iterable[Fleet]
) -> list[Candidate]:
    """Right trade and department first, standby before busy before unavailable, working units
    before faulty ones, then nearest to the fault (unknown distance last), then vehicle id."""

    def fits(v: Fleet) -> bool:
        return of_group(v, department, trade)

    def distance(v: Fleet) -> float | None:
        if fault_at is None or v.position is None:
            return None
        return great_circle_km(v.position, fault_at)

    def availability(v: Fleet) -> int:
        if v.state is VehicleState.STANDBY:
            return 0
        return 2 if v.state is VehicleState.UNAVAILABLE else 1

    def key(v: Fleet) -> tuple[bool, int, bool, float, str]:
        d = distance(v)
        return (
            not fits(v),
            availability(v),
            v.device_faulty,
            math.inf if d is None else d,
            v.vehicle_id,
        )

    ranked = sorted(fleet, key=key)
    out: list[Candidate] = []
    for rank, v in enumerate(ranked, start=1):
        d = distance(v)
        words = [
            "right trade and department"
            if fits(v)
            else f"other trade or department ({v.department} / {v.trade})",
            v.state.value,
            "GPS unit faulty" if v.device_faulty else "GPS unit working",
            "distance unknown" if d is None else f"{d:.1f} km from the fault",
        ]
        out.append(Candidate(rank, v, d, "; ".join(words)))
    return out


@dataclass(frozen=True)
class Block:
    work_order_id: UUID
    blocked_at: datetime


def blocks_to_alert(
    blocks: Sequence[Block], now: datetime, window: timedelta, threshold: int
) -> list[Block]:
    """Rule 5: the blocks inside the sliding window that make an alert (``threshold`` or more of
    them, not yet alerted), else none. The caller marks them alerted, so each block counts once."""
    inside = [b for b in blocks if now - window <= b.blocked_at <= now]
    return sorted(inside, key=lambda b: b.blocked_at) if len(inside) >= threshold else []
