"""The versioned policy files, read at the edge into the pure ``PolicyBook`` (ADR 0009).

``policies/<version>.json`` at the repository root, one ``Policy`` each (its ``version`` equal
to the file's name, an ``effective_from`` instant). A file that does not parse, names another
version or repeats one stops the service at startup rather than judging by a guess.
"""

from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import Policy, PolicyBook

DEFAULT_POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"


class PolicySettings(BaseSettings):
    """Where the timeline service finds its policies (``POLICIES_DIR``)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    policies_dir: Path = Field(
        default=DEFAULT_POLICIES_DIR,
        description="Folder of <version>.json policy files; an order is judged under the one "
        "in force at its A.",
    )


class PolicyFileError(ValueError):
    """A policy file that cannot be used: which file, and why."""


def load_policy_book(folder: Path) -> PolicyBook:
    """Every ``*.json`` in ``folder`` as one ``PolicyBook``.

    Raises ``PolicyFileError`` naming the file for a file that is not a valid policy or whose
    version is not its name, and for a folder with no policy or with a repeated version or
    effective instant.
    """
    files = sorted(folder.glob("*.json"))
    if not files:
        raise PolicyFileError(f"no policy files (*.json) in {folder}")
    policies = []
    for path in files:
        try:
            policy = Policy.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as error:
            raise PolicyFileError(f"{path}: not a valid policy: {error}") from error
        if policy.version != path.stem:
            raise PolicyFileError(
                f"{path}: names version {policy.version!r}; a policy file is named for its "
                f"version ({policy.version}.json)"
            )
        policies.append(policy)
    try:
        return PolicyBook(policies)
    except ValueError as error:
        raise PolicyFileError(f"{folder}: {error}") from error


@cache
def _book_in(folder: Path) -> PolicyBook:
    return load_policy_book(folder)


def configured_book() -> PolicyBook:
    """The book in ``POLICIES_DIR`` (default ``<repo>/policies``), read once per process: the
    files are part of the release, not changed under a running service."""
    return _book_in(PolicySettings().policies_dir.resolve())
