"""Bearer tokens for the simulator's requests, from a JSON file in the shape ``make up`` writes
(``tools.tokens dev``): ``{"phone_system": …, "auditor": …, "admin": …,
"dispatcher": {"<repair_center_id>": …}, "devices": {"<vehicle_id>": …}}``."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TOKENS = Path(".local/dev-tokens.json")


@dataclass(frozen=True)
class Tokens:
    phone_system: str | None = None
    auditor: str | None = None
    admin: str | None = None
    dispatcher: dict[str, str] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "Tokens":
        return cls(
            phone_system=doc.get("phone_system"),
            auditor=doc.get("auditor"),
            admin=doc.get("admin"),
            dispatcher=dict(doc.get("dispatcher") or {}),
            devices=dict(doc.get("devices") or {}),
        )

    def document(self) -> dict[str, Any]:
        """The file's shape (for writing one)."""
        return {
            "phone_system": self.phone_system,
            "auditor": self.auditor,
            "admin": self.admin,
            "dispatcher": self.dispatcher,
            "devices": self.devices,
        }


NO_TOKENS = Tokens()


def load_tokens(path: Path | None) -> Tokens:
    """The tokens in ``path``; with ``None``, ``.local/dev-tokens.json`` if it exists, else none
    (requests then go without ``Authorization``)."""
    if path is None:
        if not DEFAULT_TOKENS.exists():
            return NO_TOKENS
        path = DEFAULT_TOKENS
    return Tokens.from_document(json.loads(path.read_text()))


def bearer(token: str | None) -> dict[str, str]:
    """The header for ``token`` (none without one)."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}
