"""The HTTP edge shared by the services: errors to status codes, load shedding, health routes."""

import logging
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from domain.errors import DomainError, ImpossibleStep, InvalidReference, NotFound
from services.common import health
from services.common.deps import RuntimeDep
from services.common.event_store import ConcurrentWrite
from services.common.failures import describe, is_transient
from services.common.refusals import refusal_with_facts
from services.common.settings import ServiceSettings
from services.common.shedding import LoadShedding

__all__ = ["RuntimeDep", "install"]

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, ImpossibleStep: 409, InvalidReference: 422}
RETRY_AFTER_S = 2


def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if (with_facts := refusal_with_facts(exc)) is not None:
        return with_facts
    if isinstance(exc, InvalidReference):
        # Same shape as FastAPI's own 422, so a client reads every bad field one way.
        detail: Any = [{"loc": ["body", exc.field], "msg": str(exc), "type": "invalid_reference"}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": str(exc)}, status_code=_STATUS.get(type(exc), 400))


def _infrastructure_error(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL (or Kafka) away, or too much contention: nothing was recorded, try again.

    The transaction that would have recorded the request did not commit, so a retry with the
    same body is safe; ``Retry-After`` says when.
    """
    if is_transient(exc):
        log.warning("%s %s: 503, %s", request.method, request.url.path, describe(exc))
        return JSONResponse(
            {"detail": f"temporarily unavailable, nothing was recorded: {describe(exc)}"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; nothing was recorded"}, status_code=500)


def install(app: FastAPI, settings: ServiceSettings) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    for infrastructure in (
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        KafkaError,
        ConcurrentWrite,
    ):
        app.add_exception_handler(infrastructure, _infrastructure_error)
    app.add_middleware(LoadShedding, max_in_flight=settings.max_in_flight)
    app.include_router(health.router)
