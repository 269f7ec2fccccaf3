"""Reading old events with today's models: upcasters from one schema version to the next.

Stored history is never rewritten. When an event's model gets a version 2, its version-1 bodies
(in Kafka and in every service's tables) are read through an upcaster: a pure function from the
v1 body (a dict) to the v2 body, registered here under ``(event_type, 1)``. ``parse_event`` applies
the chain until the body is at the version its model accepts.

To add a v2: change the model (``schema_version: Literal[2]``), add its upcaster next to it with
``@upcaster("EventType", from_version=1)``, keep the v1 fixture under ``tests/fixtures/events/v1/``
forever (a test re-reads every one), and add a v2 fixture.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

Body = dict[str, Any]
Upcaster = Callable[[Body], Body]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event_type, from_version) → the function that returns the body at from_version + 1."""


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``function`` as the step from ``from_version`` to the next version."""

    def register(function: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"{event_type} v{from_version} already has an upcaster")
        UPCASTERS[key] = function
        return function

    return register


def upcast(body: Body) -> Body:
    """``body`` at the newest version its upcasters reach (unchanged when there is none)."""
    while True:
        step = UPCASTERS.get((body.get("event_type"), body.get("schema_version")))  # type: ignore[arg-type]
        if step is None:
            return body
        version = body["schema_version"]
        body = {**step(body), "schema_version": version + 1}


@contextmanager
def registered(extra: Mapping[tuple[str, int], Upcaster]) -> Iterator[None]:
    """Upcasters in force only inside the block (for tests of a version that does not exist)."""
    clash = UPCASTERS.keys() & extra.keys()
    if clash:
        raise ValueError(f"already registered: {sorted(clash)}")
    UPCASTERS.update(extra)
    try:
        yield
    finally:
        for key in extra:
            del UPCASTERS[key]
