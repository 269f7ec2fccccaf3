"""A stormy evening for ``make demo``: the script, as a pure function of the city and a seed.

Calls come in a burst; each order walks A→H and the fault cleared over the seeded repair
centers' crews, most of them at the *featured* center (the console to watch). Among them, one of
each story a newcomer should see: an order nobody takes in (the escalation ladder raises a rung,
the 95598 center phones), crews slow to accept (EF over its limit: breaches), a network incident
on a repair center's link to its crews while its unit's reports come late (DE over its limit,
put on the network), and a recall and re-dispatch (rule 4). Units post some reports late and
some twice, and ping their positions while they drive.

Two clocks, as everywhere in this project. A move is *sent* at a planned real time (``gap_s``
after the previous move of its order was answered) and *stamped* ``lag_s`` before the instant it
is sent. Stamps are the real clock, never a compressed one: the escalation ladder and the live
breaches run on the services' clock, so a simulated clock would make every order look overdue.
``speed`` compresses what goes well (a 15-minute drive takes 45 real seconds at 20×); what goes
wrong cannot be compressed, because a breach is a stamp difference over its limit. A late
segment therefore takes its limit in real time, less ``head_start_s``: the points before it are
stamped that much before they are sent (their posts reach us late), which shortens the wait
without making any other segment look late.
"""

import hashlib
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from simulator.city import CENTER
from simulator.plan import CO_LOCATED_DE_S, LIMITS_S

Json = dict[str, Any]


class Story(StrEnum):
    ON_TIME = "on time"
    ESCALATION = "escalation"
    LATE_CREW = "late crew"
    NETWORK_INCIDENT = "network incident"
    RECALL = "recall"


class MoveKind(StrEnum):
    CALL = "call"
    ISSUE = "issue"
    RECEIPT = "receipt"
    DISPATCH = "dispatch"
    REPORT = "report"
    PING = "ping"
    RECALL = "recall"
    INCIDENT_STARTED = "incident_started"
    INCIDENT_ENDED = "incident_ended"
    AWAIT_ESCALATION = "await_escalation"
    """Wait until dispatch raises the order's rule-1 escalation, then phone and record the call."""


REPORTS = {
    "E": "order_received",
    "F": "order_accepted",
    "G": "departed",
    "H": "arrived",
    "cleared": "fault_cleared",
}
FAULTS: dict[str, tuple[str, str, float]] = {
    "low_voltage": ("outage", "whole building dark after a lightning strike", 0.4),
    "service_drop_meter": ("service_drop", "service drop torn down by a falling branch", 0.4),
    "service_drop": ("service_drop", "service drop torn down by a falling branch", 0.4),
    "10kv": ("outage", "feeder tripped in the storm, several streets dark", 10.0),
    "10kv_and_below": ("outage", "pole-top switch tripped, a village dark", 10.0),
}
"""A storm's fault of each trade the seed knows: category, description, voltage (kV)."""
STREETS = ("Dongsi North St", "Jiaodaokou", "Xinjiekou", "Chaoyangmen", "Gulou East St")
ON_TIME_SIM_S = {
    "AB": (30, 90),
    "BC": (40, 150),
    "CD": (30, 90),
    "DE": (20, 80),
    "EF": (20, 80),
    "FG": (40, 120),
    "GH": (300, 1200),
    "cleared": (120, 480),
}
"""How long each step takes when it goes well, in simulated seconds (well inside the limits)."""
LATE_FACTOR = (1.08, 1.2)
"""A late segment's stamp duration, as a multiple of its limit."""
MIN_GAP_S = 0.2
LATE_POST_S = (5.0, 15.0)
"""How long a late unit post reaches us after its stamp (real seconds)."""
NETWORK_LATE_POST_S = 10.0
DUPLICATE_AFTER_S = 1.5
LATE_POST_SHARE = 0.1
DUPLICATE_SHARE = 0.12
STORY_START_S = {
    Story.ESCALATION: 0.0,
    Story.NETWORK_INCIDENT: 1.0,
    Story.LATE_CREW: 2.0,
    Story.RECALL: 3.0,
}
"""The stories that take the longest come first, so that the evening ends together."""
BURST_SIM_S = 1500.0
"""The on-time calls come within 25 simulated minutes."""
ESCALATION_HOLD_S = 60.0
"""How long past its plan the escalation's vehicle is kept for it (the ladder's wait)."""
DISPATCH_LEAD_S = 10.0
"""A vehicle busy until this long after a call is free in time for its dispatch."""
QUEUE_S = 60.0
"""How long an order may wait in a featured vehicle's queue (its FG stays under 180 s)."""
FEATURED_SHARE = 0.6
"""Of the on-time calls, the share that goes to the featured center."""
STORIES = (Story.ESCALATION, Story.NETWORK_INCIDENT, Story.LATE_CREW, Story.RECALL)


