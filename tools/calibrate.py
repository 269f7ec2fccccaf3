"""Calibrate the limits by the source's rule, "usual time taken + 1 minute".

    uv run python -m tools.calibrate --from 2026-11-01T00:00Z --to 2026-12-01T00:00Z
        [--percentile 50] [--out draft.json] [--database-url URL] [--policy VERSION]

Reads the timeline service's database (``received_events``), judges every order whose A lies in
[from, to) under the current policy (the one in force now, or ``--policy``), takes each
segment's usual time (the median unless ``--percentile`` says otherwise) over the segments judged
on both points, writes a draft policy with limit = usual + 1 minute, and prints per limit the
usual time, both limits and how many of those orders breach under each. The draft takes effect
only from ``--effective-from`` (default: the next midnight UTC), so adopting it by copying it
into the policies folder never rewrites a finding already made.
"""

import sys
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import psycopg
import typer

from contracts import NetworkIncidentPayload, NetworkIncidentRecorded, WorkOrderEvent, parse_event
from contracts.registry import WorkOrderEventT
from domain.calibration import Row, compare, draft_policy, usual_times
from domain.errors import NotFound
from domain.policy import Point, Policy
from domain.timeline import Timeline, judge_under
from services.common.clock import utc_now
from services.timeline.policies import DEFAULT_POLICIES_DIR, load_policy_book

DRAFTS = DEFAULT_POLICIES_DIR / "drafts"
"""Where drafts go by default: beside the policies, not among them (the service reads only
``policies/*.json``), so a draft is adopted only by copying it there on purpose."""


def _instant(value: str) -> datetime:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 instant") from error
    if len(text) == 10:  # a date alone: its midnight, UTC
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no timezone; add Z or an offset")
    return moment


def _orders(
    url: str, begin: datetime, end: datetime
) -> tuple[dict[UUID, list[WorkOrderEventT]], list[NetworkIncidentPayload]]:
    """The events of every order with a call ended stamped in [begin, end), and every network
    incident as last recorded."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT body::text FROM received_events
            WHERE work_order_id IN (
                SELECT work_order_id FROM received_events
                WHERE event_type = 'CallEnded' AND occurred_at >= %s AND occurred_at < %s
            )
            """,
            (begin, end),
        ).fetchall()
        incident_rows = conn.execute(
            """
            SELECT DISTINCT ON (body->'payload'->>'incident_id') body::text
            FROM received_events WHERE event_type = 'NetworkIncidentRecorded'
                AND work_order_id IS NULL  -- as the partial index is spelled: it answers
            ORDER BY body->'payload'->>'incident_id', recorded_at DESC
            """
        ).fetchall()
    orders: dict[UUID, list[WorkOrderEventT]] = defaultdict(list)
    for (body,) in rows:
        event = parse_event(body)
        if isinstance(event, WorkOrderEvent):
            orders[event.work_order_id].append(event)
    incidents = [NetworkIncidentRecorded.from_json(body).payload for (body,) in incident_rows]
    return dict(orders), incidents


def _judge_all(
    orders: dict[UUID, list[WorkOrderEventT]],
    policy: Policy,
    now: datetime,
    incidents: list[NetworkIncidentPayload],
    label: str,
) -> list[Timeline]:
    judged = []
    with typer.progressbar(sorted(orders.items()), label=label, file=sys.stderr) as bar:
        for work_order_id, events in bar:
            judged.append(judge_under(work_order_id, events, policy, now, incidents))
    return judged


def _cell(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def report(rows: list[Row]) -> str:
    """The table as printed: one line per limit."""
    header = ("limit", "samples", "usual s", "current s", "draft s", "breach now", "breach draft")
    lines = [header] + [
        (
            row.name,
            _cell(row.samples),
            _cell(row.usual_s),
            _cell(row.current_limit_s),
            _cell(row.draft_limit_s),
            str(row.breaches_current),
            str(row.breaches_draft),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def main(
    begin: Annotated[
        datetime,
        typer.Option(
            "--from",
            parser=_instant,
            metavar="INSTANT",
            help="Orders whose A is at or after this instant.",
        ),
    ],
    end: Annotated[
        datetime,
        typer.Option("--to", parser=_instant, metavar="INSTANT", help="... and before this one."),
    ],
    database_url: Annotated[
        str, typer.Option(envvar="DATABASE_URL", help="The timeline service's database.")
    ],
    percentile: Annotated[
        float, typer.Option(min=0, max=100, help="Which percentile is the usual time.")
    ] = 50.0,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the draft (default policies/drafts/).")
    ] = None,
    policies_dir: Annotated[
        Path, typer.Option(envvar="POLICIES_DIR", help="The versioned policies.")
    ] = DEFAULT_POLICIES_DIR,
    policy: Annotated[
        str | None, typer.Option(help="The version to compare with (default: in force now).")
    ] = None,
    version: Annotated[str | None, typer.Option(help="The draft's version (draft-<date>).")] = None,
    effective_from: Annotated[
        datetime | None,
        typer.Option(
            parser=_instant,
            metavar="INSTANT",
            help="When the draft would take effect (default: next midnight UTC).",
        ),
    ] = None,
) -> None:
    """Compute the usual times, write the draft, print the comparison."""
    if end <= begin:
        raise typer.BadParameter("--to must come after --from")
    now = utc_now()
    book = load_policy_book(policies_dir)
    try:
        current = book.in_force(now) if policy is None else book.get(policy)
    except NotFound as error:
        raise typer.BadParameter(str(error), param_hint="--policy") from error
    orders, incidents = _orders(database_url, begin, end)
    under_current = [
        t
        for t in _judge_all(orders, current, now, incidents, f"judging under {current.version}")
        # The order's A as the timeline sets it (the first call recorded) decides.
        if (a := t.points[Point.A]) is not None and begin <= a < end
    ]
    kept = {t.work_order_id for t in under_current}
    orders = {wo: events for wo, events in orders.items() if wo in kept}
    if not under_current:
        typer.echo(f"no orders with A in [{begin.isoformat()}, {end.isoformat()})", err=True)
        raise typer.Exit(1)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    draft = draft_policy(
        current,
        usual_times(under_current, percentile),
        version=version or f"draft-{now.date().isoformat()}",
        effective_from=effective_from or midnight,
    )
    under_draft = _judge_all(orders, draft, now, incidents, f"judging under {draft.version}")
    target = out or DRAFTS / f"{draft.version}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(draft.model_dump_json(indent=2) + "\n", encoding="utf-8")
    typer.echo(
        f"{len(under_current)} orders with A in [{begin.isoformat()}, {end.isoformat()}); "
        f"usual time = percentile {percentile:g}; draft limit = usual + 60 s"
    )
    typer.echo(report(compare(current, draft, under_current, under_draft, percentile)))
    typer.echo(
        f"draft {draft.version} (effective from {draft.effective_from.isoformat()}) "
        f"written to {target}"
    )


if __name__ == "__main__":
    typer.run(main)
