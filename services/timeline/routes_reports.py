"""Reports from the projection (never from the events): orders by A in [from, to)."""

import contextlib
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime, BaseModel

from domain.access import Ability
from domain.errors import InvalidReference
from domain.policy import Responsible, Segment
from services.common.auth import allow
from services.common.db import Connection
from services.common.http import RuntimeDep

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[allow(Ability.READ_ALL)])
GroupBy = Literal["department", "day"]
REPORT_WORK_MEM = "64MB"
SEGMENT_NAMES = [s.value for s in Segment]


class SegmentStats(BaseModel):
    """Durations of the segments whose end point arrived, and how many were breached."""

    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    breached: int


class Summary(BaseModel):
    orders: int
    on_time_rate: float | None
    """Share of the orders whose A to H was met (within 45 min); ``None`` without orders."""
    breaches_by_responsible: dict[str, int]
    segments: dict[str, SegmentStats]


class Group(Summary):
    key: str | None
    """The department (``None``: none named) or the day (UTC, YYYY-MM-DD) of A."""


class Report(Summary):
    period_from: datetime
    period_to: datetime
    group_by: GroupBy | None
    groups: list[Group]
    """The same figures per department or day of A; empty without ``group_by``."""


_DAY = "(a_at AT TIME ZONE 'UTC')::date"
_KEY = {  # what the rows are grouped by, and the group's key as text
    None: ("NULL::text", "NULL::text"),
    "department": ("department", "department"),
    # Grouped by the date and only then spelt: one ``to_char`` per day, not per row.
    "day": (_DAY, f"to_char({_DAY}, 'YYYY-MM-DD')"),
}


@contextlib.asynccontextmanager
async def report_snapshot(conn: Connection) -> AsyncIterator[None]:
    """One read-only snapshot for every query of a report, so that its counts agree with each
    other while the projection goes on writing."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # The sorts of a long period in memory, not spilled to disk (the default is 4 MB); no
        # JIT: compiling the aggregates took longer (some 130 ms) than it saved.
        await conn.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'; SET LOCAL jit = off")
        yield


async def summaries(
    conn: Connection, start: datetime, end: datetime, group_by: GroupBy | None
) -> tuple[Summary, dict[str | None, Summary]]:
    """The figures of the orders with A in [start, end): the whole period's and, with
    ``group_by``, each group's (a group without orders is absent), both from the same scans
    (grouping sets: the whole period is the set ``()``)."""
    group, key = _KEY[group_by]  # fixed SQL expressions, never user text
    sets = "()" if group_by is None else f"(), ({group})"
    whole = "true" if group_by is None else f"GROUPING({group}) = 1"
    orders = await conn.fetch(
        f"""
        SELECT {key} AS key, {whole} AS whole, count(*) AS orders,
               count(*) FILTER (WHERE total_status = 'met') AS on_time
        FROM order_projection WHERE a_at >= $1 AND a_at < $2 GROUP BY GROUPING SETS ({sets})
        """,
        start,
        end,
    )
    # Segment by segment, each one range of ``order_segments_by_segment`` (migration 0004): the
    # rows come apart from the other segments' already, so nothing sorts a million of them.
    segments = await conn.fetch(
        f"""
        SELECT x.key, x.whole, seg.segment, x.ps, x.breached
        FROM unnest($3::text[]) AS seg(segment)
        CROSS JOIN LATERAL (
            SELECT {key} AS key, {whole} AS whole,
                -- One sort for the three percentiles, not one each.
                percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY s.duration_s)
                    FILTER (WHERE s.ended) AS ps,
                count(*) FILTER (WHERE s.status = 'breached') AS breached
            FROM order_segments s
            WHERE s.segment = seg.segment AND s.a_at >= $1 AND s.a_at < $2
            GROUP BY GROUPING SETS ({sets})
        ) AS x
        """,
        start,
        end,
        SEGMENT_NAMES,
    )
    by_party = "s.responsible" if group_by is None else f"(s.responsible), ({group}, s.responsible)"
    parties = await conn.fetch(
        f"""
        SELECT {key} AS key, {whole} AS whole, s.responsible, count(*) AS n
        FROM order_segments s
        WHERE s.a_at >= $1 AND s.a_at < $2 AND s.status = 'breached'
        GROUP BY GROUPING SETS ({by_party})
        """,
        start,
        end,
    )
    out: dict[tuple[bool, str | None], Summary] = {(True, None): _empty()}
    for row in orders:
        summary = out[row["whole"], row["key"]] = _empty()
        summary.orders = row["orders"]
        summary.on_time_rate = row["on_time"] / row["orders"] if row["orders"] else None
    for row in segments:
        p50, p90, p99 = row["ps"] or (None, None, None)  # NULL: none of the segments ended
        out[row["whole"], row["key"]].segments[row["segment"]] = SegmentStats(
            p50_s=p50, p90_s=p90, p99_s=p99, breached=row["breached"]
        )
    for row in parties:
        party = row["responsible"] or "unknown"
        out[row["whole"], row["key"]].breaches_by_responsible[party] = row["n"]
    return out.pop((True, None)), {name: summary for (_, name), summary in out.items()}


def _empty() -> Summary:
    return Summary(
        orders=0,
        on_time_rate=None,
        breaches_by_responsible={r.value: 0 for r in Responsible},
        segments={
            s.value: SegmentStats(p50_s=None, p90_s=None, p99_s=None, breached=0) for s in Segment
        },
    )


def _csv(report: Report) -> str:
    """One line per group (the whole period first, group empty) and segment."""
    parties = list(report.breaches_by_responsible)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "group_by",
            "group",
            "orders",
            "on_time_rate",
            *(f"breaches_{p}" for p in parties),
            "segment",
            "p50_s",
            "p90_s",
            "p99_s",
            "breached",
        ]
    )
    rows: list[tuple[str, Summary]] = [("", report)]
    rows += [(g.key or "", g) for g in report.groups]
    for key, summary in rows:
        for name, stats in summary.segments.items():
            writer.writerow(
                [
                    report.group_by or "" if key else "",
                    key,
                    summary.orders,
                    "" if summary.on_time_rate is None else summary.on_time_rate,
                    *(summary.breaches_by_responsible.get(p, 0) for p in parties),
                    name,
                    *("" if v is None else v for v in (stats.p50_s, stats.p90_s, stats.p99_s)),
                    stats.breached,
                ]
            )
    return out.getvalue()


@router.get("/summary", response_model=Report)
async def summary(
    runtime: RuntimeDep,
    start: Annotated[AwareDatetime, Query(alias="from", description="A at or after this.")],
    end: Annotated[AwareDatetime, Query(alias="to", description="A before this.")],
    group_by: Annotated[GroupBy | None, Query(description="Split by department or day.")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Report | Response:
    """Orders, the on-time rate (A to H within 45 min), breaches by party, and per segment the
    50th, 90th and 99th percentile of its duration and how many were breached.
    ``Accept: text/csv`` gives the same as CSV."""
    if end <= start:
        raise InvalidReference("query.to", f"to ({end.isoformat()}) must be after from")
    async with runtime.pool.acquire() as conn, report_snapshot(conn):
        whole, groups = await summaries(conn, start, end, group_by)
    report = Report(
        **whole.model_dump(),
        period_from=start,
        period_to=end,
        group_by=group_by,
        groups=[
            Group(key=key, **value.model_dump())
            for key, value in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ],
    )
    if accept is not None and "text/csv" in accept:
        return Response(_csv(report), media_type="text/csv")
    return report
