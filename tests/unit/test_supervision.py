"""Which errors are waited out, and what a supervised task does with each kind."""

import asyncio
import json

import asyncpg
import pytest
from aiokafka.errors import CommitFailedError, KafkaConnectionError
from starlette.types import Message, Receive, Scope, Send

from services.common.failures import is_transient
from services.common.shedding import LoadShedding
from services.common.supervision import TaskHealth, TaskState, backoff_s, supervise


@pytest.mark.parametrize(
    "err",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
        CommitFailedError("rebalanced"),
        KafkaConnectionError("Unable to bootstrap"),
    ],
    ids=type,
)
def test_outages_and_contention_are_transient(err: BaseException) -> None:
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        ValueError("bad"),
        KeyError("missing"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.UndefinedTableError("relation does not exist"),
        asyncpg.DataError("invalid input syntax"),
    ],
    ids=type,
)
def test_bugs_and_bad_data_are_not(err: BaseException) -> None:
    assert not is_transient(err)


def test_backoff_doubles_up_to_a_ceiling() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 10, 100)] == [0.2, 0.4, 0.8, 5.0, 5.0]


async def test_a_task_is_started_again_after_each_outage_and_its_health_says_so() -> None:
    attempts = 0
    seen: list[tuple[TaskState, str | None]] = []
    done = asyncio.Event()

    async def body(health: TaskHealth) -> None:
        nonlocal attempts
        attempts += 1
        seen.append((health.state, health.last_error))
        if attempts < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        health.ok()
        done.set()
        await asyncio.Event().wait()  # runs until cancelled

    health = TaskHealth("relay")
    fatal: list[str] = []
    task = asyncio.create_task(supervise(health, body, fatal.append))
    await asyncio.wait_for(done.wait(), timeout=5)
    assert health.state is TaskState.OK
    assert health.failures == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempts == 3
    assert fatal == []
    assert seen[1][0] is TaskState.RETRYING
    assert seen[1][1] == "ConnectionRefusedError: [Errno 111] Connection refused"


async def test_a_bug_stops_the_process_instead_of_ending_the_task_quietly() -> None:
    async def body(health: TaskHealth) -> None:
        raise KeyError("a bug")

    health = TaskHealth("consumer")
    fatal: list[str] = []
    await asyncio.wait_for(supervise(health, body, fatal.append), timeout=5)
    assert fatal == ["consumer"]
    assert health.state is TaskState.FAILED
    assert health.last_error == "KeyError: 'a bug'"


async def test_a_body_that_returns_is_a_bug_too() -> None:
    async def body(health: TaskHealth) -> None:
        return None

    fatal: list[str] = []
    await asyncio.wait_for(supervise(TaskHealth("relay"), body, fatal.append), timeout=5)
    assert fatal == ["relay"]


async def test_requests_past_the_limit_are_shed_with_503_and_retry_after() -> None:
    release = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    shedding = LoadShedding(slow_app, max_in_flight=2)

    async def call(path: str) -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        await shedding({"type": "http", "path": path}, receive, send)
        return sent

    admitted = [asyncio.create_task(call("/v1/x")) for _ in range(2)]
    await asyncio.sleep(0)
    assert shedding.in_flight == 2
    shed = await call("/v1/x")
    assert shed[0]["status"] == 503
    assert (b"retry-after", b"1") in shed[0]["headers"]
    assert "overloaded" in json.loads(shed[1]["body"])["detail"]
    health = asyncio.create_task(call("/readyz"))  # probes are never shed
    await asyncio.sleep(0)
    release.set()
    assert [m[0]["status"] for m in await asyncio.gather(*admitted, health)] == [200, 200, 200]
    assert shedding.in_flight == 0


async def test_a_stream_holds_no_place_once_its_answer_has_started() -> None:
    streaming, finish = asyncio.Event(), asyncio.Event()

    async def stream_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        streaming.set()
        await finish.wait()  # a console's event stream, open for a shift
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    shedding = LoadShedding(stream_app, max_in_flight=1)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    streams = [
        asyncio.create_task(shedding({"type": "http", "path": "/s"}, receive, send))
        for _ in range(3)
    ]
    await asyncio.wait_for(streaming.wait(), 5)
    await asyncio.sleep(0)
    assert shedding.in_flight == 0
    finish.set()
    await asyncio.gather(*streams)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200, 200, 200]
    assert shedding.in_flight == 0
