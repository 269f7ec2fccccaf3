"""Which repair center or vehicle a resource belongs to, for the scope checks of ``domain.access``.

Looked up before the decide step: an order's repair center is fixed when it is issued (B) and a
vehicle's by its definition, so the lookup cannot go stale between the check and the write. An
order or vehicle not known yet is left to the handler, which answers 404 or 409 as before.
"""

from uuid import UUID

from domain.access import Principal, Role, require_center, require_vehicle
from domain.errors import NotFound
from domain.orders import OrderState
from services.common.db import Connection
from services.common.event_store import work_order_events
from services.dispatch import fleet


async def order_center(conn: Connection, work_order_id: UUID) -> str | None:
    """The repair center the order was issued to, or ``None`` before it was."""
    state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    return state.issued.payload.repair_center_id if state.issued else None


async def check_order(
    conn: Connection, principal: Principal, work_order_id: UUID, what: str
) -> None:
    """A dispatcher acts on (and reads) only the orders issued to its repair center."""
    center = await order_center(conn, work_order_id)
    if center is not None or principal.role is Role.DEVICE:
        require_center(principal, center, what)


async def check_vehicle(conn: Connection, principal: Principal, vehicle_id: str, what: str) -> None:
    """A device only its own vehicle; a dispatcher only its repair center's vehicles."""
    require_vehicle(principal, vehicle_id, what)
    if principal.role is not Role.DISPATCHER:
        return
    try:
        record = await fleet.vehicle(conn, vehicle_id)
    except NotFound:
        return  # the handler says so
    require_center(principal, record.group.repair_center_id, what)
