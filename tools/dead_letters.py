"""List the dead letters with their reasons, and re-drive chosen ones to their original topic.

    uv run python -m tools.dead_letters list [--limit N] [--json]
    uv run python -m tools.dead_letters redrive OFFSET [OFFSET ...]

A consumer parks a message it can never apply on the dead-letter topic, with the reason and the
message's origin in headers. Once the cause is mended (a bug fixed, reference data added), a
re-drive publishes the original key and value again to the original topic; every consumer
deduplicates by event id, so those that had applied it change nothing and the one that failed
applies it now.
"""

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import DEAD_LETTERS
from services.common.clock import utc_now

app = typer.Typer(help=__doc__, no_args_is_help=True)

Bootstrap = Annotated[
    str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
]
Prefix = Annotated[str, typer.Option(envvar="TOPIC_PREFIX", help="Prefix of the topic names.")]


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    at: str | None
    group: str | None
    topic: str | None
    partition: int | None
    original_offset: int | None
    event_type: str | None
    event_id: str | None
    reason: str
    key: bytes | None
    value: bytes | None

    def line(self) -> str:
        origin = f"{self.topic}[{self.partition}]@{self.original_offset}" if self.topic else "?"
        what = f"{self.event_type} {self.event_id}" if self.event_type else "(unreadable body)"
        reason = self.reason if len(self.reason) <= 160 else self.reason[:157] + "..."
        return (
            f"{self.offset:>6}  {self.at or '?'}  {self.group or '?'}  {origin}  {what}  {reason}"
        )


def _dead_letter(
    offset: int, key: bytes | None, value: bytes | None, headers: dict[str, str]
) -> DeadLetter:
    event_type = event_id = None
    try:
        body = json.loads(value or b"")
        event_type, event_id = body.get("event_type"), body.get("event_id")
    except (ValueError, AttributeError):
        pass

    def number(name: str) -> int | None:
        text = headers.get(name, "")
        return int(text) if text.isdigit() else None

    return DeadLetter(
        offset=offset,
        at=headers.get("dead_letter.at"),
        group=headers.get("dead_letter.group"),
        topic=headers.get("dead_letter.topic"),
        partition=number("dead_letter.partition"),
        original_offset=number("dead_letter.offset"),
        event_type=event_type,
        event_id=event_id,
        reason=headers.get("dead_letter.reason", "(no reason given)"),
        key=key,
        value=value,
    )


async def read_all(bootstrap: str, prefix: str) -> list[DeadLetter]:
    """Every dead letter on the topic, oldest first, up to the end as it stood when asked."""
    topic = f"{prefix}{DEAD_LETTERS.name}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():  # also fetches the topics' metadata
            raise typer.BadParameter(f"no topic {topic} on {bootstrap}")
        # The topic's spec is what created it (``ensure_topics``).
        partitions = [TopicPartition(topic, p) for p in range(DEAD_LETTERS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        headers = {k: v.decode(errors="replace") for k, v in record.headers}
                        letters.append(
                            _dead_letter(record.offset, record.key, record.value, headers)
                        )
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return sorted(letters, key=lambda d: d.offset)
    finally:
        await consumer.stop()


async def redrive_offsets(bootstrap: str, prefix: str, offsets: list[int]) -> list[str]:
    """Publish the chosen dead letters again to their original topics; what was sent where."""
    by_offset = {d.offset: d for d in await read_all(bootstrap, prefix)}
    missing = [o for o in offsets if o not in by_offset]
    if missing:
        raise typer.BadParameter(f"no dead letter at offset(s) {missing}")
    nowhere = [o for o in offsets if by_offset[o].topic is None]
    if nowhere:
        raise typer.BadParameter(f"dead letter(s) {nowhere} do not name their original topic")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        for offset in offsets:
            letter = by_offset[offset]
            assert letter.topic is not None
            headers = [
                ("redriven_from", str(offset).encode()),
                ("redriven_at", utc_now().isoformat().encode()),
            ]
            meta = await producer.send_and_wait(
                letter.topic, value=letter.value, key=letter.key, headers=headers
            )
            sent.append(f"dead letter {offset} -> {letter.topic}[{meta.partition}]@{meta.offset}")
    finally:
        await producer.stop()
    return sent


@app.command("list")
def list_(
    bootstrap: Bootstrap = "127.0.0.1:19092",
    topic_prefix: Prefix = "",
    limit: Annotated[int, typer.Option(min=1, help="Show the newest N.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The dead letters, oldest first: offset, when, group, origin, event, reason."""
    letters = asyncio.run(read_all(bootstrap, topic_prefix))[-limit:]
    for letter in letters:
        if as_json:
            fields = {k: v for k, v in asdict(letter).items() if k not in ("key", "value")}
            typer.echo(json.dumps(fields))
        else:
            typer.echo(letter.line())
    if not as_json:
        typer.echo(f"{len(letters)} dead letter(s)", err=True)


@app.command()
def redrive(
    offsets: Annotated[list[int], typer.Argument(help="Offsets on the dead-letter topic.")],
    bootstrap: Bootstrap = "127.0.0.1:19092",
    topic_prefix: Prefix = "",
) -> None:
    """Publish the chosen dead letters again, unchanged, to the topic each came from."""
    for line in asyncio.run(redrive_offsets(bootstrap, topic_prefix, offsets)):
        typer.echo(line)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