@dataclass(frozen=True)
class DemoCrew:
    crew_id: str
    repair_center_id: str
    department: str
    trade: str
    co_located: bool
    body: Json = field(compare=False, repr=False)


@dataclass(frozen=True)
class DemoVehicle:
    vehicle_id: str
    crew_id: str
    body: Json = field(compare=False, repr=False)


@dataclass(frozen=True)
class DemoCity:
    """Repair centers, crews and vehicles as ``seed/city.json`` defines them (ids tagged if asked)."""

    centers: tuple[tuple[str, Json], ...]
    crews: tuple[DemoCrew, ...]
    vehicles: tuple[DemoVehicle, ...]

    @classmethod
    def from_seed(cls, doc: Mapping[str, Any], prefix: str = "") -> "DemoCity":
        """The seed's reference data; ``prefix`` before every id makes a city of its own that can
        live beside the seeded one (the e2e test's)."""
        centers = tuple((prefix + k, dict(v)) for k, v in doc.get("repair_centers", {}).items())
        crews = tuple(
            DemoCrew(
                prefix + k,
                prefix + v["repair_center_id"],
                v["department"],
                v["trade"],
                bool(v["co_located"]),
                {**v, "repair_center_id": prefix + v["repair_center_id"]},
            )
            for k, v in doc.get("crews", {}).items()
        )
        vehicles = tuple(
            DemoVehicle(prefix + k, prefix + v["crew_id"], {**v, "crew_id": prefix + v["crew_id"]})
            for k, v in doc.get("vehicles", {}).items()
        )
        return cls(centers, crews, vehicles)

    def definitions(self) -> list[tuple[str, Json]]:
        """``PUT`` paths and bodies, parents first (a crew names its center, a vehicle its crew)."""
        return [
            *((f"/v1/repair-centers/{k}", body) for k, body in self.centers),
            *((f"/v1/crews/{c.crew_id}", c.body) for c in self.crews),
            *((f"/v1/vehicles/{v.vehicle_id}", v.body) for v in self.vehicles),
        ]

    def crews_of(self, center: str) -> list[DemoCrew]:
        return [c for c in self.crews if c.repair_center_id == center]

    def vehicles_of(self, crew_id: str) -> list[str]:
        return [v.vehicle_id for v in self.vehicles if v.crew_id == crew_id]

    def featured(self) -> str:
        """The first center that can play every story: a co-located crew (the network incident)
        and crews of two trades (the recall), each with a vehicle."""
        for center, _ in self.centers:
            crews = [c for c in self.crews_of(center) if self.vehicles_of(c.crew_id)]
            if any(c.co_located for c in crews) and len({c.trade for c in crews}) >= 2:
                return center
        raise ValueError("no repair center has a co-located crew and crews of two trades")


