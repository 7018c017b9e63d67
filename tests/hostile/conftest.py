from __future__ import annotations

from typing import Any

import pytest

from tests.support import Server, unique_bucket


def assert_serving(server: Server) -> None:
    """The server survived: its process lives and an ordinary request succeeds."""
    assert server.alive(), server.log()[-3000:]
    s3: Any = server.client()
    assert "Buckets" in s3.list_buckets()


@pytest.fixture
def hostile_bucket(server: Server) -> str:
    name = unique_bucket("hostile")
    s3: Any = server.client()
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def no_traceback(request: pytest.FixtureRequest) -> Any:
    """Hostile input must end in an S3 error, never in an unhandled exception in the server log."""
    if "server" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("server")
    before = len(server.log())
    yield
    new = server.log()[before:]
    assert "Traceback" not in new, new
