"""``points.on_utc``'s memo: an event asked for again gets the very copy it got before while its
order is under way, however many other events were copied meanwhile (issue 9: at scale the old
memo, cleared whenever full, copied nearly every event at every judgement)."""

from datetime import UTC, timedelta, timezone

import pytest

from contracts.registry import WorkOrderEventT
from domain.policy import Point
from domain.timeline import points
from tests.unit.factories import event, minutes

BEIJING = timezone(timedelta(hours=8))


def _sent_from_beijing(m: float) -> WorkOrderEventT:
    """An event stamped on +08:00, as a unit's clock sends it: the judge copies it onto UTC."""
    return event(Point.E, minutes(m).astimezone(BEIJING))


@pytest.fixture
def small_memo(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(points, "_COPIES", {})
    monkeypatch.setattr(points, "_OLDER", {})
    monkeypatch.setattr(points, "_COPIES_KEPT", 4)
    return 4


def test_the_copy_is_on_utc_with_the_same_instants() -> None:
    sent = _sent_from_beijing(3)
    copy = points.on_utc(sent)
    assert copy is not sent
    assert copy.occurred_at.tzinfo is UTC
    assert copy.recorded_at.tzinfo is UTC
    assert (copy.occurred_at, copy.recorded_at) == (sent.occurred_at, sent.recorded_at)


def test_an_event_asked_for_again_keeps_its_copy_past_a_full_generation(small_memo: int) -> None:
    kept = _sent_from_beijing(0)
    first = points.on_utc(kept)
    others = [_sent_from_beijing(m) for m in range(1, 3 * small_memo)]
    for n, other in enumerate(others):
        points.on_utc(other)
        if n % (small_memo - 1) == 0:  # the order under way is judged again now and then
            assert points.on_utc(kept) is first
    assert points.on_utc(kept) is first
    assert len(points._COPIES) <= small_memo
    assert len(points._OLDER) <= small_memo


def test_an_event_not_asked_for_in_two_generations_is_copied_afresh(small_memo: int) -> None:
    dropped = _sent_from_beijing(0)
    first = points.on_utc(dropped)
    for m in range(1, 2 * small_memo + 2):
        points.on_utc(_sent_from_beijing(m))
    again = points.on_utc(dropped)
    assert again is not first
    assert again == first