@dataclass(frozen=True)
class Move:
    """One request of the demo, sent ``gap_s`` after the previous move of its order was answered
    and stamped ``lag_s`` before the instant it is sent."""

    kind: MoveKind
    gap_s: float
    lag_s: float = 0.0
    point: str | None = None
    """A..H or ``cleared`` for the moves that mark one."""
    report_id: str | None = None
    vehicle_id: str | None = None
    crew_id: str | None = None
    position: tuple[float, float] | None = None
    duplicate_after_s: float | None = None
    """When set, the same post (same report id) goes again this long after the first."""
    says: str = ""
    """What the demo prints once it is answered."""

    @property
    def report_type(self) -> str | None:
        if self.kind is MoveKind.PING:
            return "position"
        return REPORTS.get(self.point or "") if self.kind is MoveKind.REPORT else None


@dataclass(frozen=True)
class OrderScript:
    index: int
    story: Story
    call_id: str
    repair_center_id: str
    department: str
    trade: str
    location: tuple[float, float]
    address: str
    fault: tuple[str, str, float]
    start_s: float
    moves: tuple[Move, ...]
    late_segment: str | None = None

    def planned_s(self, escalation_s: float = 0.0) -> float:
        """When its last move is sent if every answer came at once (``escalation_s`` for the
        wait for an escalation)."""
        waits = sum(escalation_s for m in self.moves if m.kind is MoveKind.AWAIT_ESCALATION)
        return self.start_s + sum(m.gap_s for m in self.moves) + waits


@dataclass(frozen=True)
class Storm:
    seed: int
    tag: str
    speed: float
    head_start_s: float
    featured: str
    incident_id: str
    orders: tuple[OrderScript, ...]

    def fingerprint(self) -> str:
        """A digest of the whole script: equal for the same city, seed and options."""
        blob = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def planned_s(self, escalation_s: float = 0.0) -> float:
        return max(o.planned_s(escalation_s) for o in self.orders)

    def summary(self) -> Json:
        moves = [m for o in self.orders for m in o.moves]
        return {
            "fingerprint": self.fingerprint(),
            "tag": self.tag,
            "featured_repair_center": self.featured,
            "orders": len(self.orders),
            "stories": {s.value: sum(o.story is s for o in self.orders) for s in Story},
            "late_segments": sorted(o.late_segment for o in self.orders if o.late_segment),
            "late_posts": sum(m.kind is MoveKind.REPORT and m.lag_s > 0.5 for m in moves),
            "duplicate_posts": sum(m.duplicate_after_s is not None for m in moves),
            "pings": sum(m.kind is MoveKind.PING for m in moves),
            "requests": len(moves) + sum(m.duplicate_after_s is not None for m in moves),
            "planned_real_s": round(self.planned_s(), 1),
        }


@dataclass
class _Walk:
    """Builds one order's moves from (stamp, send) instants relative to the order's start."""

    start_s: float
    moves: list[Move] = field(default_factory=list)
    stamp: float = 0.0
    sent: float = 0.0

    def add(self, kind: MoveKind, stamp: float, post_lag: float = 0.0, **kw: Any) -> None:
        send = max(stamp + post_lag, self.sent + (MIN_GAP_S if self.moves else 0.0))
        self.moves.append(Move(kind, round(send - self.sent, 3), round(send - stamp, 3), **kw))
        self.stamp, self.sent = stamp, send


def _late_s(rng: random.Random, limit_s: float) -> float:
    return limit_s * rng.uniform(*LATE_FACTOR)


def _on_time_s(rng: random.Random, step: str, speed: float) -> float:
    low, high = ON_TIME_SIM_S[step]
    return rng.uniform(low, high) / speed


