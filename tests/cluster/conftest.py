from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.support import start_gateways
from tests.support import Server


@pytest.fixture(scope="module")
def gateways(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two gateways (2 workers each) on the module's PostgreSQL database and one data directory."""
    servers = start_gateways(tmp_path_factory.mktemp("cluster") / "data", pg_url, 2, workers=2)
    yield servers
    for server in servers:
        server.stop()
    for server in servers:
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def fresh_pg_url(pg_server: Any) -> str:
    """A new empty database for one test (its gateways get a new data directory, and so a new keyring)."""
    return str(pg_server.database(f"t_{uuid.uuid4().hex[:16]}"))
