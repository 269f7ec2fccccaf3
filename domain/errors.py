"""What the core refuses, and why; the HTTP shell maps each kind to a status code."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any


class DomainError(Exception):
    """A request the domain refuses; ``str(err)`` is the human reason."""


class NotFound(DomainError):
    """Names something that does not exist (an order, a vehicle): 404."""


class ImpossibleStep(DomainError):
    """Contradicts the order itself (e.g. a report from a vehicle the order was never sent to): 409."""


class AlreadyRecorded(ImpossibleStep):
    """A key already taken by another body (a call id, a unit's report id, a step of an order): 409.

    Only a true retry (the same body) is answered again; anything else under the same key would be
    lost if it were replayed, so it is refused with what the first body said. ``differs`` names the
    fields (dotted paths) that differ; ``first`` is the first body, JSON-ready, or ``None`` where it
    is personal (a caller's name and phone) and must not be echoed to whoever posts the key.
    """

    def __init__(
        self, message: str, differs: Sequence[str], first: Mapping[str, Any] | None
    ) -> None:
        super().__init__(message)
        self.differs = tuple(differs)
        self.first = first


class InvalidReference(DomainError):
    """The body names reference data that does not fit (an unknown crew): 422 at ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StampOutOfTolerance(DomainError):
    """A live system's stamp (A–D) lies too far from the instant we record it: 422 at ``field``."""

    def __init__(
        self,
        field: str,
        message: str,
        stamp: datetime,
        recorded_at: datetime,
        tolerance: timedelta,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.stamp = stamp
        self.recorded_at = recorded_at
        self.tolerance = tolerance