def make_storm(
    city: DemoCity,
    seed: int,
    *,
    speed: float = 20.0,
    calls: int = 20,
    head_start_s: float = 60.0,
    ping_every_s: float = 3.0,
    tag: str = "demo",
) -> Storm:
    """The evening's script: ``calls`` orders (at least one per story), the calls of the
    on-time ones in a burst over 25 simulated minutes, every step of what goes well compressed
    ``speed`` times. The same city, seed and options give the same script."""
    if speed < 1 or calls < len(STORIES) + 1 or head_start_s < 0 or ping_every_s <= 0:
        raise ValueError(
            f"need speed ≥ 1, calls ≥ {len(STORIES) + 1}, head_start_s ≥ 0, ping_every_s > 0"
        )
    rng = random.Random(f"storm:{seed}")
    featured = city.featured()
    others = [c for c, _ in city.centers if c != featured and _crewed(city, c)]
    bases = {
        center: (CENTER[0] + rng.uniform(-0.08, 0.08), CENTER[1] + rng.uniform(-0.1, 0.1))
        for center, _ in city.centers
    }
    stories = [*STORIES, Story.LATE_CREW] if calls > len(STORIES) + 3 else list(STORIES)
    burst_s = BURST_SIM_S / speed
    starts = sorted(5.0 + burst_s * rng.random() ** 1.5 for _ in range(calls - len(stories)))
    free_at: dict[str, float] = {}
    orders: list[OrderScript] = []
    plan: list[tuple[Story, float]] = [
        (s, STORY_START_S[s] + 1.5 * i) for i, s in enumerate(stories)
    ]
    plan += [(Story.ON_TIME, s) for s in starts]
    # Most calls go to the featured center (its console is the one to watch).
    on_time = len(plan) - len(stories)
    at_featured = set(rng.sample(range(on_time), k=round(FEATURED_SHARE * on_time)))
    late_centers, lates = [*others, featured], 0
    for index, (story, start) in enumerate(plan):
        if story is Story.ON_TIME:
            home = featured if index - len(stories) in at_featured or not others else None
            # The featured center's vehicles may queue an order: its console shows the queue.
            queue = QUEUE_S if home else 0.0
            center = home or rng.choice(others)
            crew, vehicle = _on_time_crew(city, rng, center, free_at, start, queue)
            wrong = None
        elif story is Story.LATE_CREW:
            # Late crews at the other centers: the desk shows breaches from more than one.
            center = late_centers[lates % len(late_centers)]
            lates += 1
            crew, vehicle = _soonest(city, rng, center, free_at)
            wrong = None
        else:
            crew, vehicle, wrong = _story_crews(city, rng, featured, story, free_at)
        order = _order(
            rng,
            index,
            story,
            crew,
            vehicle,
            wrong,
            bases[crew.repair_center_id],
            start,
            free_at.get(vehicle, 0.0),
            speed=speed,
            head_start_s=head_start_s,
            ping_every_s=ping_every_s,
            tag=tag,
        )
        # The escalation's wait is the ladder's: its vehicle is kept free for a while after.
        hold = ESCALATION_HOLD_S if story is Story.ESCALATION else 0.0
        free_at[vehicle] = order.planned_s() + hold
        orders.append(order)
    return Storm(
        seed, tag, speed, head_start_s, featured, f"{tag}-net-{featured}"[:64], tuple(orders)
    )


def _crewed(city: DemoCity, center: str) -> bool:
    return any(city.vehicles_of(c.crew_id) for c in city.crews_of(center))


def _options(
    city: DemoCity, center: str, keep: Callable[[DemoCrew], bool] = lambda _: True
) -> list[tuple[DemoCrew, str]]:
    return [(c, v) for c in city.crews_of(center) if keep(c) for v in city.vehicles_of(c.crew_id)]


def _soonest(
    city: DemoCity,
    rng: random.Random,
    center: str,
    free_at: dict[str, float],
    keep: Callable[[DemoCrew], bool] = lambda _: True,
) -> tuple[DemoCrew, str]:
    """The crew and vehicle of ``center`` free soonest (a tie broken by the seed): one order at a
    time a vehicle, so that its pings draw one drive."""
    options = _options(city, center, keep)
    rng.shuffle(options)
    return min(options, key=lambda cv: free_at.get(cv[1], 0.0))


