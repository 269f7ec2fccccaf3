"""The order board: where each open order stands, for the inboxes and the vehicles' queues."""

from domain.orders import OrderState
from services.common.db import Connection


async def refresh(conn: Connection, state: OrderState) -> None:
    """The order's row, as its events now say."""
