"""Two instances of a service on one database: the multi-instance claims of ``docs/scaling.md``.

1. The same keyed post (a call by ``call_id``, a unit's report by ``report_id``) sent to two
   intake or two dispatch instances at once records one event; both get the same answer, one
   of them marked ``Idempotent-Replay: true``.
2. Two relays on one database publish every outbox row, each stream's events in version order
   under its key, and nothing twice except the batch the lock holder had in flight when it
   was killed -9 (republished by the other: at least once, as ``docs/architecture.md`` says);
   that exactly-once does not hold across such a kill is kept as a strict xfail.
3. Dispatch's consumer group with two members applies each intake event once: every event
   consumed, the order board and the ladder's rungs what the events imply.
4. Rule 6 across two dispatch instances: a trade's vehicles asking at once, half of them at
   each instance, never all go unavailable.
5. Two timelines in one group, both ticking: ``tools.replay_check`` finds the live projection
   equal to a rebuild from offset 0.

Events are counted in the databases and in Kafka, read by a consumer of the test's own, not
taken from what a service says of itself.
"""

import asyncio
import dataclasses
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from pydantic import TypeAdapter

from contracts import WorkOrderEvent, parse_event
from contracts.topics import WORK_ORDERS
from domain.board import BoardEntry, board_entry
from domain.escalations import LadderPolicy, timers_started_by
from domain.orders import OrderState
from services.common.outbox_relay import RELAY_LOCK_KEY
from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import Crew, Desk, wait_for
from tests.support.groups import describe_group
from tests.support.infra import ROOT
from tests.support.kafka_log import Logged, partitions_of, read_log
from tests.support.keys import HARNESS_AUTH
from tests.support.load import Load, now_iso
from tests.support.lock_holder import advisory_lock_holder
from tests.support.oracle import wait_caught_up
from tests.support.system import SERVICES, ServiceProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

Json = dict[str, Any]
PAIRS = 40
"""Keyed posts sent to both instances at once, per service."""
IN_FLIGHT = 8
"""Pairs under way at once."""
TRADE_VEHICLES = 4
ROUNDS = 6
RATE = 1.5
"""New orders per second, per load."""
LOAD_S = 6.0
BOARD_ENTRY: TypeAdapter[BoardEntry] = TypeAdapter(BoardEntry)


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of one statement (ours, never input) on a connection of its own."""
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode(), args).fetchall()


def desk_at(faults: Faults, **urls: str) -> Desk:
    """A desk whose requests go to other instances (``dispatch=second.url``)."""
    system = dataclasses.replace(faults.system, urls={**faults.system.urls, **urls})
    return Desk(system, faults.http)


@pytest.fixture(scope="module")
def dispatch_2(faults: Faults) -> Iterator[ServiceProcess]:
    """A second dispatch on dispatch's database, in its consumer group, beside it all module."""
    process = faults.stack.add("dispatch-2", "dispatch", faults.system.database_urls["dispatch"])
    process.wait_ready()
    yield process
    faults.stack.remove("dispatch-2")


def all_up(faults: Faults, *extra: ServiceProcess) -> None:
    """Before each scenario: every instance is up (an earlier scenario may have killed one)."""
    for process in [*(faults.process(name) for name in SERVICES), *extra]:
        if not process.alive():
            process.start()
        process.wait_ready()


# -- 1. the same keyed post to two instances at once --------------------------------------------


@dataclass
class Copy:
    """One of a pair: the same request to one instance, sent again only after 429/503."""

    url: str
    sent_at: float = 0.0
    first_answer_at: float = 0.0
    status: int = 0
    replay: str | None = None
    body: Json = field(default_factory=dict)
    tries: int = 0


async def post_until_answered(client: httpx.AsyncClient, url: str, body: Json) -> Copy:
    """Post ``body`` until an answer other than 429/503 comes (or 30 s have passed)."""
    copy = Copy(url)
    deadline = time.monotonic() + 30
    while True:
        copy.tries += 1
        started = time.monotonic()
        response = await client.post(url, json=body)
        if copy.tries == 1:
            copy.sent_at, copy.first_answer_at = started, time.monotonic()
        if response.status_code in (429, 503) and time.monotonic() < deadline:
            await asyncio.sleep(min(1.0, float(response.headers.get("Retry-After", "0.2"))))
            continue  # shed: the same body again, as a unit would
        copy.status = response.status_code
        copy.replay = response.headers.get("Idempotent-Replay")
        copy.body = response.json()
        return copy


