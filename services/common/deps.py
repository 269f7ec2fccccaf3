"""The request's view of the running service, as a FastAPI dependency."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async (nothing awaited): a plain ``def`` dependency would run in the thread pool.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
