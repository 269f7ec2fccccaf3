"""Refusals whose answer carries more than a sentence: a reused key, a stamp out of tolerance."""

from fastapi.responses import JSONResponse

from domain.errors import AlreadyRecorded, DomainError, StampOutOfTolerance


def refusal_with_facts(exc: DomainError) -> JSONResponse | None:
    """The answer for these refusals, or ``None`` for the plain ``{"detail": reason}`` ones.

    A reused key is 409 with ``detail``, ``differs`` and (unless personal) ``first``, the first
    body. A stamp out of tolerance is 422 in FastAPI's own shape, at the stamp's field.
    """
    if isinstance(exc, AlreadyRecorded):
        body: dict[str, object] = {"detail": str(exc), "differs": list(exc.differs)}
        if exc.first is not None:
            body["first"] = exc.first
        return JSONResponse(body, status_code=409)
    if isinstance(exc, StampOutOfTolerance):
        where = {"loc": ["body", exc.field], "msg": str(exc), "type": "stamp_out_of_tolerance"}
        return JSONResponse({"detail": [where]}, status_code=422)
    return None