@dataclass(frozen=True)
class Pair:
    key: str
    copies: tuple[Copy, Copy]

    @property
    def together(self) -> bool:
        """Both were sent before either was answered."""
        a, b = self.copies
        return max(a.sent_at, b.sent_at) < min(a.first_answer_at, b.first_answer_at)

    def fault(self) -> str | None:
        """What is wrong with the pair's answers, or None."""
        a, b = self.copies
        if (a.status, b.status) != (201, 201):
            return f"{self.key}: answered {a.status} {a.body} and {b.status} {b.body}"
        if sorted([a.replay, b.replay], key=str) != ["false", "true"]:
            return f"{self.key}: Idempotent-Replay {a.replay} and {b.replay}"
        if a.body != b.body:
            return f"{self.key}: different answers {a.body} and {b.body}"
        return None


async def send_pair(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    bases: tuple[str, str],
    key: str,
    path: str,
    body: Json,
) -> Pair:
    """The same ``body`` posted to both instances at once, each over its own client."""
    a, b = await asyncio.gather(
        *(
            post_until_answered(c, f"{base}{path}", body)
            for c, base in zip(clients, bases, strict=True)
        )
    )
    return Pair(key, (a, b))


def call_body(call_id: str) -> Json:
    """The phone system's post of a call that ended now."""
    return {
        "call_id": call_id,
        "ended_at": now_iso(),
        "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
        "address": "12 Dongsi North St, Dongcheng",
        "location": {"lat": 39.93, "lon": 116.42},
        "fault": {"category": "outage", "description": "whole building dark", "voltage_kv": 0.4},
        "agent_id": "agent-7",
    }


async def call_pairs(bases: tuple[str, str]) -> list[Pair]:
    """``PAIRS`` calls, each to both intake instances at once (which goes first alternates)."""
    limit = asyncio.Semaphore(IN_FLIGHT)
    async with (
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as first,
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as second,
    ):

        async def one(n: int) -> Pair:
            call_id = f"call-pair-{uuid4().hex}"
            order = (first, second) if n % 2 else (second, first)
            urls = bases if n % 2 else (bases[1], bases[0])
            async with limit:
                return await send_pair(order, urls, call_id, "/v1/calls", call_body(call_id))

        return list(await asyncio.gather(*(one(n) for n in range(PAIRS))))


async def report_pairs(bases: tuple[str, str], walks: dict[str, Crew]) -> list[Pair]:
    """Positions from the crews' vehicles, and each order's E..cleared, every report as a pair."""
    limit = asyncio.Semaphore(IN_FLIGHT)
    crews = list(walks.values())
    async with (
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as first,
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as second,
    ):

        async def report(n: int, vehicle_id: str, kind: str, wo: str | None) -> Pair:
            report_id = f"pair-{kind}-{uuid4().hex}"
            body: Json = {"report_id": report_id, "type": kind, "occurred_at": now_iso()}
            if wo is not None:
                body["work_order_id"] = wo
            if kind == "position":
                body["position"] = {"lat": 39.9, "lon": 116.4}
            order = (first, second) if n % 2 else (second, first)
            urls = bases if n % 2 else (bases[1], bases[0])
            async with limit:
                return await send_pair(
                    order, urls, report_id, f"/v1/vehicles/{vehicle_id}/reports", body
                )

        async def walk(n: int, wo: str, crew: Crew) -> list[Pair]:
            kinds = ("order_received", "order_accepted", "departed", "arrived", "fault_cleared")
            return [await report(n + i, crew.vehicle_id, k, wo) for i, k in enumerate(kinds)]

        async def positions() -> list[Pair]:
            vehicles = [crews[n % len(crews)].vehicle_id for n in range(PAIRS)]
            return list(
                await asyncio.gather(
                    *(report(n, v, "position", None) for n, v in enumerate(vehicles))
                )
            )

        async def walked() -> list[Pair]:
            walked = await asyncio.gather(
                *(walk(n, wo, crew) for n, (wo, crew) in enumerate(walks.items()))
            )
            return [p for pairs in walked for p in pairs]

        moving, steps = await asyncio.gather(positions(), walked())
    return moving + steps


