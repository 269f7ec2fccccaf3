"""Decide, then record: one transaction reads an order's events, asks the core, stores the answer."""

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast
from uuid import UUID

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from contracts import WorkOrderEvent, WorkOrderEventT
from domain.orders import OrderState, Outcome
from services.common.db import Connection
from services.common.event_store import (
    ConcurrentWrite,
    append,
    stream_version,
    work_order_events,
    work_order_stream,
)
from services.common.runtime import Runtime

E = TypeVar("E", bound=WorkOrderEvent)
T = TypeVar("T")


async def in_transaction(runtime: Runtime, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction, again from the start if another writer got there first.

    Two requests racing on one stream both read version N; the second append fails on the
    unique (stream, version) and its whole transaction is decided again, against the first's event.
    """

    async def once() -> T:
        async with runtime.pool.acquire() as conn, conn.transaction():
            return await work(conn)

    return await _again_on_race(once)


async def in_one_statement(runtime: Runtime, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run ``work`` on one pooled connection outside a transaction block, again from the start
    if another writer got there first.

    For work that records everything in a single statement (atomic, and durable when it
    returns, by itself) after reads that need no transaction: one round trip, not BEGIN, the
    statements and COMMIT (issue 9: a GPS unit's position report)."""

    async def once() -> T:
        async with runtime.pool.acquire() as conn:
            return await work(conn)

    return await _again_on_race(once)


async def _again_on_race(once: Callable[[], Awaitable[T]]) -> T:
    """``once()``, and again from the start (five tries in all) while another writer of the
    same stream got there first. The first try goes without tenacity's machinery, built anew
    for every call: it is every request's path, and it nearly always wins (issue 9)."""
    try:
        return await once()
    except ConcurrentWrite:
        pass
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(ConcurrentWrite), stop=stop_after_attempt(4), reraise=True
    ):
        with attempt:
            return await once()
    raise AssertionError("unreachable: tenacity reraises the last ConcurrentWrite")


Follow = Callable[[Connection, OrderState, WorkOrderEventT], Awaitable[None]]
"""What a service keeps in step with an order's new event (its projections, its timers): called
in the transaction that records the event, with the order's state including it."""


async def decide_and_append(
    conn: Connection,
    topic_prefix: str,
    work_order_id: UUID,
    decide: Callable[[OrderState], Outcome[E]],
    follow: Follow | None = None,
) -> Outcome[E]:
    """Apply ``decide`` to the order's current state; store the event if it is new, and let
    ``follow`` update what depends on it in the same transaction."""
    stream = work_order_stream(work_order_id)
    version = await stream_version(conn, stream)
    past = await work_order_events(conn, work_order_id)
    outcome = decide(OrderState.fold(work_order_id, past))
    if outcome.is_new:
        await append(conn, stream, version, [outcome.event], topic_prefix)
        if follow is not None:
            event = cast("WorkOrderEventT", outcome.event)  # every E is one of the union
            await follow(conn, OrderState.fold(work_order_id, [*past, event]), event)
    return outcome


async def decide_once(
    runtime: Runtime,
    work_order_id: UUID,
    decide: Callable[[OrderState], Outcome[E]],
    follow: Follow | None = None,
) -> Outcome[E]:
    """``decide_and_append`` in a transaction of its own."""
    prefix = runtime.settings.topic_prefix
    return await in_transaction(
        runtime, lambda conn: decide_and_append(conn, prefix, work_order_id, decide, follow)
    )
