"""A true retry repeats the first body; another body under the same key is refused, saying what."""

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.errors import AlreadyRecorded, DomainError, NotFound, StampOutOfTolerance
from domain.retries import differences, require_same
from services.common.refusals import refusal_with_facts
from services.dispatch.api_models import DeviceFaultReport, OrderReport
from services.dispatch.reports import REPORTS
from services.intake.calls import CALLS
from tests.unit.factories import CALL

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WO = uuid4()
DEPARTED = OrderReport(report_id="r-7", type="departed", work_order_id=WO, occurred_at=T0)


def test_a_retry_differs_in_nothing_even_with_its_stamp_in_another_offset() -> None:
    beijing = T0.astimezone(timezone(timedelta(hours=8)))
    assert differences(DEPARTED, DEPARTED.model_copy(update={"occurred_at": beijing})) == ()


def test_a_reused_report_id_names_each_differing_field_and_shows_the_first() -> None:
    arrived = DEPARTED.model_copy(update={"type": "arrived", "occurred_at": T0 + timedelta(1)})
    with pytest.raises(AlreadyRecorded) as refused:
        require_same("report 'r-7' of vehicle 'v-1' was already posted", DEPARTED, arrived)
    assert refused.value.differs == ("occurred_at", "type")
    assert refused.value.first == {
        "report_id": "r-7",
        "occurred_at": "2026-11-23T08:00:00Z",
        "position": None,
        "type": "departed",
        "work_order_id": str(WO),
        "repair": None,
    }
    assert str(refused.value).startswith(
        "report 'r-7' of vehicle 'v-1' was already posted with another body "
        "(occurred_at, type differ)"
    )


def test_reports_of_two_kinds_compare_field_by_field() -> None:
    fault = DeviceFaultReport(
        report_id="r-7", type="device_fault", occurred_at=T0, description="antenna"
    )
    assert differences(DEPARTED, fault) == ("type", "work_order_id", "description")


def test_a_personal_first_body_is_never_echoed_only_the_differing_names() -> None:
    other = CALL.model_copy(
        update={"caller": CALL.caller.model_copy(update={"phone": "+86 10 7777 0000"})}
    )
    with pytest.raises(AlreadyRecorded) as refused:
        require_same("call 'call-1' was already posted", CALL, other, personal=True)
    assert refused.value.differs == ("caller.phone",)
    assert refused.value.first is None
    said = str(refused.value)
    assert "caller.phone" in said
    for personal in (CALL.caller.name, CALL.caller.phone, "+86 10 7777 0000"):
        assert personal not in said


def test_the_http_answer_of_a_reused_key_carries_detail_differs_and_first() -> None:
    shown = AlreadyRecorded("report 'r' was already posted", ["type"], {"type": "departed"})
    answer = refusal_with_facts(shown)
    assert answer is not None
    assert answer.status_code == 409
    assert json.loads(bytes(answer.body)) == {
        "detail": "report 'r' was already posted",
        "differs": ["type"],
        "first": {"type": "departed"},
    }
    hidden = refusal_with_facts(AlreadyRecorded("call 'c' was already posted", ["address"], None))
    assert hidden is not None
    assert "first" not in json.loads(bytes(hidden.body))


def test_the_http_answer_of_a_stamp_out_of_tolerance_is_fastapis_422_at_the_field() -> None:
    refused = StampOutOfTolerance("issued_at", "too far", T0, T0, timedelta(minutes=2))
    answer = refusal_with_facts(refused)
    assert answer is not None
    assert answer.status_code == 422
    assert json.loads(bytes(answer.body)) == {
        "detail": [
            {"loc": ["body", "issued_at"], "msg": "too far", "type": "stamp_out_of_tolerance"}
        ]
    }


def test_other_refusals_keep_their_plain_answer() -> None:
    refusals: list[DomainError] = [NotFound("no order"), DomainError("x")]
    assert [refusal_with_facts(r) for r in refusals] == [None, None]


def test_scopes_key_calls_by_call_id_and_reports_per_vehicle() -> None:
    assert (CALLS.name, CALLS.personal) == ("call", True)
    # Report ids are unique per unit only; the vehicle is part of the scope, not of the key,
    # so no pair of vehicle and report ids can collide with another.
    narrowed = REPORTS.within("vehicle", "veh:1")
    assert (narrowed.name, narrowed.owner, narrowed.personal) == (
        "vehicle-report:veh:1",
        " of vehicle 'veh:1'",
        False,
    )