def stored_once(url: str, field_name: str, pairs: list[Pair]) -> list[str]:
    """Problems: a key with other than one event holding it, or not the event answered."""
    keys = [p.key for p in pairs]
    rows = query(
        url,
        f"SELECT body -> 'payload' ->> '{field_name}', event_id FROM events"
        f" WHERE body -> 'payload' ->> '{field_name}' = ANY(%s)",
        keys,
    )
    found: dict[str, list[str]] = defaultdict(list)
    for key, event_id in rows:
        found[key].append(str(event_id))
    problems = []
    for p in pairs:
        answered = p.copies[0].body.get("event_id")
        if found[p.key] != [answered]:
            problems.append(f"{p.key}: events {found[p.key]}, answered {answered}")
    return problems


def test_1_the_same_keyed_post_to_two_instances_at_once_is_one_event(
    faults: Faults, dispatch_2: ServiceProcess
) -> None:
    all_up(faults, dispatch_2)
    intake_2 = faults.stack.add("intake-2", "intake", faults.system.database_urls["intake"])
    try:
        intake_2.wait_ready()
        urls = faults.system.urls
        calls = asyncio.run(call_pairs((urls["intake"], intake_2.url)))
        # Orders to report on: one per crew, dispatched, half of the steps at each instance.
        walks: dict[str, Crew] = {}
        for n, crew in enumerate(faults.crews):
            desk = faults.desk if n % 2 else desk_at(faults, dispatch=dispatch_2.url)
            wo = desk.call(datetime.now(UTC))
            desk.issue(wo, datetime.now(UTC), crew)
            desk.wait_at_dispatch(wo)
            desk.receipt(wo, datetime.now(UTC), crew)
            desk.dispatch(wo, datetime.now(UTC), crew)
            walks[wo] = crew
        reports = asyncio.run(report_pairs((urls["dispatch"], dispatch_2.url), walks))
    finally:
        faults.stack.remove("intake-2")
    pairs = calls + reports
    faults_seen = [f for p in pairs if (f := p.fault()) is not None]
    together = sum(p.together for p in pairs)
    print(
        f"\n[keyed pairs] {len(calls)} call pairs, {len(reports)} report pairs; "
        f"{together} of {len(pairs)} in flight together; "
        f"tries {Counter(c.tries for p in pairs for c in p.copies)}"
    )
    assert not faults_seen, "\n".join(faults_seen[:10])
    assert together >= len(pairs) // 2, f"only {together} of {len(pairs)} pairs overlapped"
    problems = stored_once(faults.system.database_urls["intake"], "call_id", calls)
    problems += stored_once(faults.system.database_urls["dispatch"], "report_id", reports)
    assert not problems, "\n".join(problems[:10])
    # Each call opened one order, the one both copies named.
    orders = {p.key: p.copies[0].body["work_order_id"] for p in calls}
    assert len(set(orders.values())) == len(calls)


# -- 4. rule 6 across two instances -------------------------------------------------------------


def availability_body(status: str, at: str) -> Json:
    """A dispatcher's rule-6 post: the vehicle is away for a meal, or back on standby."""
    body: Json = {"status": status, "occurred_at": at, "requested_by": "dispatcher-1"}
    if status == "unavailable":
        body["reason"] = "meal"
    return body


async def availability_race(
    bases: tuple[str, str], vehicles: list[str], status: str, parity: int
) -> dict[str, tuple[int, str]]:
    """Every vehicle's post at once, alternately to each instance; vehicle → (status, body)."""
    at = now_iso()
    async with (
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as first,
        httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as second,
    ):
        clients = (first, second)
        copies = await asyncio.gather(
            *(
                post_until_answered(
                    clients[(i + parity) % 2],
                    f"{bases[(i + parity) % 2]}/v1/vehicles/{v}/availability",
                    availability_body(status, at),
                )
                for i, v in enumerate(vehicles)
            )
        )
    return {v: (c.status, str(c.body)) for v, c in zip(vehicles, copies, strict=True)}