def _on_time_crew(
    city: DemoCity,
    rng: random.Random,
    center: str,
    free_at: dict[str, float],
    start_s: float,
    queue_s: float = 0.0,
) -> tuple[DemoCrew, str]:
    """A vehicle of ``center`` free by the time the order is dispatched, or ``queue_s`` later
    (the order joins its queue, and the crew sets off once it is free); else the center with
    one free soonest (a storm spills over). The fault is of the chosen crew's trade."""
    crew, vehicle = _soonest(city, rng, center, free_at)
    if free_at.get(vehicle, 0.0) <= start_s + DISPATCH_LEAD_S + queue_s:
        return crew, vehicle
    centers = [c for c, _ in city.centers if _options(city, c)]
    best = [_soonest(city, rng, c, free_at) for c in centers]
    return min(best, key=lambda cv: free_at.get(cv[1], 0.0))


def _story_crews(
    city: DemoCity, rng: random.Random, center: str, story: Story, free_at: dict[str, float]
) -> tuple[DemoCrew, str, tuple[DemoCrew, str] | None]:
    """The crew and vehicle of a story at the featured center (and for a recall, the wrong
    crew's vehicle, sent first: it holds the order only until the recall)."""
    if story is Story.NETWORK_INCIDENT:
        crew, vehicle = _soonest(city, rng, center, free_at, lambda c: c.co_located)
        return crew, vehicle, None
    crew, vehicle = _soonest(city, rng, center, free_at)
    if story is Story.RECALL:
        wrong = _soonest(city, rng, center, free_at, lambda c: c.trade != crew.trade)
        return crew, vehicle, wrong
    return crew, vehicle, None


