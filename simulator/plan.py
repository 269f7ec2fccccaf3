"""The plan of a run: which calls come when, how each order walks A→H and the fault cleared, which
unit posts come late or twice, and every vehicle's position pings. A pure function of its
options and seed: the same seed gives the same plan, byte for byte (``Plan.fingerprint``).

Two clocks. *Real* seconds (``at_s``) are when a driver sends, counted from the run's start;
*simulated* seconds (``sim_s``) are what the stamps say, counted from the same start. ``speed``
simulated seconds pass per real second, so a 40-minute walk can be played in 4 seconds; a stamp
is ``anchor + sim_s`` where the anchor puts the whole simulated span in the past of the real
end (``Plan.stamp``), so no stamp is ever ahead of the services' clock.
"""

import bisect
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from uuid import UUID

from simulator.city import CENTER, FAULTS, City, CrewSpec

STEPS = ("A", "B", "C", "D", "E", "F", "G", "H", "cleared")
REPORT_TYPES = {
    "E": "order_received",
    "F": "order_accepted",
    "G": "departed",
    "H": "arrived",
    "cleared": "fault_cleared",
}
"""The unit's post of each point it reports (the rest are the phone system's and the center's)."""

SEGMENTS = ("AB", "BC", "CD", "DE", "EF", "FG", "GH")
LIMITS_S = {"AB": 120, "BC": 240, "CD": 120, "DE": 240, "EF": 120, "FG": 180, "GH": 1680}
"""docs/domain.md's limits; DE is 120 s for a crew sharing the repair center's office."""
CO_LOCATED_DE_S = 120
LATE_POST_S = 360.0
"""How long a late post waits after its stamp: past the timeline's 5-minute ``reported_late``."""
DUPLICATE_AFTER_S = 20.0
"""A duplicate is the same post again (same report id) this long after the first, as a unit
that lost the answer sends it."""


@dataclass(frozen=True)
class Step:
    name: str
    """A..H or ``cleared``."""
    sim_s: float
    """The stamp, in simulated seconds from the run's start."""
    at_s: float
    """When it is sent, in real seconds from the run's start (later than the stamp if late)."""
    late: bool = False
    duplicate_at_s: float | None = None
    """When the same post is sent again, if it is."""
    report_id: str | None = None


@dataclass(frozen=True)
class OrderPlan:
    index: int
    call_id: str
    work_order_id: UUID
    """Used only when writing to Kafka; over HTTP intake assigns the id."""
    repair_center_id: str
    crew_id: str
    vehicle_id: str
    co_located: bool
    trade: str
    lat: float
    lon: float
    late_segments: tuple[str, ...]
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


@dataclass(frozen=True)
class Ping:
    at_s: float
    sim_s: float
    vehicle_id: str
    report_id: str
    lat: float
    lon: float
    order_index: int | None
    """The order the vehicle carries at the time (between D and the fault cleared), if any."""


