"""Access tokens as events: issued and revoked, never carrying the token itself.

A token is ``rd_<token_id>_<secret>``; only the SHA-256 of the whole token travels and is
kept, so a copy of the topic, of a service's database or of a dead letter grants nothing.
Every service consumes these into its own table and checks a bearer against it. Keyed by the
token id, so a token's revocation follows its issue on one partition.
"""

from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from contracts.envelope import Contract, Envelope, Identifier, Text
from contracts.topics import ACCESS


class Role(StrEnum):
    """Who a token speaks for. The table of what each may do is ``domain.access``."""

    PHONE_SYSTEM = "phone_system"
    DISPATCHER = "dispatcher"
    DEVICE = "device"
    AUDITOR = "auditor"
    ADMIN = "admin"
    MONITORING = "monitoring"


TokenId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{12}$")]
TokenHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class TokenIssuedPayload(Contract):
    token_id: TokenId
    token_hash: TokenHash = Field(description="sha256 hex of the whole token; never the token.")
    role: Role
    repair_center_id: Identifier | None = Field(
        default=None, description="A dispatcher's repair center (required for that role)."
    )
    vehicle_id: Identifier | None = Field(
        default=None, description="A device's vehicle (required for that role)."
    )
    expires_at: AwareDatetime
    issued_by: Identifier
    note: Text | None = None

    @model_validator(mode="after")
    def _scope_fits_role(self) -> Self:
        wants_center = self.role is Role.DISPATCHER
        wants_vehicle = self.role is Role.DEVICE
        if wants_center != (self.repair_center_id is not None):
            raise ValueError("repair_center_id is required for a dispatcher, and only for one")
        if wants_vehicle != (self.vehicle_id is not None):
            raise ValueError("vehicle_id is required for a device, and only for one")
        return self


class TokenRevokedPayload(Contract):
    token_id: TokenId
    revoked_by: Identifier
    reason: Text | None = None


class AccessEvent(Envelope):
    topic: ClassVar[str] = ACCESS.name

    @property
    def partition_key(self) -> str:
        payload = self.payload
        assert isinstance(payload, TokenIssuedPayload | TokenRevokedPayload)
        return payload.token_id


class TokenIssued(AccessEvent):
    """A token was issued: its hash, role, scope and expiry, and who issued it."""

    event_type: Literal["TokenIssued"] = "TokenIssued"
    schema_version: Literal[1] = 1
    payload: TokenIssuedPayload


class TokenRevoked(AccessEvent):
    """A token was revoked: every service refuses it from the moment it consumes this."""

    event_type: Literal["TokenRevoked"] = "TokenRevoked"
    schema_version: Literal[1] = 1
    payload: TokenRevokedPayload
