"""The HTTP edge shared by the services: domain errors to status codes, and the health check."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from domain.errors import DomainError, ImpossibleStep, InvalidReference, NotFound
from services.common.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_STATUS = {NotFound: 404, ImpossibleStep: 409, InvalidReference: 422}


def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, InvalidReference):
        # Same shape as FastAPI's own 422, so a client reads every bad field one way.
        detail: Any = [{"loc": ["body", exc.field], "msg": str(exc), "type": "invalid_reference"}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": str(exc)}, status_code=_STATUS.get(type(exc), 400))


health = APIRouter()


@health.get("/healthz", tags=["operations"])
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers and every background task (relay, consumer) is alive."""
    dead = runtime.dead_tasks()
    try:
        await runtime.pool.fetchval("SELECT 1")
        database = "ok"
    except Exception as err:  # any failure here is exactly what the probe reports
        database = f"unavailable: {err}"
    ok = not dead and database == "ok"
    body = {"status": "ok" if ok else "failing", "database": database, "dead_tasks": dead}
    return JSONResponse(body, status_code=200 if ok else 503)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.include_router(health)
