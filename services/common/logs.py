"""Structured logs: one JSON object a line on stderr, for every stdlib logger (uvicorn's too).

The code logs with the stdlib (``logging.getLogger(__name__)``, %-formatting); structlog's
``ProcessorFormatter`` renders each record with ``timestamp``, ``level``, ``logger``,
``event`` (the message), ``service``, and what the context binds: ``correlation_id`` and
``work_order_id`` (the HTTP edge binds them for a request, the consumer for each event it
applies, see ``bound`` and ``about``). ``LOG_FORMAT=console`` renders the same fields plainly,
for a developer's terminal.
"""

import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from uuid import UUID, uuid4

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console"]

CORRELATION_HEADERS = (b"x-correlation-id", b"x-request-id")
"""Where a caller's correlation id is read, in this order."""
RESPONSE_HEADER = b"x-correlation-id"
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
"""What a caller's id may look like to be kept: anything else is replaced, never logged."""
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_OURS = "repair-dispatch"
"""The name of the handler ``configure`` installs, so that configuring again replaces it."""


def correlation_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's correlation id: its ``X-Correlation-ID``, else its ``X-Request-ID``, when
    well-formed; else a fresh one (a hostile header value never reaches a log line)."""
    given = dict(headers)
    for name in CORRELATION_HEADERS:
        value = given.get(name)
        if value is not None:
            text = value.decode("latin-1").strip()
            if _CORRELATION.match(text):
                return text
    return str(uuid4())


def work_order_id_of(value: object) -> str | None:
    """A path parameter as a work order id, when it is one (a malformed id binds nothing)."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(UUID(value))
        except ValueError:
            return None
    return None


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Bind ids (``None`` ones left out) to every log line of the enclosed code, restoring
    what was bound before on the way out."""
    with bound_contextvars(**{k: str(v) for k, v in ids.items() if v is not None}):
        yield


@contextmanager
def about(event: object) -> Iterator[None]:
    """Bind a consumed event's work order (when it has one) and correlation ids."""
    with bound(
        work_order_id=getattr(event, "work_order_id", None),
        correlation_id=getattr(event, "correlation_id", None),
    ):
        yield


def _add_service(service: str) -> Processor:
    def add(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add


def _access_fields(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """uvicorn's access line as fields as well as its message: method, path, status."""
    args = event.pop("positional_args", None)
    if event.get("logger") == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, _version, status = args
        event.update(client=client, method=method, path=path, status=status)
    return event


def _shared(service: str) -> list[Processor]:
    return [
        merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]


def formatter(service: str, fmt: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every record: the shared fields, then JSON or the console's layout."""
    render: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(service), _access_fields],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        pass_foreign_args=True,
    )


def configure(service: str, fmt: LogFormat = "json", stream: TextIO | None = None) -> None:
    """Send every stdlib logger through one handler on ``stream`` (stderr), uvicorn's too.

    Called when the app is made, after uvicorn configured its own loggers and before it logs
    anything: its handlers are removed and its records propagate to ours. Calling it again
    replaces the handler (the OpenAPI tests make the three apps in one process)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_OURS)
    handler.setFormatter(formatter(service, fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _OURS]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.captureWarnings(True)
    # No line renders where a record was made, nor its thread or process: as the stdlib's
    # logging HOWTO ("Optimization") advises, they are not looked up, for every record (the
    # access line is one a request: 50 -> 42 us each).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # structlog's own loggers, should code use them, end in the same handler with the same fields.
    structlog.configure(
        processors=[*_shared(service), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def context() -> dict[str, Any]:
    """What is bound now (for tests and for code that passes the ids on)."""
    return structlog.contextvars.get_contextvars()
