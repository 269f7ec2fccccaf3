"""The same ending for every fault scenario: the ledger of acknowledged requests against the
timeline, and the timeline against a clean rebuild.

1. Every acknowledged request appears in the timeline's history exactly once: one event with the
   event id it was answered with and, for a unit's report, exactly one event carrying its report
   id; an order has at most one A, B, C and D. An event nobody acknowledged is allowed only where
   a request was sent and its answer never came (lost in a kill): duplicate Kafka records are
   fine, duplicate effects are not.
2. A timeline built again from the topics (a fresh database, a consumer group of its own, from
   offset 0) holds the same events, and judges every order exactly as the live one, as of one
   fixed instant after everything.

Position reports do not reach the timeline; those are held against dispatch's own event store.
The summary is printed and appended as one JSON line to ``<local state>/faults-report.jsonl``.
"""

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.infra import ROOT
from tests.support.keys import HARNESS_AUTH
from tests.support.load import EVENT_TYPES, ORDER_STEPS, Ledger, Request

Json = dict[str, Any]
Histories = dict[str, list[Json]]
ONCE_PER_ORDER = {EVENT_TYPES[step] for step in ("A", "B", "C", "D")}
LOAD_TYPES = {EVENT_TYPES[step] for step in ORDER_STEPS}
MAX_LISTED = 20
"""Differences listed in full; the counts cover the rest."""


def report_path() -> Path:
    return Path(os.environ.get("REPAIR_LOCAL", ROOT / ".local")) / "faults-report.jsonl"


@dataclass
class Summary:
    scenario: str
    sent: int
    acknowledged: int
    refused: int
    gave_up: int
    present: int
    """Acknowledged requests found exactly once in the timeline (or, for positions, the store)."""
    missing: int = 0
    duplicated: int = 0
    phantoms: int = 0
    """Events of the load's kinds that no request of the ledger accounts for."""
    unacknowledged_present: int = 0
    """Events of requests whose answer never came (allowed)."""
    differences: int = 0
    """Orders whose rebuilt timeline differs from the live one."""
    catch_up_s: float | None = None
    """From the end of the load until the timeline had every acknowledged event."""
    rebuild_s: float | None = None
    recovery_s: dict[str, float | None] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(text)
        elif len(self.problems) == MAX_LISTED:
            self.problems.append("… (more; see the counts)")

    @property
    def holds(self) -> bool:
        return not self.problems

    def line(self) -> str:
        return json.dumps(
            {"at": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(self)}, default=str
        )

    def text(self) -> str:
        recovery = ", ".join(
            f"{k} {'never' if v is None else f'{v:.1f} s'}" for k, v in self.recovery_s.items()
        )
        return (
            f"[{self.scenario}] sent {self.sent}, acknowledged {self.acknowledged}, refused "
            f"{self.refused}, gave up {self.gave_up}, present {self.present}, missing "
            f"{self.missing}, duplicated {self.duplicated}, phantoms {self.phantoms}, "
            f"unacknowledged present {self.unacknowledged_present}, rebuild differences "
            f"{self.differences}; catch-up {_s(self.catch_up_s)}, rebuild {_s(self.rebuild_s)}"
            + (f"; recovery: {recovery}" if recovery else "")
            + f"\n  load: {json.dumps(self.load, default=str)}"
            + (f"\n  extra: {json.dumps(self.extra, default=str)}" if self.extra else "")
            + "".join(f"\n  PROBLEM: {p}" for p in self.problems)
        )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def publish(summary: Summary) -> None:
    """Print the summary and append it to the report file the lead quotes figures from."""
    print("\n" + summary.text(), flush=True)
    path = report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(summary.line() + "\n")


# -- reading the timeline ----------------------------------------------------------------------


async def _histories(client: httpx.AsyncClient, url: str, orders: Iterable[str]) -> Histories:
    """Each order's history as the timeline at ``url`` has it (empty when it has none yet)."""
    limit = asyncio.Semaphore(16)

    async def one(wo: str) -> tuple[str, list[Json]]:
        async with limit:
            try:
                response = await client.get(f"{url}/v1/work-orders/{wo}/events")
            except httpx.HTTPError:
                return wo, []
        if response.status_code != 200:
            return wo, []
        events: list[Json] = response.json()
        return wo, events

    return dict(await asyncio.gather(*(one(wo) for wo in orders)))


