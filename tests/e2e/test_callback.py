"""The 95598 center's callback closes the order: once, and only an order that was issued."""

from uuid import uuid4

import pytest

from tests.support.desk import Desk, Json, ago, wait_for

pytestmark = pytest.mark.e2e


def callback(desk: Desk, wo: str, body: Json) -> tuple[int, Json, str | None]:
    response = desk.post("intake", f"/v1/work-orders/{wo}/callback", body)
    return response.status_code, response.json(), response.headers.get("Idempotent-Replay")


def test_the_callback_closes_the_order_once(desk: Desk) -> None:
    crew = desk.crew(co_located=True)
    wo = desk.call(ago(20))
    desk.issue(wo, ago(19), crew)
    body = {
        "called_back_at": ago(0.5).isoformat(),
        "satisfied": True,
        "comment": "power back, thanks",
        "agent_id": "agent-9",
    }
    status, first, replay = callback(desk, wo, body)
    assert (status, replay) == (201, "false"), first
    assert (first["work_order_id"], first["event_type"]) == (wo, "WorkOrderClosed")

    seen = desk.ok(desk.get("intake", f"/v1/work-orders/{wo}"))
    assert seen["satisfied"] is True
    assert seen["closed_at"] == first["occurred_at"]
    assert seen["repair_center_id"] == crew.repair_center_id

    before = desk.events_recorded("intake")
    assert callback(desk, wo, body) == (201, first, "true")
    status, refusal, _ = callback(desk, wo, body | {"satisfied": False})
    assert status == 409, refusal
    assert refusal["differs"] == ["satisfied"]
    assert refusal["first"]["satisfied"] is True
    assert refusal["first"]["comment"] == "power back, thanks"
    assert desk.events_recorded("intake") == before

    def on_timeline() -> list[Json] | None:
        response = desk.get("timeline", f"/v1/work-orders/{wo}/events")
        if response.status_code != 200:
            return None
        closed = [e for e in response.json() if e["event_type"] == "WorkOrderClosed"]
        return closed or None

    [closed] = wait_for("the callback on the timeline", on_timeline)
    assert closed["event_id"] == first["event_id"]
    assert closed["body"]["payload"] == {
        "satisfied": True,
        "comment": "power back, thanks",
        "agent_id": "agent-9",
    }
    assert closed["body"]["source"] == "phone-system"


def test_a_callback_that_cannot_close_anything_is_refused_and_changes_nothing(
    desk: Desk,
) -> None:
    opened = desk.call(ago(5))  # never issued
    before = desk.events_recorded("intake")
    body: Json = {"called_back_at": ago(0.5).isoformat(), "satisfied": False}

    status, unknown, _ = callback(desk, str(uuid4()), body)
    assert status == 404, unknown
    assert "no work order" in unknown["detail"]

    status, early, _ = callback(desk, opened, body)
    assert status == 409, early
    assert "never issued" in early["detail"]

    status, bad, _ = callback(
        desk, opened, {"called_back_at": "2026-11-23T10:00:00", "comment": "", "x": 1}
    )
    assert status == 422, bad
    where = {tuple(err["loc"]) for err in bad["detail"]}
    assert where == {
        ("body", "called_back_at"),
        ("body", "satisfied"),
        ("body", "comment"),
        ("body", "x"),
    }
    assert desk.events_recorded("intake") == before
    seen = desk.ok(desk.get("intake", f"/v1/work-orders/{opened}"))
    assert (seen["closed_at"], seen["satisfied"]) == (None, None)


def test_a_callback_stamped_beyond_the_live_tolerance_is_422(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    wo = desk.call(ago(20))
    desk.issue(wo, ago(19), crew)
    before = desk.events_recorded("intake")
    # The session's services allow 30 days (their scripted histories lie in the past).
    status, refusal, _ = callback(
        desk, wo, {"called_back_at": ago(31 * 24 * 60).isoformat(), "satisfied": True}
    )
    assert status == 422, refusal
    [where] = refusal["detail"]
    assert (where["loc"], where["type"]) == (["body", "called_back_at"], "stamp_out_of_tolerance")
    assert desk.events_recorded("intake") == before
    # The refusal closed nothing: the callback with its true stamp is taken.
    status, taken, _ = callback(
        desk, wo, {"called_back_at": ago(0.2).isoformat(), "satisfied": True}
    )
    assert status == 201, taken
