"""What the core refuses, and why; the HTTP shell maps each kind to a status code."""


class DomainError(Exception):
    """A request the domain refuses; ``str(err)`` is the human reason."""


class NotFound(DomainError):
    """Names something that does not exist (an order, a vehicle): 404."""


class ImpossibleStep(DomainError):
    """Contradicts the order itself (e.g. a report from a vehicle the order was never sent to): 409."""


class InvalidReference(DomainError):
    """The body names reference data that does not fit (an unknown crew): 422 at ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