def _acked_by_order(requests: Iterable[Request]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for r in requests:
        if r.acked and r.step in ORDER_STEPS and r.work_order_id is not None:
            assert r.event_id is not None
            wanted[r.work_order_id].add(r.event_id)
    return wanted


def _complete(histories: Histories, wanted: dict[str, set[str]]) -> bool:
    return all(ids <= {e["event_id"] for e in histories.get(wo, [])} for wo, ids in wanted.items())


async def _until_complete(
    client: httpx.AsyncClient, url: str, wanted: dict[str, set[str]], timeout_s: float
) -> tuple[Histories, float | None]:
    """Poll until every wanted event is in the histories; returns them and how long it took."""
    started = time.monotonic()
    histories: Histories = {}
    pending = dict(wanted)
    while True:
        histories.update(await _histories(client, url, pending))
        pending = {
            wo: ids
            for wo, ids in pending.items()
            if not ids <= {e["event_id"] for e in histories.get(wo, [])}
        }
        if not pending:
            return histories, time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            return histories, None
        await asyncio.sleep(0.5)


def wait_caught_up(
    url: str, ledger: Ledger, until: float, timeout_s: float, since: float | None = None
) -> float | None:
    """While the load runs: wait until the timeline at ``url`` has every event acknowledged up
    to the monotonic instant ``until``; returns the seconds from ``since`` (default: now) until
    then, or None if that did not happen within ``timeout_s``."""
    since = time.monotonic() if since is None else since
    wanted = _acked_by_order(r for r in ledger.requests if r.acked_at and r.acked_at <= until)

    async def run() -> float | None:
        async with httpx.AsyncClient(auth=HARNESS_AUTH, timeout=10) as client:
            _, took = await _until_complete(client, url, wanted, timeout_s)
            return took

    return None if asyncio.run(run()) is None else time.monotonic() - since


# -- the checks ----------------------------------------------------------------------------------


def _check_histories(summary: Summary, ledger: Ledger, histories: Histories) -> None:
    requests = [r for r in ledger.requests if r.step in ORDER_STEPS]
    acked_ids = {r.event_id for r in requests if r.acked}
    acked: dict[str, list[Request]] = defaultdict(list)
    unanswered: dict[tuple[str, str], list[Request]] = defaultdict(list)
    for r in requests:
        if r.work_order_id is None:
            continue
        if r.acked:
            acked[r.work_order_id].append(r)
        else:
            unanswered[r.work_order_id, r.event_type].append(r)
    for wo, events in histories.items():
        ids = Counter(e["event_id"] for e in events)
        reports = Counter(
            _report_id(e) for e in events if e["event_type"] in LOAD_TYPES - ONCE_PER_ORDER
        )
        types = Counter(e["event_type"] for e in events)
        for event_type in sorted(ONCE_PER_ORDER):
            if types[event_type] > 1:
                summary.duplicated += types[event_type] - 1
                summary.problem(f"order {wo}: {types[event_type]} {event_type} events")
        for r in acked[wo]:
            by_id = ids[r.event_id]
            by_key = reports[r.report_id] if r.report_id is not None else by_id
            if by_id == 1 and by_key == 1:
                summary.present += 1
            elif by_id == 0:
                summary.missing += 1
                summary.problem(
                    f"order {wo}: {r.step} acknowledged as event {r.event_id} is not in the "
                    f"timeline ({by_key} other events carry its report id)"
                )
            else:
                summary.duplicated += max(by_id, by_key) - 1
                summary.problem(f"order {wo}: {r.step} ({r.report_id}) recorded {by_key} times")
        for event in events:
            if event["event_type"] not in LOAD_TYPES or event["event_id"] in acked_ids:
                continue
            lost = [
                r
                for r in unanswered[wo, event["event_type"]]
                if r.report_id is None or r.report_id == _report_id(event)
            ]
            if lost and all(only_shed(r) for r in lost):
                summary.phantoms += 1
                summary.problem(
                    f"order {wo}: event {event['event_id']} ({event['event_type']}) exists, but "
                    "every try of its request was answered 429/503 (nothing recorded)"
                )
            elif lost:
                summary.unacknowledged_present += 1
            else:
                summary.phantoms += 1
                summary.problem(
                    f"order {wo}: event {event['event_id']} ({event['event_type']}) was never "
                    "acknowledged and no unanswered request accounts for it"
                )


def only_shed(request: Request) -> bool:
    """Every try was answered 429/503: the service promised each time that nothing was recorded."""
    return bool(request.attempts) and all(a.status in (429, 503) for a in request.attempts)


def _report_id(event: Json) -> str | None:
    payload = event["body"].get("payload") or {}
    report_id: str | None = payload.get("report_id")
    return report_id


async def _compare_rebuild(
    summary: Summary,
    client: httpx.AsyncClient,
    live_url: str,
    rebuilt_url: str,
    live: Histories,
    catch_up_s: float,
) -> None:
    """The rebuilt timeline: the same events, and the same judgement as of one instant."""
    wanted = {wo: {e["event_id"] for e in events} for wo, events in live.items()}
    started = time.monotonic()
    rebuilt, took = await _until_complete(client, rebuilt_url, wanted, catch_up_s)
    summary.rebuild_s = None if took is None else time.monotonic() - started
    as_of = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    for wo in sorted(live):
        live_ids = wanted[wo]
        rebuilt_ids = {e["event_id"] for e in rebuilt.get(wo, [])}
        if live_ids != rebuilt_ids:
            summary.differences += 1
            summary.problem(
                f"order {wo}: rebuild has events {sorted(rebuilt_ids - live_ids)} the live "
                f"timeline lacks, and lacks {sorted(live_ids - rebuilt_ids)}"
            )
            continue
        path = f"/v1/work-orders/{wo}/timeline"
        answers = [
            await client.get(f"{url}{path}", params={"as_of": as_of})
            for url in (live_url, rebuilt_url)
        ]
        bodies = [a.json() if a.status_code == 200 else a.status_code for a in answers]
        if bodies[0] != bodies[1]:
            summary.differences += 1
            summary.problem(f"order {wo}: as of {as_of} live {bodies[0]} != rebuilt {bodies[1]}")


def _check_positions(summary: Summary, ledger: Ledger, dispatch_database_url: str) -> None:
    """Every acknowledged position report is one event in dispatch's store, with its event id."""
    positions = [r for r in ledger.requests if r.step == "position"]
    if not positions:
        return
    vehicles = sorted({r.vehicle_id for r in positions if r.vehicle_id})
    with psycopg.connect(dispatch_database_url) as conn:
        rows = conn.execute(
            """
            SELECT event_id::text, body->>'vehicle_id', body->'payload'->>'report_id'
            FROM events
            WHERE event_type = 'VehiclePositionReported' AND body->>'vehicle_id' = ANY(%s)
            """,
            (vehicles,),
        ).fetchall()
    stored: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event_id, vehicle_id, report_id in rows:
        stored[vehicle_id, report_id].append(event_id)
    sent = {(r.vehicle_id, r.report_id): r for r in positions}
    figures = Counter[str]()
    for r in positions:
        events = stored.get((r.vehicle_id or "", r.report_id or ""), [])
        if not r.acked and events and only_shed(r):
            figures["phantoms"] += len(events)
            summary.problem(f"position {r.report_id}: stored, but every try was answered 429/503")
        elif not r.acked:
            figures["unacknowledged_present" if events else "unacknowledged_absent"] += 1
        elif events == [r.event_id]:
            figures["present"] += 1
        elif not events:
            figures["missing"] += 1
            summary.problem(f"position {r.report_id} acknowledged as {r.event_id}: not stored")
        else:
            figures["duplicated"] += len(events) - 1
            summary.problem(f"position {r.report_id} acknowledged as {r.event_id}: {events}")
    for key, events in stored.items():
        if key not in sent:
            figures["phantoms"] += len(events)
            summary.problem(f"position event(s) {events} for {key}: never sent")
    summary.present += figures["present"]
    summary.missing += figures["missing"]
    summary.duplicated += figures["duplicated"]
    summary.phantoms += figures["phantoms"]
    summary.unacknowledged_present += figures["unacknowledged_present"]
    summary.extra["positions"] = dict(figures)


def _check_ledger(summary: Summary, ledger: Ledger, shed_give_ups_allowed: bool) -> None:
    """From the callers' side: every request was acknowledged in the end (none refused, none
    given up), and every 429/503 said when to come back. Under overload a request may be shed
    every time it is tried until its sender gives up: allowed when asked for (and then it must
    have recorded nothing, which the other checks see)."""
    shed_out = 0
    for r in ledger.requests:
        if r.refused is not None:
            summary.problem(f"{r.step} {r.path} refused: {r.refused}")
        elif r.gave_up is not None and shed_give_ups_allowed and only_shed(r):
            shed_out += 1
        elif r.gave_up is not None:
            summary.problem(f"{r.step} {r.path} given up {r.gave_up}")
        elif not r.acked:
            summary.problem(f"{r.step} {r.path} still unanswered when the load stopped")
    for order in ledger.orders:
        if order.stalled:
            summary.problem(f"order {order.work_order_id}: {order.stalled}")
        elif order.done_at is None and all(r.acked for r in order.requests):
            summary.problem(f"order {order.work_order_id}: its walk never finished")
    for crash in ledger.crashes:
        summary.problem(f"the load itself failed: {crash}")
    if shed_out:
        summary.extra["given_up_after_only_429_503"] = shed_out
    bare = [a for a in ledger.attempts if a.status in (429, 503) and a.retry_after is None]
    if bare:
        summary.problem(f"{len(bare)} answers 429/503 without Retry-After, e.g. {bare[0]}")


def check(
    scenario: str,
    ledger: Ledger,
    timeline_url: str,
    *,
    rebuild: Callable[[], AbstractContextManager[str]] | None,
    dispatch_database_url: str | None = None,
    catch_up_s: float = 60.0,
    recovery_s: dict[str, float | None] | None = None,
    extra: dict[str, Any] | None = None,
    shed_give_ups_allowed: bool = False,
    publish_to_report: bool = True,
) -> Summary:
    """Run the oracle after the load has stopped; the summary is printed either way, and
    appended to the report file unless asked not to."""
    figures = ledger.figures()
    summary = Summary(
        scenario,
        sent=figures["sent"],
        acknowledged=figures["acknowledged"],
        refused=figures["refused"],
        gave_up=figures["gave_up"],
        present=0,
        recovery_s=dict(recovery_s or {}),
        load=figures,
        extra=dict(extra or {}),
    )
    _check_ledger(summary, ledger, shed_give_ups_allowed)
    wanted = _acked_by_order(ledger.requests)
    # Orders whose call was answered: their histories are read whole, acknowledged or not.
    orders = {o.work_order_id for o in ledger.orders if o.work_order_id is not None}

    async def against_timeline() -> None:
        async with httpx.AsyncClient(auth=HARNESS_AUTH, timeout=15) as client:
            histories, took = await _until_complete(client, timeline_url, wanted, catch_up_s)
            summary.catch_up_s = took
            if took is None:
                summary.problem(f"the timeline did not catch up within {catch_up_s} s")
            histories.update(await _histories(client, timeline_url, orders))
            _check_histories(summary, ledger, histories)
            if rebuild is not None:
                with rebuild() as rebuilt_url:
                    await _compare_rebuild(
                        summary, client, timeline_url, rebuilt_url, histories, catch_up_s
                    )

    try:
        asyncio.run(against_timeline())
        if dispatch_database_url is not None:
            _check_positions(summary, ledger, dispatch_database_url)
    finally:
        if publish_to_report:
            publish(summary)
        else:
            print("\n" + summary.text(), flush=True)
    return summary