@dataclass(frozen=True)
class Plan:
    seed: int
    tag: str
    rate: float
    speed: float
    horizon_s: float
    """The last real send time: stamps catch up with the real clock there."""
    orders: tuple[OrderPlan, ...]
    pings: tuple[Ping, ...]

    def stamp(self, sim_s: float, started_at: datetime) -> datetime:
        """The stamp of a simulated instant for a run that started (real clock) at ``started_at``.

        The simulated clock runs ``speed`` times the real one and meets it at ``horizon_s``, so
        every stamp is at or before the real instant it is sent at."""
        anchor = started_at - timedelta(seconds=(self.speed - 1.0) * self.horizon_s)
        return anchor + timedelta(seconds=sim_s)

    @property
    def requests(self) -> int:
        """HTTP posts the plan makes (duplicates included), without the waits' polls."""
        posts = sum(len(o.steps) for o in self.orders)
        duplicates = sum(s.duplicate_at_s is not None for o in self.orders for s in o.steps)
        return posts + duplicates + len(self.pings)

    def fingerprint(self) -> str:
        """A digest of the whole plan: equal for equal plans."""
        blob = json.dumps(
            {
                "seed": self.seed,
                "tag": self.tag,
                "rate": self.rate,
                "speed": self.speed,
                "orders": [asdict(o) for o in self.orders],
                "pings": [asdict(p) for p in self.pings],
            },
            default=str,
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _segment_s(rng: random.Random, limit_s: float, late: bool) -> float:
    """Seeded-random duration: a late segment is 10 %–100 % over its limit, an on-time one at
    20 %–90 % of it."""
    return limit_s * (rng.uniform(1.1, 2.0) if late else rng.uniform(0.2, 0.9))


def make_plan(
    city: City,
    seed: int,
    *,
    rate: float,
    orders: int,
    speed: float = 1.0,
    late_share: float = 0.1,
    late_post_share: float = 0.05,
    duplicate_share: float = 0.05,
    ping_interval_s: float = 0.0,
    ping_until_s: float | None = None,
    tag: str | None = None,
) -> Plan:
    """The plan: ``orders`` calls at ``rate`` per real second (a constant arrival rate), each
    walked to the fault cleared (``iter_orders``), and every vehicle pinging its position every
    ``ping_interval_s`` real seconds (0: none) until ``ping_until_s`` (default: the last call)."""
    tag = tag or f"s{seed}"
    planned = list(
        iter_orders(
            city,
            seed,
            rate=rate,
            orders=orders,
            speed=speed,
            late_share=late_share,
            late_post_share=late_post_share,
            duplicate_share=duplicate_share,
            tag=tag,
        )
    )
    until = ping_until_s if ping_until_s is not None else (orders - 1) / rate
    pings = _pings(
        city, planned, random.Random(f"pings:{seed}"), ping_interval_s, until, speed, tag
    )
    horizon = max(
        [s.duplicate_at_s or s.at_s for o in planned for s in o.steps]
        + [p.at_s for p in pings]
        + [0.0]
    )
    return Plan(seed, tag, rate, speed, horizon, tuple(planned), tuple(pings))


def iter_orders(
    city: City,
    seed: int,
    *,
    rate: float,
    orders: int,
    speed: float = 1.0,
    late_share: float = 0.1,
    late_post_share: float = 0.05,
    duplicate_share: float = 0.05,
    tag: str | None = None,
) -> Iterator[OrderPlan]:
    """The orders of the plan one by one (a million need not be held at once): each segment
    late with probability ``late_share``; each unit post late (by ``LATE_POST_S`` simulated) or
    sent twice with the given shares."""
    if rate <= 0 or speed < 1.0:
        raise ValueError("rate must be > 0 and speed ≥ 1")
    rng = random.Random(f"plan:{seed}")
    ids = random.Random(f"ids:{seed}")
    tag = tag or f"s{seed}"
    crews_by_center: dict[str, list[CrewSpec]] = {}
    for crew in city.crews:
        crews_by_center.setdefault(crew.repair_center_id, []).append(crew)
    vehicles_by_crew: dict[str, list[str]] = {}
    for v in city.vehicles:
        vehicles_by_crew.setdefault(v.crew_id, []).append(v.vehicle_id)
    centers = [
        rc.repair_center_id for rc in city.repair_centers if rc.repair_center_id in crews_by_center
    ]
    if not centers:
        raise ValueError("the city has no crews")
    for index in range(orders):
        center = rng.choice(centers)
        crew = rng.choice(crews_by_center[center])
        vehicle = rng.choice(vehicles_by_crew[crew.crew_id])
        late_segments = tuple(s for s in SEGMENTS if rng.random() < late_share)
        sim = index / rate * speed
        steps: list[Step] = []
        for name in STEPS:
            if name == "cleared":
                sim += rng.uniform(600, 3600)  # the repair itself, outside the promise
            elif name != "A":
                segment = f"{steps[-1].name}{name}"
                limit = (
                    CO_LOCATED_DE_S if segment == "DE" and crew.co_located else LIMITS_S[segment]
                )
                sim += _segment_s(rng, limit, segment in late_segments)
            late = name in REPORT_TYPES and rng.random() < late_post_share
            at = (sim + (LATE_POST_S if late else 0.0)) / speed
            duplicate = name in REPORT_TYPES and rng.random() < duplicate_share
            steps.append(
                Step(
                    name,
                    round(sim, 3),
                    round(at, 6),
                    late=late,
                    duplicate_at_s=round(at + DUPLICATE_AFTER_S / speed, 6) if duplicate else None,
                    report_id=f"{tag}-{index}-{name}" if name in REPORT_TYPES else None,
                )
            )
        yield OrderPlan(
            index=index,
            call_id=f"call-{tag}-{index}",
            work_order_id=_uuid(ids),
            repair_center_id=center,
            crew_id=crew.crew_id,
            vehicle_id=vehicle,
            co_located=crew.co_located,
            trade=crew.trade,
            lat=round(CENTER[0] + rng.uniform(-0.15, 0.15), 5),
            lon=round(CENTER[1] + rng.uniform(-0.2, 0.2), 5),
            late_segments=late_segments,
            steps=tuple(steps),
        )


def _pings(
    city: City,
    orders: list[OrderPlan],
    rng: random.Random,
    interval_s: float,
    until_s: float,
    speed: float,
    tag: str,
) -> list[Ping]:
    if interval_s <= 0:
        return []
    carried: dict[str, list[tuple[float, float, int]]] = {}
    for o in orders:
        carried.setdefault(o.vehicle_id, []).append(
            (o.step("D").at_s, o.step("cleared").at_s, o.index)
        )
    pings: list[Ping] = []
    for v in city.vehicles:
        spans = sorted(carried.get(v.vehicle_id, []))
        starts = [s[0] for s in spans]
        lat, lon = CENTER[0] + rng.uniform(-0.1, 0.1), CENTER[1] + rng.uniform(-0.1, 0.1)
        at = rng.uniform(0, interval_s)
        n = 0
        while at <= until_s:
            lat += rng.uniform(-0.002, 0.002)
            lon += rng.uniform(-0.002, 0.002)
            i = bisect.bisect_right(starts, at) - 1
            order = spans[i][2] if i >= 0 and spans[i][1] >= at else None
            pings.append(
                Ping(
                    round(at, 6),
                    round(at * speed, 3),
                    v.vehicle_id,
                    f"{tag}-{v.vehicle_id}-p{n}",
                    round(lat, 5),
                    round(lon, 5),
                    order,
                )
            )
            n += 1
            at += interval_s
    pings.sort(key=lambda p: (p.at_s, p.vehicle_id))
    return pings


def fault_of(order: OrderPlan) -> tuple[str, str, float]:
    """The reported fault of the order's trade: category, description, voltage (kV)."""
    return FAULTS[order.trade]
