"""The contracts are the single source of truth: schemas follow them, stored history still reads."""

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import CallEnded, CallEndedPayload, parse_event
from contracts.generate import main as generate
from contracts.registry import EVENT_CLASSES, parse_with
from contracts.upcasting import Body, registered, upcast

FIXTURES = Path(__file__).parents[1] / "fixtures" / "events" / "v1"


def test_checked_in_json_schemas_match_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate(["--check"]) == 0, capsys.readouterr().out


def test_every_event_type_has_a_v1_fixture() -> None:
    names = {cls.model_fields["event_type"].default for cls in EVENT_CLASSES}
    assert {p.stem for p in FIXTURES.glob("*.json")} == names


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_v1_fixtures_still_parse_and_round_trip(path: Path) -> None:
    raw = path.read_text()
    event = parse_event(raw)
    assert event.event_type == path.stem
    assert event.schema_version == 1
    written, stored = json.loads(event.to_json()), json.loads(raw)
    assert _without_unset_additions(written, stored) == stored


def _without_unset_additions(written: Any, stored: Any) -> Any:
    """``written`` less the optional fields added to v1 since ``stored`` was written (null there):
    an addition must not change what an old body says."""
    if isinstance(written, dict) and isinstance(stored, dict):
        return {
            k: _without_unset_additions(v, stored.get(k))
            for k, v in written.items()
            if k in stored or v is not None
        }
    return written


def test_an_unknown_field_or_version_is_refused_saying_where() -> None:
    body = json.loads((FIXTURES / "CallEnded.json").read_text())
    with pytest.raises(ValidationError) as unknown:
        parse_event(json.dumps({**body, "payload": {**body["payload"], "extra": 1}}))
    assert ("CallEnded", "payload", "extra") in [err["loc"] for err in unknown.value.errors()]
    with pytest.raises(ValidationError):
        parse_event(json.dumps({**body, "schema_version": 2}))


def test_occurred_at_must_carry_a_timezone() -> None:
    body = json.loads((FIXTURES / "CallEnded.json").read_text())
    with pytest.raises(ValidationError, match="timezone"):
        CallEnded.model_validate({**body, "occurred_at": "2026-11-23T08:00:00"})


def test_events_key_by_what_keeps_their_order() -> None:
    by_type = {
        e.event_type: e for e in (parse_event(p.read_text()) for p in FIXTURES.glob("*.json"))
    }
    assert by_type["CrewArrived"].partition_key == str(by_type["CallEnded"].work_order_id)  # type: ignore[union-attr]
    assert by_type["VehicleDeviceFaultReported"].partition_key == "veh-dc-01"
    assert by_type["NetworkIncidentRecorded"].partition_key == "repair_center_to_crew"


class _CallEndedPayloadV2(CallEndedPayload):
    language: str


class _CallEndedV2(CallEnded):  # a v2 that exists only in this test
    schema_version: Literal[2] = 2  # type: ignore[assignment]
    payload: _CallEndedPayloadV2


def _call_ended_v1_to_v2(body: Body) -> Body:
    return {**body, "payload": {**body["payload"], "language": "zh"}}


def test_a_stored_v1_body_still_reads_once_a_v2_exists() -> None:
    raw = (FIXTURES / "CallEnded.json").read_text()
    v1 = parse_event(raw)
    with registered({("CallEnded", 1): _call_ended_v1_to_v2}):
        event = parse_with(TypeAdapter(_CallEndedV2), raw)
    assert event.schema_version == 2
    assert event.payload.language == "zh"
    assert event.model_dump(exclude={"schema_version", "payload"}) == v1.model_dump(
        exclude={"schema_version", "payload"}
    )
    # Without the upcaster the v2 model refuses the v1 body.
    with pytest.raises(ValidationError, match="schema_version"):
        parse_with(TypeAdapter(_CallEndedV2), raw)


def test_upcasting_chains_versions_and_leaves_the_newest_alone() -> None:
    steps = {
        ("Thing", 1): lambda b: {**b, "a": 1},
        ("Thing", 2): lambda b: {**b, "b": b["a"] + 1},
    }
    with registered(steps):
        assert upcast({"event_type": "Thing", "schema_version": 1}) == {
            "event_type": "Thing",
            "schema_version": 3,
            "a": 1,
            "b": 2,
        }
        newest = {"event_type": "Thing", "schema_version": 3}
        assert upcast(newest) == newest
    assert upcast({"event_type": "Thing", "schema_version": 1}) == {
        "event_type": "Thing",
        "schema_version": 1,
    }


def test_a_future_version_nobody_knows_is_refused() -> None:
    body = json.loads((FIXTURES / "CallEnded.json").read_text())
    with registered({("CallEnded", 1): _call_ended_v1_to_v2}), pytest.raises(ValidationError):
        parse_event(json.dumps({**body, "schema_version": 99}))
