"""Session fixtures for the tiers that need real services; unit tests request none of them."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.desk import Desk
from tests.support.infra import Infra, real_infra
from tests.support.keys import HARNESS_AUTH
from tests.support.system import System, running_system


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with real_infra() as found:
        yield found


@pytest.fixture(scope="session")
def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs: Path = tmp_path_factory.mktemp("service-logs")
    with running_system(infra, logs) as started:
        yield started


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    # Each request gets the token its real caller would hold (tests.support.keys).
    with httpx.Client(auth=HARNESS_AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def desk(system: System, http: httpx.Client) -> Desk:
    return Desk(system, http)
