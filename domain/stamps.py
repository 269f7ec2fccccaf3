"""How far a live system's stamp may lie from the instant we record it.

A and B are stamped by the phone system, C and D by the repair center's console: each by the party
that answers for the segment the point closes. Unbounded, a stamp would let that party move its own
deadline by posting late with an early stamp (or early with a late one), so a stamp further than the
tolerance from our clock, either way, is refused and nothing is recorded. Crew reports (E–H) are not
bound here: a unit that was offline may rightly post hours late, and the timeline flags it.
"""

from datetime import datetime, timedelta

from domain.errors import StampOutOfTolerance
from domain.timeline._format import at


def check_live_stamp(
    field: str, stamp: datetime, recorded_at: datetime, tolerance: timedelta
) -> None:
    """Nothing if ``stamp`` lies within ``tolerance`` of ``recorded_at``; else ``StampOutOfTolerance``.

    ``field`` is the request's name for the stamp (``issued_at``), so that the refusal says where.
    """
    off = stamp - recorded_at
    if abs(off) <= tolerance:
        return
    side = "before" if off < timedelta(0) else "after"
    raise StampOutOfTolerance(
        field,
        f"{field} {at(stamp)} lies {span(abs(off))} {side} the moment it was posted "
        f"({at(recorded_at)}); a live system's stamp may lie at most {span(tolerance)} "
        "either way of it. Nothing was recorded: post the true stamp, or check the sender's clock.",
        stamp=stamp,
        recorded_at=recorded_at,
        tolerance=tolerance,
    )


def span(duration: timedelta) -> str:
    """``31 d 2 h 5 s``: the non-zero parts, seconds to the millisecond."""
    whole = int(duration.total_seconds())
    fraction = duration.total_seconds() - whole
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if seconds or fraction or not parts:
        parts.append(f"{seconds + fraction:.3f}".rstrip("0").rstrip(".") + " s")
    return " ".join(parts)
