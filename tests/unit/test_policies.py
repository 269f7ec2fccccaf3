"""Versioned policies (ADR 0009): the files, the book, and the judge picking the one in force at A."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.errors import NotFound
from domain.policy import DEFAULT_POLICY, Point, Policy, PolicyBook, Responsible, Segment
from domain.timeline import judge, judge_under
from domain.timeline.judge import began_at
from services.timeline.policies import (
    DEFAULT_POLICIES_DIR,
    PolicyFileError,
    PolicySettings,
    load_policy_book,
)
from tests.unit.factories import T0, WO, event, minutes, order

FIRST = DEFAULT_POLICY
GH_30 = DEFAULT_POLICY.model_copy(
    update={
        "version": "2026-11-02-gh30",
        "effective_from": T0 + timedelta(minutes=10),
        "limits_s": {**DEFAULT_POLICY.limits_s, Segment.GH: 1800},
    }
)
"""A later version that gives GH 30 minutes, from 08:10 on the test day."""
BOOK = PolicyBook([GH_30, FIRST])
# GH took 29 minutes (G at 9, H at 38): breached under 28 minutes, met under 30.
SLOW_GH = {
    Point.A: 0,
    Point.B: 1,
    Point.C: 3,
    Point.D: 4,
    Point.E: 6,
    Point.F: 7,
    Point.G: 9,
    Point.H: 38,
}


def shifted(points: Mapping[Point, float], by: float) -> dict[Point, float]:
    return {point: m + by for point, m in points.items()}


def test_the_first_policy_file_is_the_default_policy() -> None:
    path = DEFAULT_POLICIES_DIR / f"{DEFAULT_POLICY.version}.json"
    assert Policy.model_validate_json(path.read_text()) == DEFAULT_POLICY
    assert json.loads(path.read_text())["effective_from"] == "2026-01-01T00:00:00Z"
    assert load_policy_book(DEFAULT_POLICIES_DIR).policies[0] == DEFAULT_POLICY


def test_the_setting_defaults_to_the_repositorys_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICIES_DIR", raising=False)
    assert PolicySettings().policies_dir == Path(__file__).parents[2] / "policies"
    monkeypatch.setenv("POLICIES_DIR", "/elsewhere")
    assert PolicySettings().policies_dir == Path("/elsewhere")


def test_effective_from_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_POLICY.model_validate(
            {**DEFAULT_POLICY.model_dump(), "effective_from": datetime(2026, 1, 1)}
        )


def test_the_book_is_sorted_and_answers_the_policy_in_force() -> None:
    assert [p.version for p in BOOK.policies] == [FIRST.version, GH_30.version]
    assert BOOK.latest is GH_30
    assert BOOK.in_force(datetime(2025, 6, 1, tzinfo=UTC)) is FIRST  # before the first: first
    assert BOOK.in_force(FIRST.effective_from) is FIRST
    assert BOOK.in_force(GH_30.effective_from - timedelta(microseconds=1)) is FIRST
    assert BOOK.in_force(GH_30.effective_from) is GH_30  # from its instant on, inclusive
    assert BOOK.in_force(datetime(2030, 1, 1, tzinfo=UTC)) is GH_30
    assert BOOK.get("2026-11-02-gh30") is GH_30


def test_the_book_refuses_what_would_leave_the_judge_to_chance() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PolicyBook([])
    with pytest.raises(ValueError, match="unique"):
        PolicyBook([FIRST, FIRST.model_copy(update={"effective_from": T0})])
    with pytest.raises(ValueError, match="both take effect"):
        PolicyBook([FIRST, GH_30.model_copy(update={"effective_from": FIRST.effective_from})])
    with pytest.raises(ValueError, match="timezone-aware"):
        BOOK.in_force(datetime(2026, 11, 2))
    with pytest.raises(NotFound, match="no policy version 'nope'"):
        BOOK.get("nope")


def test_an_order_is_judged_under_the_policy_in_force_at_its_a() -> None:
    early = judge(WO, order(SLOW_GH), BOOK, minutes(90))  # A at 08:00
    late = judge(WO, order(shifted(SLOW_GH, 15)), BOOK, minutes(90))  # A at 08:15
    assert (early.policy_version, early.segments[Segment.GH.position].status) == (
        FIRST.version,
        "breached",
    )
    assert (late.policy_version, late.segments[Segment.GH.position].status) == (
        GH_30.version,
        "met",
    )


def test_a_new_policy_never_rewrites_an_old_finding() -> None:
    events = order(SLOW_GH)
    before = judge(WO, events, PolicyBook([FIRST]), minutes(90))
    after = judge(WO, events, BOOK, minutes(90))  # GH_30 published since, effective after A
    assert after == before
    # Only an explicit re-judgement applies the new numbers, and says so.
    again = judge_under(WO, events, GH_30, minutes(90))
    assert again.policy_version == GH_30.version
    assert again.segments[Segment.GH.position].status == "met"


def test_without_a_the_earliest_stamp_known_picks_the_policy() -> None:
    events = order({Point.B: 11, Point.C: 12})  # B stamped after 08:10, no A
    assert began_at(events, minutes(90)) == minutes(11)
    assert judge(WO, events, BOOK, minutes(90)).policy_version == GH_30.version
    # A recorded only later does not count before then; once known, its stamp decides.
    call = event(Point.A, minutes(5), recorded=minutes(30))
    assert began_at([*events, call], minutes(20)) == minutes(11)
    assert judge(WO, [*events, call], BOOK, minutes(40)).policy_version == FIRST.version
    assert began_at([], minutes(20)) == minutes(20)


def test_the_standing_a_decides_not_a_later_one() -> None:
    events = order(shifted(SLOW_GH, 15))  # A at 08:15 under GH_30
    second_call = event(Point.A, minutes(1), recorded=minutes(60))
    assert judge(WO, [*events, second_call], BOOK, minutes(90)).policy_version == GH_30.version


def _write(folder: Path, name: str, policy: Policy) -> None:
    (folder / name).write_text(policy.model_dump_json(indent=2))


def test_the_loader_reads_every_version_of_a_folder(tmp_path: Path) -> None:
    _write(tmp_path, f"{FIRST.version}.json", FIRST)
    _write(tmp_path, f"{GH_30.version}.json", GH_30)
    (tmp_path / "README.md").write_text("not a policy")
    (tmp_path / "drafts").mkdir()
    _write(tmp_path / "drafts", "draft-x.json", FIRST.model_copy(update={"version": "draft-x"}))
    book = load_policy_book(tmp_path)
    assert [p.version for p in book.policies] == [FIRST.version, GH_30.version]


def test_the_loader_names_the_file_it_refuses(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no policy files"):
        load_policy_book(tmp_path)
    _write(tmp_path, "wrong-name.json", FIRST)
    with pytest.raises(PolicyFileError, match=r"wrong-name\.json: names version '2026-11-01'"):
        load_policy_book(tmp_path)
    (tmp_path / "wrong-name.json").unlink()
    (tmp_path / "broken.json").write_text('{"version": "broken"}')
    with pytest.raises(PolicyFileError, match=r"broken\.json: not a valid policy"):
        load_policy_book(tmp_path)
    (tmp_path / "broken.json").unlink()
    _write(tmp_path, "a.json", FIRST.model_copy(update={"version": "a"}))
    _write(tmp_path, "b.json", FIRST.model_copy(update={"version": "b"}))
    with pytest.raises(PolicyFileError, match="both take effect"):
        load_policy_book(tmp_path)


def test_the_parties_live_in_the_policy_too() -> None:
    # A version that puts FG on the repair center (say, its vehicles were all busy).
    assert DEFAULT_POLICY.parties[Segment.FG] is Responsible.CREW_REPAIR_STAFF
    moved = DEFAULT_POLICY.model_validate(
        {
            **DEFAULT_POLICY.model_dump(),
            "version": "fg-on-rc",
            "parties": {**DEFAULT_POLICY.parties, Segment.FG: Responsible.REPAIR_CENTER},
        }
    )
    late_g = {**SLOW_GH, Point.G: 20, Point.H: 46}  # FG took 13 minutes, A to H 46
    t = judge_under(WO, order(late_g), moved, minutes(90))
    assert t.segments[Segment.FG.position].responsible is Responsible.REPAIR_CENTER
    assert t.total.responsible == [Responsible.REPAIR_CENTER]


@pytest.mark.parametrize(
    ("parties", "why"),
    [
        pytest.param({Segment.AB: Responsible.CUSTOMER_SERVICE_CENTER}, "needs every segment"),
        pytest.param(
            {**DEFAULT_POLICY.parties, Segment.DE: Responsible.NETWORK},
            "only when an incident",
        ),
    ],
)
def test_a_policy_names_a_party_for_every_segment_and_never_the_network(
    parties: dict[Segment, Responsible], why: str
) -> None:
    with pytest.raises(ValidationError, match=why):
        DEFAULT_POLICY.model_validate({**DEFAULT_POLICY.model_dump(), "parties": parties})
