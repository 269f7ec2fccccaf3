"""Issue, list and revoke access tokens (ADR 0011).

    uv run python -m tools.tokens issue --role ROLE [--repair-center ID] [--vehicle ID] [--ttl-days N]
    uv run python -m tools.tokens list [--json]
    uv run python -m tools.tokens revoke TOKEN_ID [--reason TEXT]
    uv run python -m tools.tokens dev [--seed seed/city.json] [--out .local/dev-tokens.json]

``issue`` publishes a ``TokenIssued`` event (the token's SHA-256, role, scope, expiry, who
issued it: never the token) to ``repair.access.v1`` with ``acks=all``, waits for the broker's
acknowledgement, and only then prints the token, as the only line on stdout: keep it, it is
shown once. Every service consumes the topic into its own table and accepts the token a moment
later (``GET /v1/whoami`` answers 200 then). ``revoke`` publishes ``TokenRevoked``; ``list``
reads the topic from the beginning. ``dev`` issues the development tokens ``make up`` writes.
"""

import asyncio
import getpass
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import parse_event
from contracts.access import (
    Role,
    TokenIssued,
    TokenIssuedPayload,
    TokenRevoked,
    TokenRevokedPayload,
)
from contracts.envelope import Envelope
from contracts.topics import ACCESS, ALL_TOPICS
from services.common.clock import utc_now
from services.common.kafka import ensure_topics, make_producer
from services.common.settings import ServiceSettings
from services.common.tokens import new_token, token_hash

app = typer.Typer(help=__doc__, no_args_is_help=True)

Bootstrap = Annotated[
    str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
]
Prefix = Annotated[str, typer.Option(envvar="TOPIC_PREFIX", help="Prefix of the topic names.")]
DEFAULT_TTL_DAYS = 90
ROOT = Path(__file__).parents[1]
DEV_TOKENS = ROOT / ".local" / "dev-tokens.json"
DEFAULT_SEED = ROOT / "seed" / "city.json"


@dataclass(frozen=True)
class Grant:
    """What a token will allow: a role and, for a dispatcher or a device, its scope."""

    role: Role
    repair_center_id: str | None = None
    vehicle_id: str | None = None


@dataclass(frozen=True)
class Issued:
    token_id: str
    token: str
    grant: Grant


def _settings(bootstrap: str, prefix: str) -> ServiceSettings:
    # The tool speaks to Kafka only; the settings' database is never opened.
    return ServiceSettings(
        database_url="postgresql://unused", kafka_bootstrap_servers=bootstrap, topic_prefix=prefix
    )


def default_issuer() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"[:64]


