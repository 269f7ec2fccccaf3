"""How far ahead of our clock a GPS unit stamps, and when that swallows a breach (ADR 0009).

A report reaches us after it happened, never before: its record minus its stamp is the network's
delay minus the unit's clock offset. So a stamp *later* than our record proves the unit's clock
runs ahead, by at least that much; a stamp earlier than our record proves nothing (a slow network
and a clock behind look alike), which is why "behind" is never measured here: a clock behind
makes a segment look shorter, and ADR 0005's disputes already cover an end that came in late.

Only the unit's reports recorded no later than the finding's end count: what a unit posts after
a finding was made cannot change it.
"""

from datetime import timedelta

from domain.timeline._format import at, seconds, utc
from domain.timeline.model import SkewEvidence, SkewReport
from domain.timeline.points import Reading, Readings, record_key

GPS_UNIT = "gps-unit:"
"""The source prefix of the crews' GPS units, which stamp E to H."""


def ahead_within(
    name: str, start: Reading, end: Reading, margin: timedelta, readings: Readings
) -> SkewEvidence | None:
    """The evidence that the breach of ``name`` by ``margin`` lies within the measured skew of
    the unit that stamped ``end``, or ``None`` if it does not.

    Applies when the end was stamped by a GPS unit and the start by another clock (DE, A to H,
    a gap ending at E to H): with one clock at both ends its offset cancels in the duration. A
    clock ahead makes such a span look longer, so only a breach can be wrong, by at most the
    skew: the breach is indeterminate when its margin is smaller than the skew.
    """
    source = end.event.source
    if not source.startswith(GPS_UNIT) or start.event.source == source:
        return None
    used = sorted(
        (
            e
            for e in readings.events
            if e.source == source and e.recorded_at <= end.event.recorded_at
        ),
        key=record_key,
    )
    ahead = {e.event_id: (e.occurred_at - e.recorded_at).total_seconds() for e in used}
    skew_s = max(ahead.values(), default=0.0)
    margin_s = margin.total_seconds()
    if not 0 < margin_s < skew_s:
        return None
    widest = max(used, key=lambda e: (ahead[e.event_id], record_key(e)))
    return SkewEvidence.model_construct(
        source=source,
        margin_s=margin_s,
        skew_s=skew_s,
        reports=[
            SkewReport.model_construct(
                event_id=e.event_id,
                event_type=e.event_type,
                occurred_at=utc(e.occurred_at),
                recorded_at=utc(e.recorded_at),
                ahead_s=ahead[e.event_id],
            )
            for e in used
        ],
        message=(
            f"{name} is over its limit by {seconds(margin_s)} by the stamps, but {source} "
            f"stamps ahead of our clock by at least {seconds(skew_s)}: its report "
            f"{widest.event_id} ({widest.event_type}) is stamped {at(widest.occurred_at)} and "
            f"was recorded {at(widest.recorded_at)}; {end.point} (event {end.event.event_id}) "
            f"may lie that much early, so {name} cannot be judged breached or met"
        ),
    )
