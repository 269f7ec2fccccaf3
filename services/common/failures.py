"""Which errors are the infrastructure's (wait and try again) and which are the work's own.

A PostgreSQL or Kafka outage, a restart, a full connection table, a serialization conflict or a
rebalance says nothing about the message or request being handled: it is retried (a consumer,
the relay) or answered 503 with ``Retry-After`` (HTTP). Anything else is the work's own fault: a
consumer dead-letters the message, a request gets its 4xx, a background task that meets a bug
takes the process down so that its supervisor restarts it.
"""

import asyncio

import asyncpg
from aiokafka.errors import KafkaError

# SQLSTATE classes that mean "the server, not the statement": connection exception (08),
# transaction rollback (40: serialization failure, deadlock), insufficient resources (53),
# operator intervention (57: admin shutdown, cannot connect now, query cancelled), system error (58).
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class Contention(Exception):
    """Another writer got there first: deciding again, against what it wrote, will do."""


def is_transient(err: BaseException) -> bool:
    """True when ``err`` comes from an outage or contention that waiting can cure."""
    if isinstance(err, Contention):
        return True
    if isinstance(
        err,
        OSError
        | asyncio.TimeoutError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | KafkaError,
    ):
        # InterfaceError: the client lost its connection ("connection is closed");
        # InternalClientError: asyncpg's protocol state broken by a server shutting down mid-call
        # ("cannot switch to state 15"); KafkaError: every broker-side failure, including a
        # failed commit after a rebalance.
        return True
    if isinstance(err, asyncpg.PostgresError):
        sqlstate = getattr(err, "sqlstate", None) or ""
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


def describe(err: BaseException) -> str:
    """One line for logs and health answers: the class and the message."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
