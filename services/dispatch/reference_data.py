"""Repair centers, crews, vehicles and routing rules: every definition an event, the tables their
projection.

A PUT that changes anything appends a ``…Defined`` event (the whole new definition) to the
defined id's own stream, with its outbox row, and upserts the table in the same transaction, so
the table ``get`` reads never disagrees with the history an auditor reads (``history``): who led
a crew and which phone rang at any time. A PUT of exactly the current definition records nothing.
"""

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from contracts import (
    Contract,
    Crew,
    CrewDefined,
    RepairCenter,
    RepairCenterDefined,
    RoutingRule,
    RoutingRuleDefined,
    Vehicle,
    VehicleDefined,
    parse_event,
)
from contracts.reference import ReferenceEvent
from domain.errors import InvalidReference, NotFound
from services.common.db import Connection
from services.common.event_store import append, stream_version

M = TypeVar("M", bound=Contract)

SOURCE = "reference-data"
"""Who observed a definition: we did, when the administrator's PUT reached us."""


class RoutingRuleBody(RoutingRule):
    """A routing rule as defined over the API: the rule, and whether it is retired."""

    retired: bool = Field(default=False, description="A retired rule no longer routes orders.")


@dataclass(frozen=True)
class _Kind:
    table: str
    key: str
    stream: str
    event: type[ReferenceEvent]
    parent: type[Contract] | None = None  # the body's field named after the parent's key must exist


_KINDS: dict[type[Contract], _Kind] = {
    RepairCenter: _Kind("repair_centers", "repair_center_id", "repair-center", RepairCenterDefined),
    Crew: _Kind("crews", "crew_id", "crew", CrewDefined, parent=RepairCenter),
    Vehicle: _Kind("vehicles", "vehicle_id", "vehicle", VehicleDefined, parent=Crew),
    RoutingRuleBody: _Kind(
        "routing_rules", "rule_id", "routing-rule", RoutingRuleDefined, parent=RepairCenter
    ),
}


class Change(enum.Enum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


def stream_of(model: type[Contract], key: str) -> str:
    """The stream of one defined id: ``crew-<id>``, ``routing-rule-<id>``."""
    return f"{_KINDS[model].stream}-{key}"


def story_of(stream_id: str) -> UUID:
    """Every definition of one id shares a correlation id, derived from its stream.

    The same derivation (md5 of the stream id) is spelled in SQL by the migration that gave the
    rows defined before these events their first definition (``0006``)."""
    return UUID(hashlib.md5(stream_id.encode(), usedforsecurity=False).hexdigest())


async def put(
    conn: Connection, key: str, body: Contract, *, recorded_at: datetime, topic_prefix: str
) -> Change:
    """Define the record ``key`` as ``body``, in the caller's transaction.

    A new id or a changed body appends its ``…Defined`` event and upserts the table; exactly the
    current body records nothing. The parent it names (a crew's repair center, a vehicle's crew,
    a rule's repair center) must exist: ``InvalidReference`` at that field otherwise.
    """
    model = type(body)
    kind = _KINDS[model]
    columns, values = [kind.key], [key]
    if kind.parent is not None:
        parent = _KINDS[kind.parent]
        parent_key = getattr(body, parent.key)
        exists = await conn.fetchval(
            f"SELECT true FROM {parent.table} WHERE {parent.key} = $1", parent_key
        )
        if not exists:
            raise InvalidReference(parent.key, f"no {_noun(kind.parent)} {parent_key!r}")
        columns.append(parent.key)
        values.append(parent_key)
    stream = stream_of(model, key)
    version = await stream_version(conn, stream)
    current = await conn.fetchval(
        f"SELECT body FROM {kind.table} WHERE {kind.key} = $1 FOR UPDATE", key
    )
    if current is not None and model.model_validate(current) == body:
        return Change.UNCHANGED
    event = kind.event.model_validate(
        {
            "event_id": uuid4(),
            # The administrator's change is observed by us: both clocks are ours.
            "occurred_at": recorded_at,
            "recorded_at": recorded_at,
            "source": SOURCE,
            "correlation_id": story_of(stream),
            "payload": {**body.model_dump(mode="json"), kind.key: key},
        }
    )
    # A concurrent first definition of the same id loses here (ConcurrentWrite) and is decided
    # again by the caller's retry, against the winner's row.
    await append(conn, stream, version, [event], topic_prefix)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns[1:], "body"])
    await conn.execute(
        f"""
        INSERT INTO {kind.table} ({", ".join(columns)}, body)
        VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 2))})
        ON CONFLICT ({kind.key}) DO UPDATE SET {updates}, updated_at = now()
        """,
        *values,
        body.model_dump(mode="json"),
    )
    return Change.CREATED if current is None else Change.CHANGED


async def get(conn: Connection, model: type[M], key: str) -> M:
    """The current definition of ``key``; ``NotFound`` if it was never defined."""
    kind = _KINDS[model]
    body = await conn.fetchval(f"SELECT body FROM {kind.table} WHERE {kind.key} = $1", key)
    if body is None:
        raise NotFound(f"no {_noun(model)} {key!r}")
    return model.model_validate(body)


async def get_all(conn: Connection, model: type[M]) -> list[tuple[str, M]]:
    """Every id of a kind with its current definition, by id."""
    kind = _KINDS[model]
    rows = await conn.fetch(f"SELECT {kind.key}, body FROM {kind.table} ORDER BY {kind.key}")
    return [(row[0], model.model_validate(row[1])) for row in rows]


class Definition(BaseModel):
    """One definition of an id, as recorded: the event, when we recorded it, what it said."""

    event_id: UUID
    recorded_at: datetime
    definition: dict[str, Any] = Field(description="The whole definition, as the PUT body.")


async def history(conn: Connection, model: type[Contract], key: str) -> list[Definition]:
    """Every definition of ``key``, oldest first; ``NotFound`` if it was never defined."""
    kind = _KINDS[model]
    rows = await conn.fetch(
        "SELECT body::text FROM events WHERE stream_id = $1 ORDER BY version",
        stream_of(model, key),
    )
    if not rows:
        raise NotFound(f"no {_noun(model)} {key!r} was ever defined")
    definitions = []
    for row in rows:
        event = parse_event(row[0])
        said = event.payload.model_dump(mode="json", exclude={kind.key})
        definitions.append(
            Definition(event_id=event.event_id, recorded_at=event.recorded_at, definition=said)
        )
    return definitions


def _noun(model: type[Contract]) -> str:
    return {RepairCenter: "repair center", RoutingRuleBody: "routing rule"}.get(
        model, model.__name__.lower()
    )
