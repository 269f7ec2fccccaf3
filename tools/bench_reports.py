"""Benchmark: a day's summary report over a projection of a million orders (not a timed test).

    uv run python -m tools.bench_reports [--server-url URL] [--orders 1000000] [--days 30] [--keep]

Creates a scratch database on the server, fills the timeline's projection tables with synthetic
orders spread over ``--days`` days (seven segments each, some breached), and times the report's
queries for one day: the whole day, by department, by day. Drops the database afterwards.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, get_args
from uuid import uuid4

import asyncpg
import typer

from services.common.db import migrate
from services.timeline.app import MIGRATIONS
from services.timeline.routes_reports import GroupBy, report_snapshot, summaries

app = typer.Typer(help=__doc__, add_completion=False)
START = datetime(2026, 1, 1, tzinfo=UTC)

FILL = """
INSERT INTO order_projection (work_order_id, kafka_partition, judged_at, policy_version,
    department, a_at, h_at, total_s, total_status, hash)
SELECT gen_random_uuid(), n % 6, a + interval '40 minutes', '2026-11-01',
       (ARRAY['City supply station', 'Suburban supply station', 'Community service station',
              'Emergency repair team'])[1 + n % 4],
       a, a + interval '1 second' * (1500 + n % 1800), 1500 + n % 1800,
       CASE WHEN 1500 + n % 1800 <= 2700 THEN 'met' ELSE 'breached' END, md5(n::text)
FROM (SELECT n, $1::timestamptz + ($2::float8 * 86400 * n / $3) * interval '1 second' AS a
      FROM generate_series(0, $3 - 1) AS n) o;
"""
SEGMENTS = """
INSERT INTO order_segments (work_order_id, segment, a_at, department, status, responsible,
    duration_s, ended, limit_s)
SELECT work_order_id, s.segment, o.a_at, o.department,
       CASE WHEN d > s.limit_s THEN 'breached' ELSE 'met' END, s.responsible, d, true, s.limit_s
FROM order_projection o
CROSS JOIN (VALUES ('AB', 120, 'customer_service_center'), ('BC', 240, 'repair_center'),
                   ('CD', 120, 'repair_center'), ('DE', 240, 'crew_receiver'),
                   ('EF', 120, 'crew_receiver'), ('FG', 180, 'crew_repair_staff'),
                   ('GH', 1680, 'crew_repair_staff')) AS s(segment, limit_s, responsible)
CROSS JOIN LATERAL (SELECT s.limit_s * (0.5 + (abs(hashtext(o.hash || s.segment)) % 1000) / 1500.0)
                    AS d) AS x
"""


async def bench(server_url: str, orders: int, days: int, keep: bool) -> None:
    name = f"bench_reports_{uuid4().hex[:8]}"
    url = f"{server_url.rsplit('/', 1)[0]}/{name}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # our own generated name
    try:
        await migrate(url, MIGRATIONS)
        conn = await asyncpg.connect(url)
        try:
            started = time.monotonic()
            await conn.execute(FILL, START, float(days), orders)
            await conn.execute(SEGMENTS)
            # Settled, as autovacuum leaves a day gone by: the report's scans are index-only.
            await conn.execute("VACUUM (ANALYZE)")
            typer.echo(
                f"filled {orders} orders over {days} days in {time.monotonic() - started:.0f} s"
            )
            day = START + timedelta(days=days // 2)
            for group_by in (None, *get_args(GroupBy)):
                started = time.monotonic()
                async with report_snapshot(conn):
                    whole, _ = await summaries(conn, day, day + timedelta(days=1), group_by)
                took = time.monotonic() - started
                count = whole.orders
                typer.echo(f"one day, group_by={group_by}: {count} orders in {took * 1000:.0f} ms")
        finally:
            await conn.close()
    finally:
        if not keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            typer.echo(f"kept database {name}")
        await admin.close()


@app.command()
def main(
    server_url: Annotated[
        str, typer.Option("--server-url", help="Any database on the server (to create one).")
    ] = "postgresql://repair@127.0.0.1:25432/repair_timeline",
    orders: Annotated[int, typer.Option("--orders", min=1)] = 1_000_000,
    days: Annotated[int, typer.Option("--days", min=1)] = 30,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch database.")] = False,
) -> None:
    """Fill a scratch projection and time a day's report."""
    asyncio.run(bench(server_url, orders, days, keep))


if __name__ == "__main__":
    app()
