"""The write side of a work order: fold its events into state, decide whether a step may happen.

Decide functions are pure: they take the order's past events (folded into ``OrderState``), the
request and the instant we record at, and return an ``Outcome``: a new event to store, or the
event already stored for the same request (a retry), which the caller answers again unchanged.
They refuse what contradicts the order itself, and a live system's stamp (A–D) that lies further
from the instant we record it than the tolerance (``domain.stamps``): that party stamps the point
that closes its own segment. Otherwise timing is the timeline's to judge (late, early or
out-of-order crew reports are taken), not a reason to lose a report. The same step posted again is
a retry only with the same body; another body is refused with the first one's facts (``retries``).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar, assert_never
from uuid import UUID, uuid4

from contracts import (
    CallEnded,
    CallEndedPayload,
    Contract,
    CrewArrived,
    CrewDeparted,
    CrewReportPayload,
    DispatchBlocked,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
    Position,
    RepairRecord,
    WorkOrderClosed,
    WorkOrderClosedPayload,
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderEvent,
    WorkOrderEventT,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
    WorkOrderRecalled,
    WorkOrderRecalledPayload,
    WorkOrderReceived,
    WorkOrderReceivedPayload,
)
from domain.errors import ImpossibleStep, NotFound
from domain.retries import require_same
from domain.stamps import check_live_stamp

E = TypeVar("E", bound=WorkOrderEvent)
E_co = TypeVar("E_co", bound=WorkOrderEvent, covariant=True)

CrewReportEvent = OrderReachedCrew | OrderAcceptedByCrew | CrewDeparted | CrewArrived | FaultCleared
CREW_REPORTS: dict[str, type[CrewReportEvent]] = {
    "order_received": OrderReachedCrew,
    "order_accepted": OrderAcceptedByCrew,
    "departed": CrewDeparted,
    "arrived": CrewArrived,
    "fault_cleared": FaultCleared,
}
"""What a GPS unit's report ``type`` records about the order it carries (E, F, G, H, cleared)."""


@dataclass(frozen=True)
class Outcome(Generic[E_co]):
    event: E_co
    is_new: bool


@dataclass(frozen=True)
class OrderState:
    """What the write side needs to know of one order: the first event of each step, and every
    dispatch attempt with the recalls that ended them (rule 4)."""

    work_order_id: UUID
    call: CallEnded | None = None
    issued: WorkOrderIssued | None = None
    received: WorkOrderReceived | None = None
    dispatches: tuple[WorkOrderDispatched, ...] = ()
    """Every attempt, in the order we recorded them."""
    recalls: tuple[WorkOrderRecalled, ...] = ()
    crew_reports: tuple[CrewReportEvent, ...] = field(default_factory=tuple)
    blocked: tuple[DispatchBlocked, ...] = ()
    closed: WorkOrderClosed | None = None

    @classmethod
    def fold(cls, work_order_id: UUID, events: Iterable[WorkOrderEventT]) -> "OrderState":
        call = issued = received = closed = None
        dispatches: list[WorkOrderDispatched] = []
        recalls: list[WorkOrderRecalled] = []
        blocked: list[DispatchBlocked] = []
        reports: list[CrewReportEvent] = []
        for event in sorted(events, key=lambda e: e.recorded_at):
            match event:
                case CallEnded():
                    call = call or event
                case WorkOrderIssued():
                    issued = issued or event
                case WorkOrderReceived():
                    received = received or event
                case WorkOrderDispatched():
                    dispatches.append(event)
                case WorkOrderRecalled():
                    recalls.append(event)
                case DispatchBlocked():
                    blocked.append(event)
                case WorkOrderClosed():
                    closed = closed or event
                case (
                    OrderReachedCrew()
                    | OrderAcceptedByCrew()
                    | CrewDeparted()
                    | CrewArrived()
                    | FaultCleared()
                ):
                    reports.append(event)
                case _:
                    assert_never(event)
        return cls(
            work_order_id,
            call,
            issued,
            received,
            tuple(dispatches),
            tuple(recalls),
            tuple(reports),
            tuple(blocked),
            closed,
        )

    @property
    def exists(self) -> bool:
        return self.call is not None or self.issued is not None

    def recall_of(self, dispatched: WorkOrderDispatched) -> WorkOrderRecalled | None:
        return next(
            (r for r in self.recalls if r.payload.dispatch_event_id == dispatched.event_id), None
        )

    @property
    def dispatched(self) -> WorkOrderDispatched | None:
        """The attempt under way: the last dispatch, unless it was recalled."""
        if not self.dispatches or self.recall_of(self.dispatches[-1]) is not None:
            return None
        return self.dispatches[-1]

    def reports_of(self, dispatched: WorkOrderDispatched) -> tuple[CrewReportEvent, ...]:
        """What the unit reported about one attempt (its reports are caused by its dispatch)."""
        return tuple(r for r in self.crew_reports if r.causation_id == dispatched.event_id)

    @property
    def done(self) -> bool:
        """Nothing is left to do for the order on a vehicle: closed, or its fault cleared."""
        return self.closed is not None or any(
            isinstance(r, FaultCleared) for r in self.crew_reports
        )


