"""The request's view of the running service, as a FastAPI dependency."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
