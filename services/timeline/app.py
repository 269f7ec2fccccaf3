"""Composition root of timeline: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from contracts import AnyEvent, NetworkIncidentRecorded, WorkOrderEvent
from contracts.topics import NETWORK, WORK_ORDERS
from services.common import http
from services.common.consumer import Consumes, Subscription
from services.common.runtime import running
from services.common.settings import ServiceSettings
from services.timeline.routes import router

MIGRATIONS = Path(__file__).parent / "migrations"


def _judged(event: AnyEvent) -> bool:
    return isinstance(event, WorkOrderEvent | NetworkIncidentRecorded)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()  # read from the environment
    consumes = Consumes("timeline", (WORK_ORDERS, NETWORK), Subscription(wants=_judged))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, MIGRATIONS, publishes=False, consumes=consumes) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch timeline",
        summary="For auditors and supervisors: each order's A–H timeline, judged, with evidence.",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(router)
    http.install(app, settings)
    return app