def test_4_rule_6_holds_across_two_dispatch_instances_under_concurrent_requests(
    faults: Faults, dispatch_2: ServiceProcess
) -> None:
    all_up(faults, dispatch_2)
    desk = faults.desk
    crew = desk.crew(co_located=False)
    vehicles = [crew.vehicle_id] + [f"{crew.vehicle_id}-{n}" for n in range(1, TRADE_VEHICLES)]
    for vehicle_id in vehicles[1:]:
        desk.ok(desk.put("dispatch", f"/v1/vehicles/{vehicle_id}", {"crew_id": crew.crew_id}))
    bases = (faults.system.urls["dispatch"], dispatch_2.url)
    for n in range(ROUNDS):
        leaving = asyncio.run(availability_race(bases, vehicles, "unavailable", n))
        statuses = sorted(status for status, _ in leaving.values())
        assert statuses == [201] * (TRADE_VEHICLES - 1) + [409], f"round {n}: {leaving}"
        states = {v: desk.ok(desk.get("dispatch", f"/v1/vehicles/{v}"))["state"] for v in vehicles}
        assert Counter(states.values()) == {"unavailable": TRADE_VEHICLES - 1, "standby": 1}, (
            f"round {n}: {states}"
        )
        gone = [v for v, (status, _) in leaving.items() if status == 201]
        back = asyncio.run(availability_race(bases, gone, "standby", n + 1))
        assert all(status == 201 for status, _ in back.values()), f"round {n}: {back}"
    # The whole history, in the order it was decided (under the group's lock, so by our clock):
    # at no instant were all of the trade's vehicles unavailable.
    rows = query(
        faults.system.database_urls["dispatch"],
        """
        SELECT body ->> 'vehicle_id', body -> 'payload' ->> 'status'
        FROM events WHERE event_type = 'VehicleAvailabilityChanged'
          AND body ->> 'vehicle_id' = ANY(%s)
        ORDER BY recorded_at
        """,
        vehicles,
    )
    assert Counter(status for _, status in rows) == {
        "unavailable": ROUNDS * (TRADE_VEHICLES - 1),
        "standby": ROUNDS * (TRADE_VEHICLES - 1),
    }
    away: set[str] = set()
    most = 0
    for vehicle_id, status in rows:
        if status == "unavailable":
            away.add(vehicle_id)
        else:
            away.discard(vehicle_id)
        most = max(most, len(away))
    assert most == TRADE_VEHICLES - 1, f"{most} of {TRADE_VEHICLES} vehicles away at once"


# -- 5. two timelines ticking -----------------------------------------------------------------


SERVER_FULL = "too many clients already"


