"""Composition root of dispatch: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from contracts import AnyEvent, CallEnded, WorkOrderClosed, WorkOrderIssued
from contracts.topics import WORK_ORDERS
from services.common import http
from services.common.consumer import Consumes, Subscription
from services.common.runtime import running
from services.dispatch import (
    effects,
    escalations,
    routes_console,
    routes_escalations,
    routes_network,
    routes_orders,
    routes_reference,
    routes_repair_centers,
    routes_vehicles,
)
from services.dispatch.settings import DispatchSettings
from services.dispatch.stream import CHANGES

MIGRATIONS = Path(__file__).parent / "migrations"


def _from_intake(event: AnyEvent) -> bool:
    # Dispatch learns of an order from intake's events; the order's later steps are its own.
    return isinstance(event, CallEnded | WorkOrderIssued | WorkOrderClosed)


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()  # read from the environment
    consumes = Consumes(
        "dispatch",
        (WORK_ORDERS,),
        Subscription(wants=_from_intake, apply=effects.consumed(settings)),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(
            settings,
            MIGRATIONS,
            publishes=True,
            consumes=consumes,
            tasks={"escalation_timers": escalations.timer_task, "console_changes": CHANGES.task},
        ) as runtime:
            runtime.on_outbox_written.append(CHANGES.wake)  # a vehicle's position moved
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch dispatch",
        summary="For repair centers and crews: take orders in (C), dispatch (D), GPS reports (E–H), "
        "recalls, vehicles' queues and availability, escalations.",
        version="1",
        lifespan=lifespan,
    )
    for module in (
        routes_orders,
        routes_vehicles,
        routes_reference,
        routes_network,
        routes_escalations,
        routes_repair_centers,
        routes_console,
    ):
        app.include_router(module.router)
    routes_console.mount(app)
    http.install(app, settings)
    return app
