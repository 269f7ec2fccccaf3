"""The network-incident lookups are answered by their index, however many events are held.

Every timeline GET and every projection batch asks for the incidents; the index that answers
is partial (``WHERE work_order_id IS NULL``), so a lookup that does not say so scans every event
ever received (issue 9: 22.8 ms at 69,000 events, half a second at two million). With sequential
scans priced out, the plan must use the index, or the query cannot use it at all.
"""

import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from services.common.db import migrate
from services.timeline.app import MIGRATIONS
from services.timeline.projection import INCIDENT_IDS
from services.timeline.store import INCIDENTS_AS_OF
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    name = f"test_incident_index_{uuid4().hex[:8]}"
    with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield f"{infra.postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _scans(plan: Any) -> Iterator[tuple[str, str | None]]:
    """(node type, index name) of every node of a JSON plan."""
    yield plan["Node Type"], plan.get("Index Name")
    for child in plan.get("Plans", ()):
        yield from _scans(child)


@pytest.mark.parametrize(
    ("sql", "args"),
    [(INCIDENT_IDS, ()), (INCIDENTS_AS_OF.replace("$1", "%s"), ("2026-12-01T00:00:00Z",))],
    ids=["projection's incident ids", "incidents as of an instant"],
)
async def test_the_lookup_uses_the_incidents_index(
    database: str, sql: str, args: tuple[str, ...]
) -> None:
    await migrate(database, MIGRATIONS)
    with psycopg.connect(database) as conn:
        conn.execute("SET enable_seqscan = off")
        (plan,) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}".encode(), args).fetchone()  # type: ignore[misc]
        nodes = list(_scans((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    assert ("Seq Scan", None) not in nodes, nodes
    assert any(index == "received_events_incidents" for _, index in nodes), nodes