async def publish(bootstrap: str, prefix: str, events: Sequence[Envelope]) -> None:
    """Send ``events`` to the access topic and wait until the broker acknowledged every one."""
    settings = _settings(bootstrap, prefix)
    await ensure_topics(settings, ALL_TOPICS)
    producer = make_producer(settings)
    await producer.start()
    try:
        sent = [
            await producer.send(
                settings.topic(ACCESS), value=e.to_json(), key=e.partition_key.encode()
            )
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def issued_event(
    grant: Grant, ttl: timedelta, issued_by: str, note: str | None
) -> tuple[Issued, TokenIssued]:
    token_id, token = new_token()
    now = utc_now()
    event = TokenIssued(
        occurred_at=now,
        recorded_at=now,
        source=f"tokens-cli:{issued_by}"[:64],
        correlation_id=uuid4(),
        payload=TokenIssuedPayload(
            token_id=token_id,
            token_hash=token_hash(token),
            role=grant.role,
            repair_center_id=grant.repair_center_id,
            vehicle_id=grant.vehicle_id,
            expires_at=now + ttl,
            issued_by=issued_by,
            note=note,
        ),
    )
    return Issued(token_id, token, grant), event


async def issue_tokens(
    bootstrap: str,
    prefix: str,
    grants: Iterable[Grant],
    *,
    ttl: timedelta = timedelta(days=DEFAULT_TTL_DAYS),
    issued_by: str | None = None,
    note: str | None = None,
) -> list[Issued]:
    """Issue a token per grant; returns them once Kafka holds every ``TokenIssued``."""
    made = [issued_event(g, ttl, issued_by or default_issuer(), note) for g in grants]
    await publish(bootstrap, prefix, [event for _, event in made])
    return [issued for issued, _ in made]


async def revoke_token(
    bootstrap: str, prefix: str, token_id: str, revoked_by: str, reason: str | None
) -> None:
    now = utc_now()
    event = TokenRevoked(
        occurred_at=now,
        recorded_at=now,
        source=f"tokens-cli:{revoked_by}"[:64],
        correlation_id=uuid4(),
        payload=TokenRevokedPayload(token_id=token_id, revoked_by=revoked_by, reason=reason),
    )
    await publish(bootstrap, prefix, [event])


async def read_tokens(bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    """Every token ever issued (from the topic's beginning), with whether it was revoked."""
    settings = _settings(bootstrap, prefix)
    await ensure_topics(settings, ALL_TOPICS)
    topic = settings.topic(ACCESS)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tokens: dict[str, dict[str, Any]] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in range(ACCESS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue
                    event = parse_event(record.value)
                    if isinstance(event, TokenIssued):
                        p = event.payload
                        tokens[p.token_id] = {
                            "token_id": p.token_id,
                            "role": p.role.value,
                            "repair_center_id": p.repair_center_id,
                            "vehicle_id": p.vehicle_id,
                            "issued_at": event.occurred_at.isoformat(),
                            "issued_by": p.issued_by,
                            "expires_at": p.expires_at.isoformat(),
                            "revoked": tokens.get(p.token_id, {}).get("revoked", False),
                        }
                    elif isinstance(event, TokenRevoked):
                        tokens.setdefault(event.payload.token_id, {})["revoked"] = True
    finally:
        await consumer.stop()
    return sorted((t for t in tokens.values() if "role" in t), key=lambda t: t["issued_at"])


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def wait_accepted(urls: Iterable[str], token: str, timeout_s: float = 60.0) -> None:
    """Poll each service's ``/v1/whoami`` with ``token`` until it answers 200."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        for url in urls:
            while True:
                try:
                    status = client.get(
                        f"{url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}
                    ).status_code
                except httpx.TransportError:
                    status = None
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not accept the token within {timeout_s} s")
                time.sleep(0.1)


def dev_tokens_document(issued: Iterable[Issued]) -> dict[str, Any]:
    """The shape of ``.local/dev-tokens.json``: a token for the phone system, the auditor and
    the admin; one per repair center under ``dispatcher``, one per vehicle under ``devices``."""
    doc: dict[str, Any] = {"dispatcher": {}, "devices": {}}
    for one in issued:
        grant = one.grant
        if grant.role is Role.DISPATCHER:
            doc["dispatcher"][grant.repair_center_id] = one.token
        elif grant.role is Role.DEVICE:
            doc["devices"][grant.vehicle_id] = one.token
        else:
            doc[grant.role.value] = one.token
    return doc


def dev_grants(seed: Mapping[str, Any]) -> list[Grant]:
    """A development token for each role, each seeded repair center and each seeded vehicle."""
    return [
        Grant(Role.PHONE_SYSTEM),
        Grant(Role.AUDITOR),
        Grant(Role.ADMIN),
        *(Grant(Role.DISPATCHER, repair_center_id=rc) for rc in seed.get("repair_centers", {})),
        *(Grant(Role.DEVICE, vehicle_id=v) for v in seed.get("vehicles", {})),
    ]


def write_dev_tokens(path: Path, issued: Iterable[Issued]) -> dict[str, Any]:
    """Write the development tokens file, readable by its owner only."""
    doc = dev_tokens_document(issued)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def _service_urls() -> list[str]:
    ports = {"INTAKE": 8001, "DISPATCH": 8002, "TIMELINE": 8003}
    return [
        os.environ.get(f"{name}_URL", f"http://127.0.0.1:{os.environ.get(f'{name}_PORT', port)}")
        for name, port in ports.items()
    ]


@app.command()
def issue(
    role: Annotated[Role, typer.Option(help="The token's role.")],
    repair_center: Annotated[
        str | None, typer.Option(help="A dispatcher's repair center (required for that role).")
    ] = None,
    vehicle: Annotated[
        str | None, typer.Option(help="A device's vehicle (required for that role).")
    ] = None,
    ttl_days: Annotated[float, typer.Option(min=0.0001, help="Days until it expires.")] = float(
        DEFAULT_TTL_DAYS
    ),
    issued_by: Annotated[
        str | None, typer.Option(help="Who issues it (default user@host).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    bootstrap: Bootstrap = "127.0.0.1:19092",
    prefix: Prefix = "",
) -> None:
    """Issue a token and print it (the only line on stdout) once Kafka has the event."""
    try:
        grant = Grant(role, repair_center, vehicle)
        TokenIssuedPayload.model_validate(  # the scope must fit the role, before anything is sent
            {
                "token_id": "x" * 12,
                "token_hash": "0" * 64,
                "role": role,
                "repair_center_id": repair_center,
                "vehicle_id": vehicle,
                "expires_at": utc_now(),
                "issued_by": "check",
            }
        )
    except ValueError as err:
        typer.echo(f"cannot issue: {err}", err=True)
        raise typer.Exit(2) from None
    [issued] = asyncio.run(
        issue_tokens(
            bootstrap, prefix, [grant], ttl=timedelta(days=ttl_days), issued_by=issued_by, note=note
        )
    )
    typer.echo(f"issued {issued.token_id} ({role.value})", err=True)
    typer.echo(issued.token)


@app.command("list")
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    bootstrap: Bootstrap = "127.0.0.1:19092",
    prefix: Prefix = "",
) -> None:
    """Every token issued: id, role, scope, expiry, revoked (never the token: it is not kept)."""
    now = utc_now()
    for t in asyncio.run(read_tokens(bootstrap, prefix)):
        if as_json:
            typer.echo(json.dumps(t))
            continue
        scope = t["repair_center_id"] or t["vehicle_id"] or "-"
        expired = datetime.fromisoformat(t["expires_at"]) <= now
        state = "revoked" if t["revoked"] else "expired" if expired else "valid"
        typer.echo(f"{t['token_id']}  {t['role']:<12}  {scope:<20}  {t['expires_at']}  {state}")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (rd_<id>_...).")],
    reason: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    revoked_by: Annotated[str | None, typer.Option(help="Who (default user@host).")] = None,
    bootstrap: Bootstrap = "127.0.0.1:19092",
    prefix: Prefix = "",
) -> None:
    """Revoke a token: every service refuses it within seconds of consuming the event."""
    asyncio.run(revoke_token(bootstrap, prefix, token_id, revoked_by or default_issuer(), reason))
    typer.echo(f"revoked {token_id}", err=True)


@app.command()
def dev(
    seed: Annotated[Path, typer.Option(help="The seed whose centers and vehicles get tokens.")] = (
        DEFAULT_SEED
    ),
    out: Annotated[Path, typer.Option(help="Where to write the tokens.")] = DEV_TOKENS,
    wait: Annotated[bool, typer.Option(help="Wait until every service accepts them.")] = True,
    bootstrap: Bootstrap = "127.0.0.1:19092",
    prefix: Prefix = "",
) -> None:
    """Issue the development tokens and write them to ``out`` (``make up`` does)."""
    grants = dev_grants(json.loads(seed.read_text()))
    issued = asyncio.run(
        issue_tokens(bootstrap, prefix, grants, issued_by="make-up", note="development token")
    )
    write_dev_tokens(out, issued)
    if wait:
        for one in issued:
            wait_accepted(_service_urls(), one.token)
    typer.echo(f"[tokens] {len(issued)} development tokens in {out}", err=True)


if __name__ == "__main__":
    app()
