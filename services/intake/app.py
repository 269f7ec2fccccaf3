"""Composition root of intake: settings in, the app out; nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.common import http
from services.common.runtime import running
from services.common.settings import ServiceSettings
from services.intake.routes import router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()  # read from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, MIGRATIONS, publishes=True) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="repair-dispatch intake",
        summary="For the 95598 phone system: calls that ended (A) and orders issued (B).",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(router)
    http.install(app, settings)
    return app
