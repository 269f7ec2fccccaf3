"""The HTTP edge shared by the services: errors to status codes, load shedding, tokens, body
size, health routes, and what every request leaves behind: its metrics and its log lines' ids."""

import logging
import time
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Forbidden
from domain.errors import DomainError, ImpossibleStep, InvalidReference, NotFound
from services.common import auth, health, logs, metrics, web
from services.common.deps import RuntimeDep
from services.common.edge import BodyLimit
from services.common.event_store import ConcurrentWrite
from services.common.failures import describe, is_transient
from services.common.refusals import refusal_with_facts
from services.common.settings import ServiceSettings
from services.common.shedding import LoadShedding

__all__ = ["RuntimeDep", "install"]

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, ImpossibleStep: 409, InvalidReference: 422, Forbidden: 403}
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


class Problem(BaseModel):
    """Every refusal's body: ``detail`` says what is wrong (for a 422, a list of what and
    where); a reused key's 409 adds ``differs`` and ``first``."""

    model_config = ConfigDict(extra="allow")
    detail: Any


_REFUSALS: dict[str, str] = {
    "400": "The body is not JSON at all.",
    "401": "No valid bearer token (missing, unknown, expired, revoked).",
    "403": "The token's role or scope does not cover this; `detail` says why.",
    "404": "Names something that does not exist.",
    "409": "Contradicts what is recorded, or reuses a key.",
    "413": "The body is larger than `MAX_BODY_BYTES`.",
    "422": "Bad input: what and where.",
    "503": "Overloaded, or a dependency is away; nothing was recorded: retry after `Retry-After`.",
}
_OPEN = {"/healthz": ("503",)}
"""Routes answered without a token refuse only this way."""


def _document_refusals(app: FastAPI) -> None:
    """Every answer a route can give is in the OpenAPI, so that a client (and schemathesis)
    can check it: the refusals are added to each operation (FastAPI's own 422 model stays
    where it put one). Done on the document, FastAPI's public way to amend it."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = make()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for code in _OPEN.get(path, _REFUSALS):
                    answers.setdefault(code, {"description": _REFUSALS[code], "content": problem})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_UNSTORABLE = (
    asyncpg.exceptions.UntranslatableCharacterError,
    asyncpg.exceptions.CharacterNotInRepertoireError,
)


def _unstorable_text(_: Request, exc: Exception) -> JSONResponse:
    """Text PostgreSQL cannot keep (a NUL character): the client's input, refused; the
    transaction that met it recorded nothing."""
    where = {"loc": ["body"], "msg": "text with a NUL character is not accepted", "type": "nul"}
    return JSONResponse({"detail": [where]}, status_code=422)


TITLE_PREFIX = "repair-dispatch "
"""The apps are titled ``repair-dispatch <service>``: the service's name in logs and metrics."""


def service_name(app: FastAPI) -> str:
    return app.title.removeprefix(TITLE_PREFIX)


class Observed:
    """Each admitted request's correlation id (the caller's ``X-Correlation-ID``
    or ``X-Request-ID``, else a new one, echoed in ``X-Correlation-ID``) and the path's
    ``work_order_id`` are bound to every log line written while it is served, uvicorn's
    access line among them; its route template, status and duration are counted."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._routes: list[BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:  # every route is in place once the first request comes
            self._routes = auth.every_route(self.api)
        started = time.perf_counter()
        route, params, served_by = metrics.route_of(self._routes, scope)
        # Kept for ``Authentication``: one scan of the routes per request, not one per layer.
        scope.setdefault("state", {})[auth.MATCHED_ROUTE] = served_by
        correlation_id = logs.correlation_id_from(scope["headers"])
        status = 500  # unless an answer starts: an error that escaped is answered 500

        async def answering(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    *message.get("headers", ()),
                    (logs.RESPONSE_HEADER, correlation_id.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        work_order_id = logs.work_order_id_of(params.get("work_order_id"))
        with logs.bound(correlation_id=correlation_id, work_order_id=work_order_id):
            try:
                await self.app(scope, receive, answering)
            finally:
                metrics.observe_request(
                    scope["method"], route, status, time.perf_counter() - started
                )


def install(app: FastAPI, settings: ServiceSettings) -> None:
    """The shared edge of a service's app: logging (JSON lines), error handlers, middleware
    (outermost: observed, shed, authenticated, bounded), health, readiness and metrics."""
    service = service_name(app)
    logs.configure(service, settings.log_format)
    metrics.set_service(service)
    app.add_exception_handler(DomainError, _domain_error)
    for unstorable in _UNSTORABLE:
        app.add_exception_handler(unstorable, _unstorable_text)
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
    # Added innermost first: how much they send, who is asking, the observer (which sees every
    # answer past the shedding, a 401 too), and outermost the shedding: under overload a request
    # turned away must cost next to nothing, or answering 503s is what swamps the service.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(auth.Authentication, api=app)
    app.add_middleware(Observed, api=app)
    app.add_middleware(LoadShedding, max_in_flight=settings.max_in_flight)
    app.include_router(health.router)
    app.include_router(auth.router)
    web.install(app)  # the pages' shared stylesheet and sign-in module, at /web
    _document_refusals(app)
