"""``make demo``'s stormy evening, small and fast, against the session's services: every kind of
thing it promises a newcomer happens and is recorded where the console and the desk read it."""

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from simulator.demo import DemoResult, Player, define_city
from simulator.driver import Urls
from simulator.storm import DemoCity, Storm, Story, make_storm
from simulator.tokens import Tokens
from tests.support.desk import Crew, Desk, wait_for
from tests.support.system import System

pytestmark = pytest.mark.e2e

SEED = Path(__file__).parents[2] / "seed" / "city.json"
SPEED = 400.0
"""What goes well takes seconds; the harness's stamp tolerance (30 days) takes any head start."""
HEAD_START_S = 250.0
"""More than the ladder's default 240 s: the unreceived order escalates on the next poll, and
the late segments need about a second of real time."""


def tokens_for(system: System, city: DemoCity) -> Tokens:
    """The harness's tokens (``tests.support.keys``) for every center and vehicle of ``city``."""
    keys = system.keys
    centers = {c.crew_id: c.repair_center_id for c in city.crews}
    keys.prepare([Crew(centers[v.crew_id], v.crew_id, v.vehicle_id) for v in city.vehicles])
    return Tokens(
        phone_system=keys.phone_system,
        auditor=keys.auditor,
        admin=keys.admin,
        dispatcher={center: keys.dispatcher(center) for center, _ in city.centers},
        devices={v.vehicle_id: keys.device(v.vehicle_id) for v in city.vehicles},
    )


@pytest.fixture(scope="module")
def evening(system: System) -> tuple[Storm, DemoResult]:
    # A city of the seed's shape under ids of its own, beside whatever other tests defined.
    city = DemoCity.from_seed(json.loads(SEED.read_text()), prefix=f"demo{uuid4().hex[:6]}-")
    storm = make_storm(
        city, 5, speed=SPEED, calls=6, head_start_s=HEAD_START_S, ping_every_s=1.0, tag="e2e"
    )
    tokens = tokens_for(system, city)
    urls = Urls(system.urls["intake"], system.urls["dispatch"], system.urls["timeline"])
    lines: list[str] = []

    async def play() -> DemoResult:
        await define_city(city, urls.dispatch, tokens)
        return await Player(storm, urls, tokens, say=lines.append, escalation_wait_s=40).play()

    result = asyncio.run(play())
    assert result.problems == [], "\n".join(lines)
    return storm, result


def order_of(storm: Storm, result: DemoResult, story: Story) -> str:
    return result.work_orders[next(o.index for o in storm.orders if o.story is story)]


def segment(timeline: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in timeline["segments"] if s["segment"] == name)
    return found


def test_every_order_of_the_evening_reaches_its_site(
    evening: tuple[Storm, DemoResult], desk: Desk
) -> None:
    storm, result = evening
    assert result.completed == {o.index for o in storm.orders}
    for wo in result.work_orders.values():
        timeline = desk.timeline(wo, set("ABCDEFGH"))
        assert all(timeline["points"][p] for p in "ABCDEFGH")


def test_a_late_crew_breaches_ef_and_the_breach_is_listed(
    evening: tuple[Storm, DemoResult], desk: Desk
) -> None:
    storm, result = evening
    wo = order_of(storm, result, Story.LATE_CREW)
    ef = segment(desk.timeline(wo, set("ABCDEFGH")), "EF")
    assert (ef["status"], ef["responsible"]) == ("breached", "crew_receiver")

    def listed() -> list[dict[str, Any]]:
        items = desk.ok(desk.get("timeline", "/v1/breaches"))["items"]
        return [b for b in items if b["work_order_id"] == wo and b["segment"] == "EF"]

    assert wait_for(f"the EF breach of {wo} in /v1/breaches", listed)[0]["limit_s"] == 120


def test_the_network_incident_is_recorded_and_answers_for_the_late_de(
    evening: tuple[Storm, DemoResult], desk: Desk
) -> None:
    storm, result = evening
    assert result.incident_recorded
    wo = order_of(storm, result, Story.NETWORK_INCIDENT)
    de = segment(desk.timeline(wo, set("ABCDEFGH")), "DE")
    assert (de["status"], de["responsible"]) == ("breached", "network")
    assert storm.incident_id in json.dumps(de)
    # The unit sent its E twice during the incident: one event, the second answered as a replay.
    assert result.duplicates_replayed >= 1
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    assert [e["event_type"] for e in history].count("OrderReachedCrew") == 1


def test_the_recalled_order_keeps_both_attempts(
    evening: tuple[Storm, DemoResult], desk: Desk
) -> None:
    storm, result = evening
    wo = order_of(storm, result, Story.RECALL)
    attempts = desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}"))["attempts"]
    assert len(attempts) == 2
    assert attempts[0]["recalled_at"] is not None
    assert attempts[0]["recalled_by"] == "dispatcher-demo"
    assert attempts[1]["recalled_at"] is None
    timeline = desk.timeline(wo, set("ABCDEFGH"))
    assert len(timeline["attempts"]) == 2
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    assert "WorkOrderRecalled" in [e["event_type"] for e in history]


def test_the_unreceived_order_escalates_and_its_call_is_recorded(
    evening: tuple[Storm, DemoResult], desk: Desk
) -> None:
    storm, result = evening
    wo = order_of(storm, result, Story.ESCALATION)
    listed = desk.ok(desk.get("dispatch", "/v1/escalations", work_order_id=wo))["items"]
    [raised] = [e for e in listed if e["rule"] == "not_received"]
    assert (
        raised["escalation_id"]
        == result.escalations[next(o.index for o in storm.orders if o.story is Story.ESCALATION)]
    )
    assert [c["call_id"] for c in raised["calls"]] == [result.calls[raised["escalation_id"]]]
    assert raised["calls"][0]["named"] is True
    assert raised["close_reason"] == "received by the repair center"
    bc = segment(desk.timeline(wo, set("ABCDEFGH")), "BC")
    assert bc["status"] == "breached"
