"""Repair centers, crews and vehicles: created or replaced by id, read back as given."""

from dataclasses import dataclass
from typing import TypeVar

from contracts import Contract, Crew, RepairCenter, Vehicle
from domain.errors import InvalidReference, NotFound
from services.common.db import Connection

M = TypeVar("M", bound=Contract)


@dataclass(frozen=True)
class _Table:
    name: str
    key: str
    parent: type[Contract] | None = None  # the body's field named after the parent's key must exist


_TABLES: dict[type[Contract], _Table] = {
    RepairCenter: _Table("repair_centers", "repair_center_id"),
    Crew: _Table("crews", "crew_id", parent=RepairCenter),
    Vehicle: _Table("vehicles", "vehicle_id", parent=Crew),
}


async def put(conn: Connection, key: str, body: Contract) -> bool:
    """Create or replace the record with id ``key``; True when it was created."""
    table = _TABLES[type(body)]
    columns, values = [table.key], [key]
    if table.parent is not None:
        parent = _TABLES[table.parent]
        parent_key = getattr(body, parent.key)
        exists = await conn.fetchval(
            f"SELECT true FROM {parent.name} WHERE {parent.key} = $1", parent_key
        )
        if not exists:
            raise InvalidReference(parent.key, f"no {table.parent.__name__.lower()} {parent_key!r}")
        columns.append(parent.key)
        values.append(parent_key)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns[1:], "body"])
    created: bool = await conn.fetchval(
        f"""
        INSERT INTO {table.name} ({", ".join(columns)}, body)
        VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 2))})
        ON CONFLICT ({table.key}) DO UPDATE SET {updates}, updated_at = now()
        RETURNING xmax = 0
        """,
        *values,
        body.model_dump(mode="json"),
    )
    return created


async def get(conn: Connection, model: type[M], key: str) -> M:
    table = _TABLES[model]
    body = await conn.fetchval(f"SELECT body FROM {table.name} WHERE {table.key} = $1", key)
    if body is None:
        raise NotFound(f"no {model.__name__.lower()} {key!r}")
    return model.model_validate(body)