def _same_or_conflict(
    existing: E, stamp_field: str, occurred_at: datetime, payload: Contract, step: str
) -> Outcome[E]:
    """The stored event for a retry of a step; another body for the step is ``AlreadyRecorded``.

    Both sides are the step's facts as the request names them: its stamp and the payload.
    """
    require_same(
        f"work order {existing.work_order_id} was already {step}",
        {stamp_field: existing.occurred_at, **dict(existing.payload)},
        {stamp_field: occurred_at, **dict(payload)},
    )
    return Outcome(existing, is_new=False)


def open_work_order(
    payload: CallEndedPayload,
    ended_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> CallEnded:
    """Point A: a call has ended and opens a new work order; the event id is the story's id."""
    check_live_stamp("ended_at", ended_at, recorded_at, tolerance)
    story = uuid4()
    return CallEnded(
        event_id=story,
        correlation_id=story,
        work_order_id=uuid4(),
        occurred_at=ended_at,
        recorded_at=recorded_at,
        source=source,
        payload=payload,
    )


def decide_issue(
    state: OrderState,
    payload: WorkOrderIssuedPayload,
    issued_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> Outcome[WorkOrderIssued]:
    """Point B: the duty chief issues the order to a repair center, once."""
    if state.call is None:
        raise NotFound(f"no work order {state.work_order_id}")
    if state.issued is not None:
        return _same_or_conflict(state.issued, "issued_at", issued_at, payload, "issued")
    check_live_stamp("issued_at", issued_at, recorded_at, tolerance)
    event = WorkOrderIssued(
        **WorkOrderIssued.fields_from(state.call),
        work_order_id=state.work_order_id,
        occurred_at=issued_at,
        recorded_at=recorded_at,
        source=source,
        payload=payload,
    )
    return Outcome(event, is_new=True)


def decide_receipt(
    state: OrderState,
    payload: WorkOrderReceivedPayload,
    received_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> Outcome[WorkOrderReceived]:
    """Point C: the repair center the order was issued to takes it in."""
    if not state.exists:
        raise NotFound(f"no work order {state.work_order_id} has reached dispatch")
    if state.issued is None:
        raise ImpossibleStep(f"work order {state.work_order_id} has not been issued yet")
    issued_to = state.issued.payload.repair_center_id
    if payload.repair_center_id != issued_to:
        raise ImpossibleStep(
            f"work order {state.work_order_id} was issued to repair center {issued_to!r}, "
            f"not {payload.repair_center_id!r}"
        )
    if state.received is not None:
        return _same_or_conflict(state.received, "received_at", received_at, payload, "received")
    check_live_stamp("received_at", received_at, recorded_at, tolerance)
    event = WorkOrderReceived(
        **WorkOrderReceived.fields_from(state.issued),
        work_order_id=state.work_order_id,
        occurred_at=received_at,
        recorded_at=recorded_at,
        source=source,
        payload=payload,
    )
    return Outcome(event, is_new=True)


def decide_dispatch(
    state: OrderState,
    payload: WorkOrderDispatchedPayload,
    dispatched_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> Outcome[WorkOrderDispatched]:
    """Point D: the repair center that took the order in sends it to one crew and vehicle.

    Whether the crew belongs to that repair center is reference data, checked by the caller
    before ``payload`` is built (it also fills in ``crew_co_located`` from there).
    """
    if not state.exists:
        raise NotFound(f"no work order {state.work_order_id} has reached dispatch")
    if state.received is None:
        raise ImpossibleStep(
            f"work order {state.work_order_id} has not been received by a repair center yet"
        )
    if payload.repair_center_id != state.received.payload.repair_center_id:
        raise ImpossibleStep(
            f"work order {state.work_order_id} is held by repair center "
            f"{state.received.payload.repair_center_id!r}, not {payload.repair_center_id!r}"
        )
    if state.dispatched is not None:
        return _same_or_conflict(
            state.dispatched, "dispatched_at", dispatched_at, payload, "dispatched"
        )
    last_recall = state.recall_of(state.dispatches[-1]) if state.dispatches else None
    if last_recall is not None and dispatched_at < last_recall.occurred_at:
        raise ImpossibleStep(
            f"dispatched_at {dispatched_at.isoformat()} is before the recall of the previous "
            f"attempt ({last_recall.occurred_at.isoformat()}): a new attempt comes after it"
        )
    check_live_stamp("dispatched_at", dispatched_at, recorded_at, tolerance)
    event = WorkOrderDispatched(
        **WorkOrderDispatched.fields_from(state.received),
        work_order_id=state.work_order_id,
        occurred_at=dispatched_at,
        recorded_at=recorded_at,
        source=source,
        payload=payload,
    )
    return Outcome(event, is_new=True)


def decide_crew_report(
    state: OrderState,
    report_type: str,
    vehicle_id: str,
    report_id: str,
    position: Position | None,
    occurred_at: datetime,
    recorded_at: datetime,
    repair: RepairRecord | None = None,
) -> Outcome[CrewReportEvent]:
    """E, F, G, H or fault cleared, from the GPS unit of the vehicle the order was sent to.

    Any order and any number of times: a unit that retried with a new report id, or whose
    "departed" arrives after its "arrived", is still heard; the timeline judges the clocks.
    Retries with the same report id never reach here (the shell answers them from storage).
    """
    dispatched = require_dispatched_to(state, vehicle_id)
    payload = CrewReportPayload(
        vehicle_id=vehicle_id,
        crew_id=dispatched.payload.crew_id,
        report_id=report_id,
        position=position,
        repair=repair,
    )
    cls = CREW_REPORTS[report_type]
    event = cls(
        **cls.fields_from(dispatched),
        work_order_id=state.work_order_id,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        source=f"gps-unit:{vehicle_id}",
        payload=payload,
    )
    return Outcome(event, is_new=True)


def require_dispatched_to(state: OrderState, vehicle_id: str) -> WorkOrderDispatched:
    """The order's dispatch to this vehicle; a vehicle may speak only of orders sent to it."""
    if not state.exists:
        raise NotFound(f"no work order {state.work_order_id} has reached dispatch")
    dispatched = state.dispatched
    if dispatched is None or dispatched.payload.vehicle_id != vehicle_id:
        raise ImpossibleStep(
            f"work order {state.work_order_id} was never dispatched to vehicle {vehicle_id!r}"
        )
    return dispatched


def decide_recall(
    state: OrderState,
    reason: str,
    requested_by: str,
    recalled_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    report_id: str | None = None,
    tolerance: timedelta | None = None,
) -> Outcome[WorkOrderRecalled]:
    """Rule 4: the attempt under way is withdrawn from its vehicle, so the order can go elsewhere.

    A retry (the same reason, requester and stamp for the attempt just recalled) is answered
    again. Nothing is recalled once the crew is on site or the fault cleared: the order is
    no longer waiting on a vehicle. A dispatcher's stamp is live (``tolerance``); a unit's
    request may come late, like its other reports.
    """
    if not state.exists:
        raise NotFound(f"no work order {state.work_order_id} has reached dispatch")
    if state.dispatched is None and state.dispatches:
        last = state.recall_of(state.dispatches[-1])
        if last is not None:
            return _same_or_conflict(
                last,
                "recalled_at",
                recalled_at,
                last.payload.model_copy(update={"reason": reason, "requested_by": requested_by}),
                "recalled",
            )
    attempt = state.dispatched
    if attempt is None:
        raise ImpossibleStep(
            f"work order {state.work_order_id} is not dispatched: nothing to recall"
        )
    if state.done or any(isinstance(r, CrewArrived) for r in state.reports_of(attempt)):
        raise ImpossibleStep(
            f"work order {state.work_order_id}: the crew of vehicle "
            f"{attempt.payload.vehicle_id!r} is already on site; it cannot be recalled"
        )
    if recalled_at < attempt.occurred_at:
        raise ImpossibleStep(
            f"recalled_at {recalled_at.isoformat()} is before the dispatch it would recall "
            f"({attempt.occurred_at.isoformat()})"
        )
    if tolerance is not None:
        check_live_stamp("recalled_at", recalled_at, recorded_at, tolerance)
    event = WorkOrderRecalled(
        **WorkOrderRecalled.fields_from(attempt),
        work_order_id=state.work_order_id,
        occurred_at=recalled_at,
        recorded_at=recorded_at,
        source=source,
        payload=WorkOrderRecalledPayload(
            dispatch_event_id=attempt.event_id,
            repair_center_id=attempt.payload.repair_center_id,
            crew_id=attempt.payload.crew_id,
            vehicle_id=attempt.payload.vehicle_id,
            reason=reason,
            requested_by=requested_by,
            report_id=report_id,
        ),
    )
    return Outcome(event, is_new=True)


def decide_close(
    state: OrderState,
    payload: WorkOrderClosedPayload,
    called_back_at: datetime,
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> Outcome[WorkOrderClosed]:
    """The 95598 center called the customer back and closes the order, once."""
    if state.call is None:
        raise NotFound(f"no work order {state.work_order_id}")
    if state.closed is not None:
        return _same_or_conflict(state.closed, "called_back_at", called_back_at, payload, "closed")
    if state.issued is None:
        raise ImpossibleStep(f"work order {state.work_order_id} was never issued: no callback yet")
    check_live_stamp("called_back_at", called_back_at, recorded_at, tolerance)
    event = WorkOrderClosed(
        **WorkOrderClosed.fields_from(state.issued),
        work_order_id=state.work_order_id,
        occurred_at=called_back_at,
        recorded_at=recorded_at,
        source=source,
        payload=payload,
    )
    return Outcome(event, is_new=True)
