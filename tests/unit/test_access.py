"""The role table and the scope checks, exhaustively: every role against every ability."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts.access import Role, TokenIssuedPayload
from domain.access import (
    ABILITIES,
    DEFAULT_READ,
    DEFAULT_WRITE,
    Ability,
    Forbidden,
    Principal,
    may,
    require,
    require_center,
    require_vehicle,
    sees_personal_data,
)
from services.common.consumer import without_input
from services.common.personal import REDACTED, redacted
from services.common.tokens import new_token, token_hash, token_id_of

EXPIRES = datetime(2027, 1, 1, tzinfo=UTC)
EXPECTED: dict[Ability, set[Role]] = {
    Ability.RECORD_CALLS: {Role.PHONE_SYSTEM},
    Ability.READ_INTAKE: {Role.PHONE_SYSTEM, Role.AUDITOR, Role.ADMIN},
    Ability.ACT_ON_ORDERS: {Role.DISPATCHER},
    Ability.MANAGE_VEHICLES: {Role.DISPATCHER},
    Ability.ANSWER_ESCALATIONS: {Role.DISPATCHER},
    Ability.REPORT_FROM_UNIT: {Role.DEVICE},
    Ability.READ_DISPATCH: {Role.DISPATCHER, Role.DEVICE, Role.AUDITOR, Role.ADMIN},
    Ability.DEFINE_REFERENCE: {Role.ADMIN},
    Ability.RECORD_INCIDENTS: {Role.ADMIN, Role.MONITORING},
    Ability.READ_ALL: {Role.AUDITOR, Role.ADMIN},
    Ability.ADMINISTER: {Role.ADMIN},
    Ability.BACKDATE_INCIDENTS: {Role.ADMIN},
    Ability.SEE_PERSONAL_DATA: {Role.PHONE_SYSTEM},
    Ability.IDENTIFY: set(Role),
    Ability.READ_METRICS: {Role.MONITORING, Role.ADMIN},
}
WRITES = {
    Ability.RECORD_CALLS,
    Ability.ACT_ON_ORDERS,
    Ability.MANAGE_VEHICLES,
    Ability.ANSWER_ESCALATIONS,
    Ability.REPORT_FROM_UNIT,
    Ability.DEFINE_REFERENCE,
    Ability.RECORD_INCIDENTS,
    Ability.ADMINISTER,
    Ability.BACKDATE_INCIDENTS,
}


def principal(role: Role, center: str | None = None, vehicle: str | None = None) -> Principal:
    return Principal("abcdefabcdef", role, EXPIRES, center, vehicle)


def test_every_ability_is_in_the_table() -> None:
    assert set(ABILITIES) == set(Ability) == set(EXPECTED)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("ability", list(Ability), ids=str)
def test_the_role_table_cell_by_cell(role: Role, ability: Ability) -> None:
    assert may(role, ability) is (role in EXPECTED[ability])
    if role in EXPECTED[ability]:
        assert require(principal(role), ability, what="x") is ability
    else:
        with pytest.raises(Forbidden, match=f"role '{role.value}' may not x; allowed: "):
            require(principal(role), ability, what="x")


def test_the_auditor_writes_nothing_and_reads_everything() -> None:
    assert not any(may(Role.AUDITOR, a) for a in WRITES)
    assert all(may(Role.AUDITOR, a) for a in (Ability.READ_ALL, Ability.READ_DISPATCH))


def test_undeclared_routes_default_to_reading_for_auditors_and_writing_for_admins() -> None:
    assert ABILITIES[DEFAULT_READ] == {Role.AUDITOR, Role.ADMIN}
    assert ABILITIES[DEFAULT_WRITE] == {Role.ADMIN}


def test_require_names_the_first_ability_held_and_lists_who_may() -> None:
    admin = principal(Role.ADMIN)
    assert require(admin, Ability.ACT_ON_ORDERS, Ability.READ_ALL, what="x") is Ability.READ_ALL
    with pytest.raises(Forbidden, match="allowed: admin, monitoring"):
        require(principal(Role.DEVICE, vehicle="v"), Ability.RECORD_INCIDENTS, what="x")


def test_a_dispatcher_acts_only_on_its_own_repair_center() -> None:
    own = principal(Role.DISPATCHER, center="rc-1")
    require_center(own, "rc-1", "take in an order")
    with pytest.raises(Forbidden, match="repair center 'rc-1' may not take in an order of 'rc-2'"):
        require_center(own, "rc-2", "take in an order")
    with pytest.raises(Forbidden, match="of no repair center"):
        require_center(own, None, "read")
    for role in (Role.AUDITOR, Role.ADMIN, Role.PHONE_SYSTEM, Role.MONITORING):
        require_center(principal(role), "rc-2", "read")  # the role table decided for them
    with pytest.raises(Forbidden, match="a device token may not"):
        require_center(principal(Role.DEVICE, vehicle="v-1"), "rc-1", "read")


def test_a_device_speaks_only_for_its_own_vehicle() -> None:
    unit = principal(Role.DEVICE, vehicle="v-1")
    require_vehicle(unit, "v-1", "post reports")
    with pytest.raises(Forbidden, match="vehicle 'v-1' may not post reports of vehicle 'v-2'"):
        require_vehicle(unit, "v-2", "post reports")
    require_vehicle(principal(Role.DISPATCHER, center="rc"), "v-2", "read")  # center-scoped


def test_only_the_phone_system_sees_personal_data() -> None:
    assert [r for r in Role if sees_personal_data(principal(r))] == [Role.PHONE_SYSTEM]


def test_a_token_has_a_public_id_and_only_its_hash_is_kept() -> None:
    token_id, token = new_token()
    assert token_id_of(token) == token_id
    assert token.startswith(f"rd_{token_id}_")
    assert len(token_hash(token)) == 64
    assert token not in token_hash(token)
    assert new_token()[1] != token
    for bad in ("", "rd_x_y", token + "x", token.replace("rd_", "xx_"), "Bearer " + token):
        assert token_id_of(bad) is None


@pytest.mark.parametrize(
    ("role", "center", "vehicle", "ok"),
    [
        (Role.DISPATCHER, "rc", None, True),
        (Role.DISPATCHER, None, None, False),
        (Role.DISPATCHER, "rc", "v", False),
        (Role.DEVICE, None, "v", True),
        (Role.DEVICE, None, None, False),
        (Role.AUDITOR, None, None, True),
        (Role.AUDITOR, "rc", None, False),
        (Role.ADMIN, None, "v", False),
    ],
)
def test_an_issued_tokens_scope_fits_its_role(
    role: Role, center: str | None, vehicle: str | None, ok: bool
) -> None:
    body = {
        "token_id": "abcdefabcdef",
        "token_hash": "0" * 64,
        "role": role,
        "repair_center_id": center,
        "vehicle_id": vehicle,
        "expires_at": EXPIRES,
        "issued_by": "ops",
    }
    if ok:
        TokenIssuedPayload.model_validate(body)
    else:
        with pytest.raises(ValueError, match="required for a"):
            TokenIssuedPayload.model_validate(body)


def test_a_calls_body_loses_the_callers_identity_other_bodies_are_unchanged() -> None:
    call: dict[str, Any] = {
        "event_type": "CallEnded",
        "payload": {"caller": {"name": "Li Na"}, "address": "12 Dongsi", "call_id": "c-1"},
    }
    out = redacted(call)
    assert out["payload"] == {"caller": REDACTED, "address": REDACTED, "call_id": "c-1"}
    assert call["payload"]["caller"] == {"name": "Li Na"}  # not changed in place
    other = {"event_type": "WorkOrderIssued", "payload": {"address": "x"}}
    assert redacted(other) is other


def test_a_dead_letter_reason_names_the_field_not_its_value() -> None:
    with pytest.raises(ValidationError) as caught:
        TokenIssuedPayload.model_validate({"token_id": "Li Na +86 10 8888 0000"})
    err = caught.value
    assert "Li Na" in str(err)  # pydantic's own message echoes the input...
    reason = without_input(err)
    assert "token_id" in reason
    assert "Li Na" not in reason
    assert "8888" not in reason


def test_the_dev_tokens_file_has_the_pinned_shape(tmp_path: Path) -> None:
    from tools.tokens import Grant, Issued, dev_grants, write_dev_tokens

    seed: dict[str, Any] = {
        "repair_centers": {"rc-a": {}, "rc-b": {}},
        "vehicles": {"v-1": {}, "v-2": {}},
    }
    grants = dev_grants(seed)
    issued = [Issued(f"id{i:010d}", f"token-{i}", g) for i, g in enumerate(grants)]
    path = tmp_path / ".local" / "dev-tokens.json"
    write_dev_tokens(path, issued)
    doc = json.loads(path.read_text())
    assert set(doc) == {"phone_system", "auditor", "admin", "dispatcher", "devices"}
    assert all(isinstance(doc[k], str) for k in ("phone_system", "auditor", "admin"))
    assert set(doc["dispatcher"]) == {"rc-a", "rc-b"}
    assert set(doc["devices"]) == {"v-1", "v-2"}
    by_token = {i.token: i.grant for i in issued}
    assert by_token[doc["dispatcher"]["rc-b"]] == Grant(Role.DISPATCHER, repair_center_id="rc-b")
    assert by_token[doc["devices"]["v-1"]] == Grant(Role.DEVICE, vehicle_id="v-1")
    assert by_token[doc["admin"]].role is Role.ADMIN
    assert path.stat().st_mode & 0o077 == 0  # the owner's only


async def test_every_service_consumes_tokens_beside_its_own_subscription_kept_whole() -> None:
    from contracts.access import TokenRevoked, TokenRevokedPayload
    from contracts.topics import ACCESS, WORK_ORDERS
    from services.common.consumer import Consumed, Consumes, Subscription
    from services.common.runtime import _with_access

    seen: list[str] = []

    async def apply_at(conn: Any, event: Any, where: Consumed) -> None:
        seen.append(event.event_type)

    own = Subscription(wants=lambda e: False, apply_at=apply_at, keeps=lambda e: False)
    wrapped = _with_access(Consumes("timeline", (WORK_ORDERS,), own))
    assert wrapped.group_id == "timeline"
    assert wrapped.topics == (WORK_ORDERS, ACCESS)
    revoked = TokenRevoked(
        occurred_at=EXPIRES,
        recorded_at=EXPIRES,
        source="t",
        correlation_id=uuid4(),
        payload=TokenRevokedPayload(token_id="abcdefabcdef", revoked_by="t"),
    )
    sub = wrapped.subscription
    assert sub.wants(revoked)
    assert sub.keeps(revoked)
    assert sub.apply_at is not None
    assert sub.apply is not None
    await sub.apply_at(None, revoked, Consumed("t", 0, 0))  # type: ignore[arg-type]
    assert seen == []  # token events are the access table's, not the service's handler
