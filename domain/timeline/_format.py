"""How times and durations read in evidence and anomaly messages (one spelling everywhere)."""

from datetime import UTC, datetime, timedelta


def utc(moment: datetime) -> datetime:
    """The same instant on UTC, so that equal instants print and serialise alike."""
    return moment.astimezone(UTC)


def at(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # the judge's stamps are on UTC already (``points.on_utc``)
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def seconds(duration: timedelta | float) -> str:
    value = duration.total_seconds() if isinstance(duration, timedelta) else duration
    return f"{int(value)} s" if value.is_integer() else f"{value:.3f} s"