def replay_check(faults: Faults, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``tools.replay_check`` against the live timeline database. The PostgreSQL server is
    shared with other test runs: a check refused a connection because the server was full
    (nothing compared) is run again, until ``timeout_s``."""
    system = faults.system
    deadline = time.monotonic() + timeout_s
    while True:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.replay_check",
                "--database-url",
                system.database_urls["timeline"],
                "--bootstrap-servers",
                system.kafka_bootstrap,
                "--topic-prefix",
                system.topic_prefix,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if SERVER_FULL not in result.stderr or time.monotonic() > deadline:
            return result
        print(f"\n[two tickers] replay check refused: PostgreSQL {SERVER_FULL}; again")
        time.sleep(1.0)


def test_5_two_timelines_ticking_leave_the_projection_equal_to_a_rebuild(faults: Faults) -> None:
    group_id = f"{faults.system.topic_prefix}timeline"
    bootstrap = faults.system.kafka_bootstrap
    started_at = datetime.now(UTC)
    faults.add_timeline("timeline-2")
    try:
        wait_for(
            "two timelines sharing the partitions",
            lambda: describe_group(bootstrap, group_id).shared_by(2),
            60,
        )
        with faults.load(name="two-tickers") as load:
            load.start_orders(RATE * 2)
            time.sleep(LOAD_S)  # the load runs meanwhile; nothing waits on this
            ledger = load.stop()
        caught_up = wait_caught_up(
            faults.system.urls["timeline"], ledger, until=time.monotonic(), timeout_s=60
        )
        assert caught_up is not None, "the timeline did not catch up within 60 s"
        assert describe_group(bootstrap, group_id).shared_by(2), "a timeline left the group"
        topic = faults.system.topic(WORK_ORDERS.name)
        ticks = [
            r
            for r in read_log(bootstrap, {topic: WORK_ORDERS.partitions})
            if r.body.get("event_type") == "ClockTicked"
            and datetime.fromisoformat(r.body["occurred_at"]) >= started_at
        ]
        tickers = Counter(r.body["correlation_id"] for r in ticks)
        result = replay_check(faults)
    finally:
        faults.stack.remove("timeline-2")
    done = [o for o in ledger.orders if o.done_at is not None]
    lines = result.stdout.strip().splitlines()
    print(f"\n[two tickers] {len(done)} orders walked; ticks by instance {dict(tickers)}")
    print(f"[two tickers] replay check: {lines[-1] if lines else result.stderr[-2000:]}")
    assert len(tickers) >= 2, f"ticks came from {len(tickers)} instance(s), not two"
    assert done, "no order was walked to the end"
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
    compared = int(lines[-1].split()[1])
    assert lines[-1] == f"compared {compared} orders, 0 differences"
    assert compared >= len(done)


# -- 3. dispatch's consumer group with two members ------------------------------------------------


def order_events(url: str, wos: list[UUID]) -> dict[UUID, list[Any]]:
    """Every work-order event dispatch holds of the orders: written and consumed."""
    rows = query(
        url,
        """
        SELECT work_order_id, body::text FROM events WHERE work_order_id = ANY(%s)
        UNION ALL
        SELECT work_order_id, body::text FROM received_events WHERE work_order_id = ANY(%s)
        """,
        wos,
        wos,
    )
    found: dict[UUID, list[Any]] = defaultdict(list)
    for wo, body in rows:
        event = parse_event(body)
        if isinstance(event, WorkOrderEvent):
            found[wo].append(event)
    return found


def test_3_two_dispatch_members_apply_each_intake_event_once(
    faults: Faults, dispatch_2: ServiceProcess
) -> None:
    all_up(faults, dispatch_2)
    system = faults.system
    group_id = f"{system.topic_prefix}dispatch"
    wait_for(
        "two dispatch members sharing the partitions",
        lambda: describe_group(system.kafka_bootstrap, group_id).shared_by(2),
        60,
    )
    # Half of the orders are walked at each instance; both consume intake's events.
    other = dataclasses.replace(system, urls={**system.urls, "dispatch": dispatch_2.url})
    with (
        faults.load(name="two-members-1") as first,
        Load(other, faults.crews, name="two-members-2") as second,
    ):
        first.start_orders(RATE)
        second.start_orders(RATE)
        time.sleep(LOAD_S)  # the loads run meanwhile; nothing waits on this
        for load in (first, second):
            load.stop_generator("orders")  # both stop now; then each drains what is under way
        ledgers = [first.stop(), second.stop()]
    assert describe_group(system.kafka_bootstrap, group_id).shared_by(2), "a member left"
    wos = sorted(
        {UUID(o.work_order_id) for ledger in ledgers for o in ledger.orders if o.work_order_id}
    )
    assert wos, "no order was opened"
    topic = system.topic(WORK_ORDERS.name)
    sent = [
        r[0]
        for r in query(
            system.database_urls["intake"], "SELECT event_id FROM outbox WHERE topic = %s", topic
        )
    ]

    def consumed() -> int | None:
        rows = query(
            system.database_urls["dispatch"],
            "SELECT count(*) FROM received_events WHERE event_id = ANY(%s)",
            sent,
        )
        return rows[0][0] if rows[0][0] == len(sent) else None

    wait_for(f"dispatch to consume all {len(sent)} of intake's events", consumed, 60)
    events = order_events(system.database_urls["dispatch"], wos)
    board = dict(
        query(
            system.database_urls["dispatch"],
            "SELECT work_order_id, entry FROM order_board WHERE work_order_id = ANY(%s)",
            wos,
        )
    )
    timers: dict[UUID, set[tuple[Any, ...]]] = defaultdict(set)
    for wo, *timer in query(
        system.database_urls["dispatch"],
        """
        SELECT work_order_id, escalation_id, rule, level, due_at, waiting_since_event_id
        FROM escalation_timers WHERE work_order_id = ANY(%s)
        """,
        wos,
    ):
        timers[wo].add(tuple(timer))
    raised = query(
        system.database_urls["dispatch"],
        "SELECT work_order_id FROM escalations WHERE work_order_id = ANY(%s)",
        wos,
    )
    problems = []
    ladder = LadderPolicy()  # the faults stack runs dispatch's defaults
    for wo in wos:
        state = OrderState.fold(wo, events[wo])
        want = BOARD_ENTRY.dump_python(board_entry(state), mode="json")
        if board.get(wo) != want:
            problems.append(f"{wo}: board {board.get(wo)}, the events imply {want}")
        implied = {
            (t.escalation_id, t.rule.value, t.level, t.due_at, t.waiting_since_event_id)
            for e in events[wo]
            for t in timers_started_by(e, ladder)
        }
        if timers[wo] != implied:
            problems.append(f"{wo}: rungs {sorted(timers[wo])}, the events imply {sorted(implied)}")
    print(
        f"\n[two members] {len(wos)} orders, {len(sent)} intake events consumed, "
        f"{sum(len(t) for t in timers.values())} rungs"
    )
    assert not problems, "\n".join(problems[:10])
    assert raised == [], "a rung fell due although every order moved on within seconds"


# -- 2. two relays on one database --------------------------------------------------------------

HOLD = """
CREATE TABLE fault_hold (held BOOLEAN PRIMARY KEY);
CREATE FUNCTION fault_hold_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WHILE EXISTS (SELECT 1 FROM fault_hold) LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_hold BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION fault_hold_outbox();
"""
"""Holds the relay that has the lock after it published its batch and before it stamps it."""
RELEASE = (
    # One statement at a time: the held relay must see the DELETE before the DROP waits for it.
    "SET statement_timeout = '30s'",
    "DELETE FROM fault_hold",
    "DROP TRIGGER IF EXISTS fault_hold ON outbox",
    "DROP FUNCTION IF EXISTS fault_hold_outbox()",
    "DROP TABLE IF EXISTS fault_hold",
)


@dataclass(frozen=True)
class Row:
    outbox_id: int
    event_id: str
    topic: str
    key: str
    stream_id: str
    version: int
    partition: int | None
    offset: int | None


@dataclass(frozen=True)
class RelayRun:
    rows: list[Row]
    log: list[Logged]
    in_flight: set[str]
    """Event ids unpublished when the lock holder was killed, already in Kafka."""
    killed: str
    survivor: str
    held: int
    """Relays seen mid-batch at once while the lock holder was held (the other one kept trying)."""


def outbox_rows(url: str) -> list[Row]:
    """Every outbox row of the database with its event's stream and version, by outbox id."""
    return [
        Row(*r)
        for r in query(
            url,
            """
            SELECT o.id, o.event_id::text, o.topic, o.key, e.stream_id, e.version,
                   o.kafka_partition, o.kafka_offset
            FROM outbox o JOIN events e USING (event_id) ORDER BY o.id
            """,
        )
    ]


def held_in_batches(url: str) -> int:
    """Relays in the trigger's loop: each has its batch in Kafka, unstamped, and holds the lock
    (if two ever were, the lock would not be doing its work)."""
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
        " AND datname = current_database()"
        " AND query LIKE '%%UPDATE outbox%%SET published_at%%' AND wait_event = 'PgSleep'",
    )
    return int(rows[0][0])


