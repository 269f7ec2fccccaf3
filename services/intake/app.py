"""Composition root of intake: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from contracts.topics import REFERENCE_DATA
from services.common import http
from services.common.consumer import Consumes, Subscription
from services.common.runtime import running
from services.common.settings import ServiceSettings
from services.intake import routing_rules
from services.intake.routes import router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()  # read from the environment
    # The routing rules dispatch defines: kept in received_events, read by a routed issue.
    consumes = Consumes("intake", (REFERENCE_DATA,), Subscription(wants=routing_rules.wanted))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, MIGRATIONS, publishes=True, consumes=consumes) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch intake",
        summary="For the 95598 phone system: calls that ended (A), orders issued (B), callbacks.",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(router)
    http.install(app, settings)
    return app
