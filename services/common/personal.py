"""Personal data: the caller's name and phone, and where they live, kept out of answers.

Only the phone system, which took the call, sees a caller's identity (``domain.access``:
``SEE_PERSONAL_DATA``). Every other answer that carries a ``CallEnded`` body gets it with the
caller's identity replaced by ``REDACTED``; the order's facts (when, what fault, where on the
map) stay.
"""

from typing import Any

REDACTED = "[redacted]"
PERSONAL_FIELDS = ("caller", "address")
"""Fields of a ``CallEnded`` payload that say who called and where they live."""


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """An event body with the caller's identity taken out (other events unchanged)."""
    if body.get("event_type") != "CallEnded" or not isinstance(body.get("payload"), dict):
        return body
    payload = dict(body["payload"])
    for name in PERSONAL_FIELDS:
        if payload.get(name) is not None:
            payload[name] = REDACTED
    return {**body, "payload": payload}
