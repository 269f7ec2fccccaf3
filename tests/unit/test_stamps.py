"""A live system's stamp (A–D) may lie only so far from the instant we record it, either way."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import StampOutOfTolerance
from domain.stamps import check_live_stamp, span

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=2)


@pytest.mark.parametrize("off", [timedelta(0), TOLERANCE, -TOLERANCE, timedelta(seconds=-119)])
def test_a_stamp_within_the_tolerance_either_way_passes(off: timedelta) -> None:
    check_live_stamp("issued_at", NOW + off, NOW, TOLERANCE)


def test_a_stamp_too_far_back_says_which_field_how_far_and_the_tolerance() -> None:
    stamp = NOW - timedelta(days=31, seconds=5)
    with pytest.raises(StampOutOfTolerance) as refused:
        check_live_stamp("received_at", stamp, NOW, TOLERANCE)
    assert refused.value.field == "received_at"
    assert (refused.value.stamp, refused.value.recorded_at) == (stamp, NOW)
    message = str(refused.value)
    assert "received_at 2026-10-23T07:59:55Z lies 31 d 5 s before" in message
    assert "(2026-11-23T08:00:00Z)" in message
    assert "at most 2 min either way" in message


def test_a_stamp_too_far_ahead_is_refused_too() -> None:
    with pytest.raises(StampOutOfTolerance, match=r"lies 2 min 0\.5 s after"):
        check_live_stamp(
            "dispatched_at", NOW + TOLERANCE + timedelta(milliseconds=500), NOW, TOLERANCE
        )


@given(off=st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)))
def test_refused_exactly_when_further_than_the_tolerance(off: timedelta) -> None:
    try:
        check_live_stamp("ended_at", NOW + off, NOW, TOLERANCE)
    except StampOutOfTolerance:
        assert abs(off) > TOLERANCE
    else:
        assert abs(off) <= TOLERANCE


@pytest.mark.parametrize(
    ("duration", "spelled"),
    [
        (timedelta(0), "0 s"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(minutes=2), "2 min"),
        (timedelta(days=30), "30 d"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1 d 2 h 3 min 4 s"),
        (timedelta(seconds=1.25), "1.25 s"),
    ],
)
def test_durations_read_as_their_non_zero_parts(duration: timedelta, spelled: str) -> None:
    assert span(duration) == spelled
