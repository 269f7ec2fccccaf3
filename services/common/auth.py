"""Who is asking: every request but health, the API docs and the pages' static files carries a
bearer token (the ``Authorization: Bearer`` header, else a browser's ``rd_token`` cookie).

``Authentication`` (ASGI middleware, installed by ``http.install``) answers 401 to a request
without a valid token and keeps the ``Principal`` of one that has it. Routes declare what they
need with ``Allow`` (a FastAPI dependency: on the route, or once on a router); a route that
declares nothing still gets a rule, so a new router is never open by accident: a GET needs
``DEFAULT_READ`` (auditors, admins), anything else ``DEFAULT_WRITE`` (admins). Scope (a
dispatcher's repair center, a device's vehicle) is checked by the route, which knows the
resource's own; see ``domain.access``.
"""

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.access import Role
from domain.access import (
    DEFAULT_READ,
    DEFAULT_WRITE,
    Ability,
    Forbidden,
    Principal,
    require,
)
from services.common.clock import utc_now
from services.common.failures import describe, is_transient
from services.common.runtime import Runtime
from services.common.tokens import matches, token_id_of

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Answered without a token: liveness, and the API's own description."""
TOKEN_COOKIE = "rd_token"  # noqa: S105 (a cookie's name, not a secret)
"""Where a browser's page keeps the token (set by ``/web/signin.js``): read when a request has no
bearer header, since an ``EventSource`` cannot send one."""
RETRY_AFTER_S = 2
MATCHED_ROUTE = "matched_route"
"""Where ``http.Observed`` leaves, in the request's state, the route it found serving it."""


class Allow:
    """A route's declaration: the bearer's role must hold one of ``abilities``.

    ``Depends(Allow(...))`` returns the ``Principal``, for the route's scope checks."""

    def __init__(self, *abilities: Ability) -> None:
        assert abilities, "name at least one ability"
        self.abilities = abilities

    async def __call__(self, request: Request) -> Principal:
        # async (nothing awaited): FastAPI runs a plain ``def`` dependency in its thread pool,
        # a thread hop per request on the hottest path (issue 9).
        principal = principal_of(request)
        route = request.scope.get("route")
        path = route.path if isinstance(route, APIRoute) else request.url.path
        require(principal, *self.abilities, what=f"{request.method} {path}")
        return principal


def allow(*abilities: Ability) -> Any:
    """``Depends(Allow(*abilities))``, for ``dependencies=[...]`` of a route or a router."""
    return Depends(Allow(*abilities))


def principal_of(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    assert isinstance(principal, Principal), "Authentication middleware is not installed"
    return principal


def _declared(dependant: Dependant) -> Iterator[Allow]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Allow):
            yield sub.call
        yield from _declared(sub)


class Authentication:
    """401 without a valid bearer; the default rule for routes that declare none."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._declares: dict[int, bool] = {}
        self._static: tuple[str, ...] | None = None
        self._routes: list[BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._is_static(scope):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = self.api.state.runtime
        token = token_of(scope)
        try:
            principal = await _verify(runtime, token)
        except Exception as err:
            if not is_transient(err):
                raise
            log.warning(
                "%s %s: 503, tokens unreadable: %s", scope["method"], scope["path"], describe(err)
            )
            await _answer(
                send,
                503,
                f"temporarily unavailable: {describe(err)}",
                [(b"retry-after", str(RETRY_AFTER_S).encode())],
            )
            return
        if isinstance(principal, str):
            await _answer(
                send, 401, principal, [(b"www-authenticate", b'Bearer realm="repair-dispatch"')]
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        refusal = self._default_rule(scope, principal)
        if refusal is not None:
            await _answer(send, 403, refusal, [])
            return
        await self.app(scope, receive, send)

    def _is_static(self, scope: Scope) -> bool:
        """A page's file (HTML, script, style: no data), under a ``StaticFiles`` mount: open,
        so that a browser can load the sign-in form. Only such mounts, never an API route."""
        if self._static is None:
            self._static = tuple(
                route.path
                for route in self.api.router.routes
                if isinstance(route, Mount) and isinstance(route.app, StaticFiles)
            )
        path: str = scope["path"]
        return scope["method"] in ("GET", "HEAD") and any(
            path == mount or path.startswith(mount + "/") for mount in self._static
        )  # the mount itself is redirected to its index ("/console" to "/console/")

    def _default_rule(self, scope: Scope, principal: Principal) -> str | None:
        """The reason to refuse a request to a route that declares no ``Allow``, if any."""
        route = scope.get("state", {}).get(MATCHED_ROUTE)
        if not isinstance(route, APIRoute):
            if self._routes is None:  # every route is in place once the first request comes
                self._routes = every_route(self.api)
            for route in self._routes:
                match, _ = route.matches(scope)
                if match is Match.FULL and isinstance(route, APIRoute):
                    break
            else:
                return None  # 404 or 405, answered by the router to an authenticated caller
        declares = self._declares.get(id(route))
        if declares is None:
            declares = self._declares[id(route)] = any(_declared(route.dependant))
        if declares:
            return None
        ability = DEFAULT_READ if scope["method"] in ("GET", "HEAD") else DEFAULT_WRITE
        try:
            require(principal, ability, what=f"{scope['method']} {route.path}")
        except Forbidden as refused:
            return str(refused)
        return None


def every_route(app: FastAPI) -> list[BaseRoute]:
    """The app's routes as served, those of included routers among them (with the routers'
    dependencies). FastAPI from 0.16x keeps included routers whole; its iterator for them is
    private, so an older FastAPI's flat list is the fallback."""
    try:
        from fastapi.routing import _iter_included_route_candidates
    except ImportError:
        return list(app.router.routes)
    return list(_iter_included_route_candidates(app.router.routes))


def token_of(scope: Scope) -> str | None:
    """The token: the ``Authorization: Bearer`` header first, else the ``rd_token`` cookie."""
    cookies: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
        if name == b"cookie":
            cookies = value.decode("latin-1")
    if cookies is None:
        return None
    return cookie_parser(cookies).get(TOKEN_COOKIE, "").strip() or None


async def _verify(runtime: Runtime, token: str | None) -> Principal | str:
    """The principal, or why not (never echoing the token)."""
    if not token:
        return "missing bearer token: send 'Authorization: Bearer <token>'"
    token_id = token_id_of(token)
    if token_id is None:
        return "invalid token"
    known = await runtime.tokens.find(token_id)
    if known is None or not matches(known, token):
        return "invalid token"
    if known.revoked:
        return f"token {token_id} is revoked"
    if known.principal.expires_at <= utc_now():
        return f"token {token_id} expired at {known.principal.expires_at.isoformat()}"
    return known.principal


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WhoAmI(BaseModel):
    """The bearer as this service knows it."""

    token_id: str
    role: Role
    repair_center_id: str | None
    vehicle_id: str | None
    expires_at: AwareDatetime


router = APIRouter(tags=["access"])


@router.get("/v1/whoami", dependencies=[allow(Ability.IDENTIFY)])
async def whoami(request: Request) -> WhoAmI:
    """The token's role and scope, once this service has learnt of it (a fresh token reaches
    each service within moments: poll this until it answers 200)."""
    p = principal_of(request)
    return WhoAmI(
        token_id=p.token_id,
        role=p.role,
        repair_center_id=p.repair_center_id,
        vehicle_id=p.vehicle_id,
        expires_at=p.expires_at,
    )


Caller = Annotated[Principal, Depends(principal_of)]
"""The authenticated principal, for a route that already declared its ``Allow``."""