@pytest.fixture(scope="module")
def relay_run(faults: Faults, dispatch_2: ServiceProcess) -> RelayRun:
    """A load on both dispatch instances; mid-stream the lock holder is held after publishing a
    batch, killed -9, released; the survivor goes on, the killed one comes back. Then every
    outbox row of dispatch's database (the module's whole run) and the topics as Kafka has them."""
    all_up(faults, dispatch_2)
    system = faults.system
    url = system.database_urls["dispatch"]
    relays = [faults.process("dispatch"), dispatch_2]
    other = dataclasses.replace(system, urls={**system.urls, "dispatch": dispatch_2.url})
    with (
        faults.load(name="relays-1") as first,
        Load(other, faults.crews, name="relays-2") as second,
    ):
        first.start_orders(RATE)
        second.start_orders(RATE)
        time.sleep(LOAD_S / 2)  # the loads run meanwhile; nothing waits on this
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(HOLD.encode())
            conn.execute(b"INSERT INTO fault_hold VALUES (true)")
        try:
            wait_for("the lock holder held mid-batch", lambda: held_in_batches(url), 30)
            # The other relay is woken by every append meanwhile, and must not get in.
            unstamped = [r for r in outbox_rows(url) if r.partition is None]
            topics = {
                t: partitions_of(t, system.topic_prefix) for t in {r.topic for r in unstamped}
            }
            in_kafka = {r.event_id for r in read_log(system.kafka_bootstrap, topics)}
            in_flight = {r.event_id for r in unstamped} & in_kafka
            held = held_in_batches(url)
            holder = advisory_lock_holder(url, RELAY_LOCK_KEY, relays)
            assert holder is not None, "no dispatch of ours holds the relay's lock"
            holder.kill9()
            survivor = next(p for p in relays if p is not holder)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                for statement in RELEASE:
                    conn.execute(statement.encode())
        time.sleep(LOAD_S / 2)  # the survivor alone publishes the load meanwhile
        # The ledgers are not judged here (the outbox and Kafka are): no need to drain.
        first.stop(drain_s=0)
        second.stop(drain_s=0)
    holder.start().wait_ready()  # as its supervisor would: it rejoins as the one waiting

    def all_published() -> list[Row] | None:
        rows = outbox_rows(url)
        return rows if all(r.partition is not None for r in rows) else None

    rows = wait_for("every outbox row published", all_published, 60)
    topics = {t: partitions_of(t, system.topic_prefix) for t in {r.topic for r in rows}}
    log = read_log(system.kafka_bootstrap, topics)
    return RelayRun(rows, log, in_flight, holder.name, survivor.name, held)


