"""The routing rules intake knows: every ``RoutingRuleDefined`` it has consumed from dispatch.

The consumer keeps each definition in ``received_events`` (that is their history here); the
issue reads them inside the transaction that decides and records it.
"""

from contracts import AnyEvent, RoutingRuleDefined, parse_event
from services.common.db import Connection


def wanted(event: AnyEvent) -> bool:
    """Of the reference data, intake needs the routing rules only."""
    return isinstance(event, RoutingRuleDefined)


async def known(conn: Connection) -> list[RoutingRuleDefined]:
    """Every definition of every rule received so far (``domain.routing`` takes the latest)."""
    rows = await conn.fetch(
        "SELECT body::text FROM received_events WHERE event_type = 'RoutingRuleDefined'"
    )
    parsed = [parse_event(row[0]) for row in rows]
    return [event for event in parsed if isinstance(event, RoutingRuleDefined)]
