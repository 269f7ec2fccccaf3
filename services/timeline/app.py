"""Composition root of timeline: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from contracts.topics import ESCALATIONS, NETWORK, WORK_ORDERS
from services.common import http
from services.common.consumer import Consumes
from services.common.runtime import running
from services.timeline import (
    ladder,
    projection,
    routes_breaches,
    routes_desk,
    routes_ladder,
    routes_rejudge,
    routes_reports,
)
from services.timeline.judging import policy_book
from services.timeline.routes import router
from services.timeline.settings import TimelineSettings
from services.timeline.ticker import ticker_task

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: TimelineSettings | None = None) -> FastAPI:
    settings = settings or TimelineSettings()  # read from the environment
    book = policy_book()
    consumes = Consumes(
        "timeline",
        (WORK_ORDERS, NETWORK, ESCALATIONS),
        # The ladder's events go to ladder.apply; every other event to the projection as before.
        ladder.beside(
            projection.subscription(settings.topic_prefix, settings.topic(WORK_ORDERS), book)
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # publishes: the live breaches (SegmentBreached) go out through the outbox.
        async with running(
            settings, MIGRATIONS, publishes=True, consumes=consumes, tasks=ticker_task(settings)
        ) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch timeline",
        summary="For auditors and supervisors: each order's A–H timeline, judged, with evidence.",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(routes_breaches.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_rejudge.router)
    app.include_router(routes_ladder.router)
    routes_desk.install(app)  # the auditor's desk: static pages at /desk/
    app.state.policy_book = book
    http.install(app, settings)
    return app
