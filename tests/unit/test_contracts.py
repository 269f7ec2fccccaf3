"""The contracts are the single source of truth: schemas follow them, stored history still reads."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import CallEnded, parse_event
from contracts.generate import main as generate
from contracts.registry import EVENT_CLASSES

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
    assert json.loads(event.to_json()) == json.loads(raw)


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
