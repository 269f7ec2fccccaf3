"""The timeline's escalation ladder, folded from its events (``services.timeline.ladder.fold``):
pure, the same whatever the order and duplicates of its input, and as of any instant."""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from contracts.escalations import (
    Contact,
    EscalationCallPayload,
    EscalationCallRecorded,
    EscalationClosed,
    EscalationClosedPayload,
    EscalationRaised,
    EscalationRaisedPayload,
    EscalationRule,
    Notify,
)
from contracts.registry import EscalationEventT
from services.timeline.ladder import Rung, Where, fold

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WO = uuid4()
ON_DUTY = Contact(name="Crew 7, on duty", phone="+86 10 6400 0003", role="crew_on_duty")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def envelope(recorded_s: float) -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "occurred_at": at(recorded_s - 1),
        "recorded_at": at(recorded_s),
        "source": "repair-center:rc-1",
        "correlation_id": uuid4(),
        "work_order_id": WO,
    }


def raised(escalation: UUID, level: Literal[1, 2], recorded_s: float) -> EscalationRaised:
    return EscalationRaised(
        **envelope(recorded_s),
        payload=EscalationRaisedPayload(
            escalation_id=escalation,
            rule=EscalationRule.NOT_TAKEN,
            level=level,
            notify=Notify.REPAIR_CENTER,
            repair_center_id="rc-1",
            crew_id="crew-7",
            contacts=[ON_DUTY],
            due_at=at(recorded_s - 2),
            waiting_since_event_id=uuid4(),
        ),
    )


def called(
    escalation: UUID, phone: str, reached: bool, recorded_s: float
) -> EscalationCallRecorded:
    return EscalationCallRecorded(
        **envelope(recorded_s),
        payload=EscalationCallPayload(
            escalation_id=escalation, call_id=f"c-{recorded_s}", phone=phone, reached=reached
        ),
    )


def closed(escalation: UUID, reason: str, recorded_s: float) -> EscalationClosed:
    return EscalationClosed(
        **envelope(recorded_s),
        payload=EscalationClosedPayload(
            escalation_id=escalation, closed_by_event_id=uuid4(), reason=reason
        ),
    )


def located(events: list[EscalationEventT]) -> list[tuple[EscalationEventT, Where]]:
    return [
        (e, Where(topic="repair.escalations.v1", kafka_partition=0, kafka_offset=i))
        for i, e in enumerate(events)
    ]


def ladder_story() -> tuple[UUID, UUID, list[EscalationEventT]]:
    one, two = uuid4(), uuid4()
    events: list[EscalationEventT] = [
        raised(one, 1, 10),
        called(one, "+86 10 6400 0003", False, 20),
        called(one, "+86 10 9999 9999", True, 25),  # a number the rung does not name
        raised(two, 2, 30),
        closed(one, "accepted by the crew", 40),
        closed(two, "accepted by the crew", 40.5),
        closed(one, "a second closure changes nothing", 50),
    ]
    return one, two, events


def test_the_ladder_holds_each_rung_its_calls_and_its_first_closure() -> None:
    one, two, events = ladder_story()
    ladder = fold(WO, located(events), at(60))
    assert [(r.escalation_id, r.level, r.status) for r in ladder.items] == [
        (one, 1, "closed"),
        (two, 2, "closed"),
    ]
    first = ladder.items[0]
    assert first.close_reason == "accepted by the crew"
    assert first.closed_at == events[4].occurred_at
    assert [(c.phone, c.reached) for c in first.calls] == [
        ("+86 10 6400 0003", False),
        ("+86 10 9999 9999", True),
    ]
    assert first.calls[0].contact == ON_DUTY
    assert first.calls[1].contact is None
    assert first.where.kafka_offset == 0


def test_as_of_counts_only_what_was_recorded_by_then() -> None:
    one, _, events = ladder_story()
    assert fold(WO, located(events), at(9)).items == []
    [rung] = fold(WO, located(events), at(22)).items
    assert (rung.escalation_id, rung.status, len(rung.calls)) == (one, "open", 1)
    assert [r.status for r in fold(WO, located(events), at(40)).items] == ["closed", "open"]


def essence(rung: Rung) -> dict[str, Any]:
    """A rung without where its events sat in Kafka."""
    body = rung.model_dump()
    del body["where"]
    for c in body["calls"]:
        del c["where"]
    return body


def test_order_and_redeliveries_change_nothing() -> None:
    _, _, events = ladder_story()
    once = fold(WO, located(events), at(60))
    shuffled = located(list(reversed(events)) + events[:3])
    again = fold(WO, shuffled, at(60))
    # The same rungs, calls and closures; only where the duplicates sat in Kafka may differ.
    assert [essence(r) for r in again.items] == [essence(r) for r in once.items]


def test_a_call_for_a_rung_not_known_yet_waits_for_it() -> None:
    stray = uuid4()
    ladder = fold(WO, located([called(stray, "+86 10 6400 0009", True, 5)]), at(60))
    assert ladder.items == []
