"""The one place services read the wall clock; the core is always handed `now` instead."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)  # noqa: TID251 -- the edge is where the clock is read