def test_2_two_relays_publish_every_row_in_version_order_across_a_kill9(
    relay_run: RelayRun,
) -> None:
    rows, log = relay_run.rows, relay_run.log
    ours = {r.event_id: r for r in rows}
    copies = Counter(r.event_id for r in log if r.event_id in ours)
    assert relay_run.held == 1, f"{relay_run.held} relays were in a batch at once"
    assert relay_run.in_flight, "the killed relay had published nothing of its batch"
    missing = [e for e in ours if copies[e] == 0]
    assert not missing, f"{len(missing)} outbox rows never reached Kafka, e.g. {missing[:3]}"
    # Once, except the batch in flight at the kill: republished by the survivor, once more.
    twice = {e for e, n in copies.items() if n > 1}
    assert twice == relay_run.in_flight, (
        f"published more than once: {len(twice)} rows; in flight at the kill: "
        f"{len(relay_run.in_flight)}; outside it: {sorted(twice - relay_run.in_flight)[:5]}"
    )
    assert all(copies[e] == 2 for e in twice), {e: copies[e] for e in twice if copies[e] != 2}
    # Each row's stamp names the record that holds it, with its key.
    at: dict[tuple[str, int | None, int | None], Logged] = {
        (r.topic, r.partition, r.offset): r for r in log
    }
    wrong = [
        r
        for r in rows
        if (found := at.get((r.topic, r.partition, r.offset))) is None
        or found.event_id != r.event_id
        or found.key != r.key
    ]
    assert not wrong, f"{len(wrong)} stamps name another record, e.g. {wrong[:3]}"
    # Per key (so per partition, in offset order), each stream's events first appear in version
    # order: what a consumer that drops a repeated event id applies.
    seen: dict[tuple[str, str | None, str], list[int]] = defaultdict(list)
    first_seen: set[str] = set()
    for record in log:
        row = ours.get(record.event_id or "")
        if row is None or row.event_id in first_seen:
            continue
        first_seen.add(row.event_id)
        seen[(record.topic, record.key, row.stream_id)].append(row.version)
    disordered = {k: v for k, v in seen.items() if v != sorted(v)}
    assert not disordered, f"streams out of version order under their key: {disordered}"
    print(
        f"\n[relays] {len(rows)} rows, {len(log)} records; killed {relay_run.killed} holding the "
        f"lock with {len(relay_run.in_flight)} published unstamped; {relay_run.survivor} took over"
    )


@pytest.mark.xfail(
    strict=True,
    reason="at least once by design (docs/architecture.md): the batch a relay had published "
    "but not stamped when killed -9 is published again by the relay that takes the lock",
)
def test_2_two_relays_publish_each_row_exactly_once_across_a_kill9(relay_run: RelayRun) -> None:
    ours = {r.event_id for r in relay_run.rows}
    copies = Counter(r.event_id for r in relay_run.log if r.event_id in ours)
    twice = {e: n for e, n in copies.items() if n != 1}
    assert not twice, f"{len(twice)} rows published more than once"
