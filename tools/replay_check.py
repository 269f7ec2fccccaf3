"""Rebuild the timeline's projection from offset 0 and compare it with the live one.

    uv run python -m tools.replay_check [--database-url URL] [--bootstrap-servers HOST:PORT]
                                        [--topic-prefix PREFIX] [--keep-schema]

Reads, in one snapshot of the live database, how far the live projection has applied each
partition (the work-orders topic's recorded clocks, the network topic's stored incidents) and
each order's hash; replays both topics from offset 0 up to exactly those offsets into a fresh
schema of the same database, through the same code the live consumer runs (ticks as recorded:
no clock is read, nothing is published, no tick is sent); then compares order by order by hash.
The last line is ``compared N orders, K differences``; the exit status is 1 when K > 0.
"""

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from contracts import parse_event
from contracts.topics import NETWORK, WORK_ORDERS
from services.common.consumer import Consumed, Subscription, apply_consumed
from services.common.db import migrate
from services.timeline import projection
from services.timeline.app import MIGRATIONS
from services.timeline.judging import policy_book

app = typer.Typer(help=__doc__, add_completion=False)

DEFAULT_DATABASE_URL = "postgresql://repair@127.0.0.1:25432/repair_timeline"
SHOWN_DIFFERENCES = 20


@dataclass(frozen=True)
class Snapshot:
    """What the live projection had applied, and what it held, at one instant."""

    last_offsets: dict[TopicPartition, int]
    hashes: dict[UUID, str]


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def live_snapshot(database_url: str, work_orders: str, network: str) -> Snapshot:
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            clocks = await conn.fetch("SELECT kafka_partition, last_offset FROM partition_clocks")
            stored = await conn.fetch(
                """
                SELECT topic, kafka_partition, max(kafka_offset) AS last_offset
                FROM received_events WHERE topic = ANY($1::text[]) GROUP BY 1, 2
                """,
                [work_orders, network],
            )
            rows = await conn.fetch("SELECT work_order_id, hash FROM order_projection")
    finally:
        await conn.close()
    last: dict[TopicPartition, int] = {}
    for row in clocks:
        last[TopicPartition(work_orders, row["kafka_partition"])] = row["last_offset"]
    for row in stored:
        tp = TopicPartition(row["topic"], row["kafka_partition"])
        last[tp] = max(last.get(tp, -1), row["last_offset"])
    return Snapshot(last, {row["work_order_id"]: row["hash"] for row in rows})


def _in_schema(database_url: str, schema: str) -> str:
    joiner = "&" if "?" in database_url else "?"
    return f"{database_url}{joiner}options={quote(f'-csearch_path={schema}')}"


async def rebuild(
    database_url: str, schema: str, bootstrap: str, prefix: str, snapshot: Snapshot
) -> dict[UUID, str]:
    """Replay the topics up to the snapshot's offsets into ``schema``; the rebuilt hashes."""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')  # our own generated name
    finally:
        await admin.close()
    await migrate(_in_schema(database_url, schema), MIGRATIONS)
    work_orders = f"{prefix}{WORK_ORDERS.name}"
    subscription = projection.subscription(prefix, work_orders, policy_book())
    targets = {tp: offset for tp, offset in snapshot.last_offsets.items() if offset >= 0}
    total = sum(offset + 1 for offset in targets.values())
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    await _init(conn)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        consumer.assign(list(targets))
        if targets:
            await consumer.seek_to_beginning(*targets)
        pending = set(targets)
        with typer.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=2000)
                for tp, records in batches.items():
                    wanted = [r for r in records if r.offset <= targets[tp]]
                    async with conn.transaction():
                        for record in wanted:
                            await _replay_one(conn, subscription, record)
                    bar.update(len(wanted))
                    done = bool(wanted) and wanted[-1].offset >= targets[tp]
                    if done or len(wanted) < len(records):
                        pending.discard(tp)
                        consumer.pause(tp)
        rows = await conn.fetch("SELECT work_order_id, hash FROM order_projection")
    finally:
        await consumer.stop()
        await conn.close()
    return {row["work_order_id"]: row["hash"] for row in rows}


async def _replay_one(
    conn: asyncpg.Connection, subscription: Subscription, record: ConsumerRecord[bytes, bytes]
) -> None:
    if record.value is None:
        return
    try:
        event = parse_event(record.value)
    except ValidationError:
        return  # the live consumer dead-lettered it too
    if not subscription.wants(event):
        return
    where = Consumed(record.topic, record.partition, record.offset)
    try:
        async with conn.transaction():  # a savepoint: a refused event changes nothing
            await apply_consumed(conn, subscription, event, where)
    except Exception:  # what the live consumer dead-lettered (its effects rolled back) too
        return


def differences(live: dict[UUID, str], rebuilt: dict[UUID, str]) -> list[str]:
    """One line per order whose rebuilt row is missing, extra, or of another hash."""
    lines = []
    for wo in sorted(live.keys() | rebuilt.keys()):
        got, want = rebuilt.get(wo), live.get(wo)
        if got != want:
            lines.append(f"{wo}: live {want or 'missing'}, rebuilt {got or 'missing'}")
    return lines


async def check(
    database_url: str, bootstrap: str, prefix: str, keep_schema: bool
) -> tuple[int, list[str]]:
    """Rebuild and compare; the number of orders compared and the differences."""
    snapshot = await live_snapshot(
        database_url, f"{prefix}{WORK_ORDERS.name}", f"{prefix}{NETWORK.name}"
    )
    schema = f"replay_{uuid4().hex[:12]}"
    try:
        rebuilt = await rebuild(database_url, schema, bootstrap, prefix, snapshot)
    finally:
        if not keep_schema:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
        else:
            typer.echo(f"rebuilt projection kept in schema {schema}", err=True)
    return len(snapshot.hashes.keys() | rebuilt.keys()), differences(snapshot.hashes, rebuilt)


@app.command()
def main(
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar="TIMELINE_DATABASE_URL",
            help="The live timeline database (the rebuild goes into a fresh schema of it).",
        ),
    ] = DEFAULT_DATABASE_URL,
    bootstrap_servers: Annotated[
        str,
        typer.Option(
            "--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap."
        ),
    ] = "127.0.0.1:19092",
    topic_prefix: Annotated[
        str, typer.Option("--topic-prefix", envvar="TOPIC_PREFIX", help="Topic name prefix.")
    ] = "",
    keep_schema: Annotated[
        bool, typer.Option("--keep-schema", help="Keep the rebuilt schema to look into.")
    ] = False,
) -> None:
    """Rebuild the projection from offset 0 and compare it with the live one, order by order."""
    compared, diffs = asyncio.run(check(database_url, bootstrap_servers, topic_prefix, keep_schema))
    for line in diffs[:SHOWN_DIFFERENCES]:
        typer.echo(line)
    if len(diffs) > SHOWN_DIFFERENCES:
        typer.echo(f"... and {len(diffs) - SHOWN_DIFFERENCES} more")
    typer.echo(f"compared {compared} orders, {len(diffs)} differences")
    raise typer.Exit(1 if diffs else 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
