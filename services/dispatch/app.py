"""Composition root of dispatch: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from contracts import AnyEvent, CallEnded, WorkOrderIssued
from contracts.topics import WORK_ORDERS
from services.common import http
from services.common.consumer import Consumes, Subscription
from services.common.runtime import running
from services.common.settings import ServiceSettings
from services.dispatch import routes_network, routes_orders, routes_reference, routes_vehicles

MIGRATIONS = Path(__file__).parent / "migrations"


def _from_intake(event: AnyEvent) -> bool:
    # Dispatch learns of an order from intake's events; the order's later steps are its own.
    return isinstance(event, CallEnded | WorkOrderIssued)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()  # read from the environment
    consumes = Consumes("dispatch", (WORK_ORDERS,), Subscription(wants=_from_intake))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, MIGRATIONS, publishes=True, consumes=consumes) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch dispatch",
        summary="For repair centers and crews: take orders in (C), dispatch (D), GPS reports (E–H).",
        version="1",
        lifespan=lifespan,
    )
    for module in (routes_orders, routes_vehicles, routes_reference, routes_network):
        app.include_router(module.router)
    http.install(app, settings)
    return app
