"""Rule 5: an order that finds no suitable standby vehicle is recorded as blocked; too many blocks
of one department and trade inside the window raise a capacity alert to its leaders.

Checked when an order starts waiting for a vehicle: taken in (C), or recalled from its vehicle.
The window slides on the events' own times, so a replay of the same events alerts the same way.
"""

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import (
    CapacityAlertPayload,
    CapacityAlertRaised,
    DispatchBlocked,
    DispatchBlockedPayload,
    Leader,
    WorkOrderEventT,
    WorkOrderRecalled,
    WorkOrderReceived,
)
from domain.fleet import Block, Group, blocked_reason, blocks_to_alert
from domain.orders import OrderState
from services.common.clock import utc_now
from services.common.db import Connection
from services.common.event_store import append, stream_version, work_order_stream
from services.dispatch import fleet
from services.dispatch.settings import DispatchSettings


async def follow(
    conn: Connection, settings: DispatchSettings, state: OrderState, event: WorkOrderEventT
) -> None:
    if not isinstance(event, WorkOrderReceived | WorkOrderRecalled) or state.issued is None:
        return
    if state.dispatched is not None or state.done:
        return
    issued = state.issued.payload
    group = Group(issued.repair_center_id, issued.department, issued.trade)
    vehicles = await fleet.with_states(
        conn, await fleet.of_repair_center(conn, group.repair_center_id)
    )
    reason = blocked_reason(group.department, group.trade, vehicles)
    if reason is None:
        return
    blocked = DispatchBlocked(
        **DispatchBlocked.fields_from(event),
        work_order_id=state.work_order_id,
        occurred_at=event.occurred_at,
        recorded_at=utc_now(),
        source=f"repair-center:{group.repair_center_id}",
        payload=DispatchBlockedPayload(
            repair_center_id=group.repair_center_id,
            department=group.department,
            trade=group.trade,
            reason=reason,
        ),
    )
    stream = work_order_stream(state.work_order_id)
    await append(conn, stream, await stream_version(conn, stream), [blocked], settings.topic_prefix)
    await conn.execute(
        "INSERT INTO dispatch_blocks (event_id, work_order_id, group_key, blocked_at) "
        "VALUES ($1, $2, $3, $4)",
        blocked.event_id,
        blocked.work_order_id,
        group.key,
        blocked.occurred_at,
    )
    await _alert_if_due(conn, settings, group, blocked)


async def _alert_if_due(
    conn: Connection, settings: DispatchSettings, group: Group, latest: DispatchBlocked
) -> None:
    rows = await conn.fetch(
        "SELECT work_order_id, blocked_at FROM dispatch_blocks "
        "WHERE group_key = $1 AND NOT alerted FOR UPDATE",
        group.key,
    )
    window = timedelta(seconds=settings.capacity_window_s)
    due = blocks_to_alert(
        [Block(r["work_order_id"], r["blocked_at"]) for r in rows],
        latest.occurred_at,
        window,
        settings.capacity_blocked_threshold,
    )
    if not due:
        return
    alert = CapacityAlertRaised(
        event_id=_alert_id(group, latest.event_id),
        correlation_id=uuid5(NAMESPACE_URL, f"repair-dispatch:capacity:{group.key}"),
        causation_id=latest.event_id,
        occurred_at=latest.occurred_at,
        recorded_at=utc_now(),
        source=f"repair-center:{group.repair_center_id}",
        payload=CapacityAlertPayload(
            alert_id=_alert_id(group, latest.event_id),
            repair_center_id=group.repair_center_id,
            department=group.department,
            trade=group.trade,
            window_s=settings.capacity_window_s,
            blocked_work_order_ids=[b.work_order_id for b in due],
            leaders=await _leaders(conn, group),
        ),
    )
    stream = f"capacity-{group.key}"
    await append(conn, stream, await stream_version(conn, stream), [alert], settings.topic_prefix)
    await conn.execute(
        "INSERT INTO capacity_alerts (alert_id, repair_center_id, raised_at, body) "
        "VALUES ($1, $2, $3, $4)",
        alert.payload.alert_id,
        group.repair_center_id,
        alert.recorded_at,
        alert.model_dump(mode="json"),
    )
    await conn.execute(
        "UPDATE dispatch_blocks SET alerted = true WHERE group_key = $1 AND work_order_id = ANY($2)",
        group.key,
        [b.work_order_id for b in due],
    )


def _alert_id(group: Group, latest: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"repair-dispatch:capacity-alert:{group.key}:{latest}")


async def _leaders(conn: Connection, group: Group) -> list[Leader]:
    """The leaders of the group's crews, each once: whom the repair center tells."""
    rows = await conn.fetch(
        "SELECT body FROM crews WHERE repair_center_id = $1 ORDER BY crew_id",
        group.repair_center_id,
    )
    leaders: dict[tuple[str, str], Leader] = {}
    for row in rows:
        crew = row["body"]
        if group.department not in (None, crew["department"]) or group.trade not in (
            None,
            crew["trade"],
        ):
            continue
        for leader in crew["leaders"]:
            leaders.setdefault((leader["name"], leader["phone"]), Leader.model_validate(leader))
    return list(leaders.values())


async def alerts(
    conn: Connection, repair_center_id: str | None, since: datetime | None, limit: int
) -> list[CapacityAlertRaised]:
    """The alerts raised, newest first."""
    rows = await conn.fetch(
        """
        SELECT body FROM capacity_alerts
        WHERE ($1::text IS NULL OR repair_center_id = $1)
          AND ($2::timestamptz IS NULL OR raised_at >= $2)
        ORDER BY raised_at DESC LIMIT $3
        """,
        repair_center_id,
        since,
        limit,
    )
    return [CapacityAlertRaised.model_validate(row["body"]) for row in rows]