def _order(
    rng: random.Random,
    index: int,
    story: Story,
    crew: DemoCrew,
    vehicle: str,
    wrong_crew: tuple[DemoCrew, str] | None,
    base: tuple[float, float],
    start_s: float,
    vehicle_free_s: float,
    *,
    speed: float,
    head_start_s: float,
    ping_every_s: float,
    tag: str,
) -> OrderScript:
    center = crew.repair_center_id
    wrong, first = wrong_crew or (None, "")
    category, description, voltage = FAULTS.get(crew.trade, ("outage", "no power", 0.4))
    site = (
        round(base[0] + rng.uniform(-0.03, 0.03), 5),
        round(base[1] + rng.uniform(-0.04, 0.04), 5),
    )
    late = {
        Story.ESCALATION: "BC",
        Story.LATE_CREW: "EF",
        Story.NETWORK_INCIDENT: "DE",
    }.get(story)
    de_limit = CO_LOCATED_DE_S if crew.co_located else LIMITS_S["DE"]
    late_s = 0.0 if late is None else _late_s(rng, de_limit if late == "DE" else LIMITS_S[late])
    # Points before the late segment's end are stamped `head` before they are sent.
    head = 0.0 if late is None else min(head_start_s, max(0.0, late_s - 1.0))
    noisy = story is Story.ON_TIME
    w = _Walk(start_s)
    rid = f"{tag}-{index}"

    def on_time(step: str) -> float:
        return w.stamp + _on_time_s(rng, step, speed)

    def lag_before(point: str) -> float:
        order = "ABCDEFGH"
        return head if late is not None and order.index(point) < order.index(late[1]) else 0.0

    def report(point: str, stamp: float, vehicle: str, post_lag: float = 0.0, **kw: Any) -> None:
        if noisy and rng.random() < LATE_POST_SHARE:
            post_lag = rng.uniform(*LATE_POST_S)
        duplicate = DUPLICATE_AFTER_S if noisy and rng.random() < DUPLICATE_SHARE else None
        words = {
            "E": "the order reached the unit (E)",
            "F": "the crew accepted (F)",
            "G": "the crew set off (G)",
            "H": "the crew arrived on site (H)",
            "cleared": "fault cleared, repair written back",
        }[point]
        if post_lag > 0.5:
            words += f", posted {post_lag:.0f} s late"
        w.add(
            MoveKind.REPORT,
            stamp,
            post_lag,
            point=point,
            report_id=f"{rid}-{vehicle[-12:]}-{point}",
            vehicle_id=vehicle,
            duplicate_after_s=kw.pop("duplicate_after_s", duplicate),
            says=f"{vehicle}: {words}",
            **kw,
        )

    w.add(MoveKind.CALL, -lag_before("A"), lag_before("A"), point="A", says="call ended (A)")
    w.add(
        MoveKind.ISSUE,
        on_time("AB"),
        lag_before("B"),
        point="B",
        says=f"duty chief issued it to {center} (B)",
    )
    if story is Story.ESCALATION:
        w.add(
            MoveKind.AWAIT_ESCALATION,
            w.sent,
            says="nobody at the repair center takes it in: waiting for the ladder",
        )
        w.add(
            MoveKind.RECEIPT, w.sent + 2.0, point="C", says="taken in at last, after the call (C)"
        )
    else:
        w.add(MoveKind.RECEIPT, on_time("BC"), lag_before("C"), point="C", says="taken in (C)")
    if wrong is not None:
        w.add(
            MoveKind.DISPATCH,
            on_time("CD"),
            point="D",
            vehicle_id=first,
            crew_id=wrong.crew_id,
            says=f"dispatched to {wrong.crew_id} / {first} (D)",
        )
        report("E", on_time("DE"), first)
        w.add(
            MoveKind.RECALL,
            w.stamp + 40 / speed,
            says=f"recalled from {first}: a {crew.trade} fault, not the {wrong.trade} crew's business",
        )
    if story is Story.NETWORK_INCIDENT:
        d_stamp = on_time("CD")
        w.add(
            MoveKind.INCIDENT_STARTED,
            d_stamp - 5.0,
            lag_before("D") + 5.0,
            says=f"communications: incident on {center}'s link to its crews",
        )
        w.stamp = d_stamp
    d_stamp = w.stamp if story is Story.NETWORK_INCIDENT else on_time("CD")
    w.add(
        MoveKind.DISPATCH,
        d_stamp,
        lag_before("D"),
        point="D",
        vehicle_id=vehicle,
        crew_id=crew.crew_id,
        says=f"dispatched to {crew.crew_id} / {vehicle} (D)"
        + (" again" if wrong is not None else ""),
    )
    if story is Story.NETWORK_INCIDENT:
        report(
            "E",
            w.stamp + late_s,
            vehicle,
            NETWORK_LATE_POST_S,
            duplicate_after_s=DUPLICATE_AFTER_S,
        )
        report("F", on_time("EF"), vehicle, NETWORK_LATE_POST_S)
        w.add(MoveKind.INCIDENT_ENDED, w.sent, says="communications: the link is back")
    else:
        report("E", on_time("DE"), vehicle, lag_before("E"))
        report("F", w.stamp + late_s if late == "EF" else on_time("EF"), vehicle)
    # A vehicle still on its previous fault sets off once that one is cleared.
    report("G", max(on_time("FG"), vehicle_free_s - start_s + 1.0), vehicle)
    drive_end = on_time("GH")
    lat, lon = base[0] + rng.uniform(-0.02, 0.02), base[1] + rng.uniform(-0.02, 0.02)
    pings = max(1, int((drive_end - w.stamp) / ping_every_s))
    g_stamp = w.stamp
    for n in range(1, pings + 1):
        share = n / (pings + 1)
        at = (round(lat + (site[0] - lat) * share, 5), round(lon + (site[1] - lon) * share, 5))
        w.add(
            MoveKind.PING,
            g_stamp + (drive_end - g_stamp) * share,
            report_id=f"{rid}-{vehicle[-12:]}-p{n}",
            vehicle_id=vehicle,
            position=at,
            says=f"{vehicle} on its way, position every {ping_every_s:g} s: {at[0]:.4f}, {at[1]:.4f}"
            if n == 1
            else "",
        )
    report("H", drive_end, vehicle, position=site)
    report("cleared", on_time("cleared"), vehicle)
    return OrderScript(
        index=index,
        story=story,
        call_id=f"call-{rid}",
        repair_center_id=center,
        department=crew.department,
        trade=crew.trade,
        location=site,
        address=f"{10 + index} {STREETS[index % len(STREETS)]}",
        fault=(category, description, voltage),
        start_s=round(start_s, 3),
        moves=tuple(w.moves),
        late_segment=late,
    )
