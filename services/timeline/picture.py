"""A timeline as a picture (SVG): one bar per segment against its limit, the 45-minute line."""

from datetime import datetime
from html import escape

from domain.policy import Point, SegmentStatus
from domain.timeline import SegmentResult, Timeline, TotalResult

COLORS = {
    SegmentStatus.MET: "#2e7d32",
    SegmentStatus.BREACHED: "#c62828",
    SegmentStatus.RUNNING: "#f9a825",
    SegmentStatus.INCOMPLETE: "#9e9e9e",
    SegmentStatus.INVALID: "#6a1b9a",
    SegmentStatus.DISPUTED: "#ef6c00",
    # Within the unit's measured clock skew (ADR 0009): neither red nor green.
    SegmentStatus.INDETERMINATE: "#0277bd",
}
WIDTH, LEFT, ROW, TOP = 960, 70, 34, 56


def render_svg(timeline: Timeline) -> str:
    """Segments laid out on one time axis from A; limits as dashed ticks; breaches in red; a
    dotted line where each recalled attempt was withdrawn."""
    start = timeline.points[Point.A] or min(
        (s.start for s in timeline.segments if s.start), default=timeline.as_of
    )
    ends = [s.end or timeline.as_of for s in timeline.segments if s.start]
    span_s = max(timeline.total.limit_s * 1.1, *((e - start).total_seconds() for e in ends), 60.0)
    scale = (WIDTH - LEFT - 20) / span_s

    def x(at: datetime) -> float:
        return LEFT + (at - start).total_seconds() * scale

    height = TOP + ROW * (len(timeline.segments) + 1) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">Work order '
        f"{timeline.work_order_id}</text>",
        f'<text x="{LEFT}" y="38" fill="#555">as of {timeline.as_of:%Y-%m-%d %H:%M:%S %Z}, '
        f"policy {escape(timeline.policy_version)}</text>",
    ]
    promise = LEFT + timeline.total.limit_s * scale
    out.append(
        f'<line x1="{promise:.1f}" y1="{TOP - 6}" x2="{promise:.1f}" y2="{height - 30}" '
        'stroke="#c62828" stroke-dasharray="6 4"/>'
        f'<text x="{promise + 4:.1f}" y="{TOP}" fill="#c62828">45 min</text>'
    )
    for attempt in timeline.attempts:
        if attempt.recalled_at is None:
            continue
        # Rule 4: where an attempt was withdrawn; the time after it, until the next D, is CD's.
        mark = max(x(attempt.recalled_at), LEFT)
        out.append(
            f'<line x1="{mark:.1f}" y1="{TOP - 6}" x2="{mark:.1f}" y2="{height - 30}" '
            'stroke="#555" stroke-dasharray="2 3"/>'
            f'<text x="{mark + 3:.1f}" y="{height - 18}" fill="#555">recall '
            f"{attempt.number} ({escape(attempt.vehicle_id)})</text>"
        )
    rows: list[SegmentResult | TotalResult] = [*timeline.segments, timeline.total]
    for row, seg in enumerate(rows):
        y = TOP + ROW * row
        out.append(f'<text x="10" y="{y + 17}" font-weight="bold">{seg.segment}</text>')
        if seg.start is None:
            out.append(f'<text x="{LEFT}" y="{y + 17}" fill="#777">not started</text>')
            continue
        end = seg.end or timeline.as_of
        left, right = x(seg.start), max(x(end), x(seg.start) + 2)
        color = COLORS[seg.status]
        out.append(
            f'<rect x="{left:.1f}" y="{y + 4}" width="{right - left:.1f}" height="18" '
            f'fill="{color}" fill-opacity="{0.45 if seg.end is None else 0.85}"/>'
        )
        limit = x(seg.start) + seg.limit_s * scale
        out.append(
            f'<line x1="{limit:.1f}" y1="{y + 1}" x2="{limit:.1f}" y2="{y + 25}" '
            'stroke="#333" stroke-dasharray="3 2"/>'
        )
        parties = seg.responsible if isinstance(seg.responsible, list) else [seg.responsible]
        who = ", ".join(p for p in parties if p)
        minutes = f"{seg.duration_s / 60:.1f}" if seg.duration_s is not None else "?"
        label = f"{seg.status} {minutes}/{seg.limit_s / 60:g} min {who}"
        out.append(f'<text x="{max(right, limit) + 6:.1f}" y="{y + 17}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
