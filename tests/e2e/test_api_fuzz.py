"""Schemathesis against each service's OpenAPI: hostile and random input never gets a 5xx, and
every answer is one the OpenAPI documents, in the documented shape.

Run with an admin token (it may do most) and with an auditor's (it may read everything and
write nothing), a bounded number of examples per operation so that the whole stays within a
minute or two; ``FUZZ_EXAMPLES`` raises it for a longer run.
"""

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.infra import Infra
from tests.support.system import System, started_stack

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@contextmanager
def _database_url_for_the_factory() -> Iterator[None]:
    # The factories read their settings from the environment; the OpenAPI is made without
    # connecting anywhere, so any URL will do while it is.
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = "postgresql://openapi-only/none"
    try:
        yield
    finally:
        if before is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = before


def _schema(service: str) -> Any:
    """The service's OpenAPI as its app describes itself (the same document /openapi.json
    serves); the cases are sent to the running service."""
    factory = importlib.import_module(f"services.{service}.app").create_app
    with _database_url_for_the_factory():
        return schemathesis.openapi.from_dict(factory().openapi())


intake = _schema("intake")
dispatch = _schema("dispatch")
timeline = _schema("timeline")


@pytest.fixture(scope="module")
def fuzzed(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Services of their own: the fuzz defines random reference data (routing rules that match
    anything, say) that must not leak into the other tests' system."""
    with started_stack(infra, tmp_path_factory.mktemp("fuzz-logs"), label="fuzz") as stack:
        yield stack.system


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def _call(case: Any, system: System, service: str) -> None:
    """The same case as an admin and as an auditor (refused, for a write, with a 403)."""
    for token in (system.keys.admin, system.keys.auditor):
        case.call_and_validate(
            base_url=system.urls[service],
            headers={"Authorization": f"Bearer {token}"},
            checks=CHECKS,
            timeout=10,
        )


@intake.parametrize()  # type: ignore[untyped-decorator]
@FUZZ
def test_intake_answers_as_documented(case: Any, fuzzed: System) -> None:
    _call(case, fuzzed, "intake")


@dispatch.parametrize()  # type: ignore[untyped-decorator]
@FUZZ
def test_dispatch_answers_as_documented(case: Any, fuzzed: System) -> None:
    _call(case, fuzzed, "dispatch")


@timeline.parametrize()  # type: ignore[untyped-decorator]
@FUZZ
def test_timeline_answers_as_documented(case: Any, fuzzed: System) -> None:
    _call(case, fuzzed, "timeline")
