"""Operator commands (``python -m tools.<name>``) for the local stack."""
