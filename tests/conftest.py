from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Server, meta_backend, start_server, unique_bucket


# Black-box modules that run twice in the default suite: on SQLite and on a server whose metadata is
# in PostgreSQL (--meta-url, issue 19). With SEALBOX_TEST_META=postgres every server is on PostgreSQL.
PG_MODULES = frozenset({
    "tests.s3.test_objects", "tests.s3.test_multipart_upload", "tests.s3.test_complete_multipart_upload",
    "tests.s3.test_bucket_versioning", "tests.s3.test_list_object_versions", "tests.s3.test_list_objects",
    "tests.s3.test_conditional_writes", "tests.s3.test_conditional_deletes", "tests.s3.test_sse_kms",
    "tests.s3.test_kms_api", "tests.s3.test_delete_markers", "tests.s3.test_inline_objects",
    "tests.s3.test_concurrent_writes", "tests.s3.test_object_tagging", "tests.s3.test_server_side_encryption",
})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" in metafunc.fixturenames and metafunc.module.__name__ in PG_MODULES \
            and meta_backend() == "sqlite" and not os.environ.get(GATEWAYS_ENV):
        metafunc.parametrize("server", ["sqlite", "postgres"], indirect=True, scope="session")


GATEWAYS_ENV = "SEALBOX_TEST_GATEWAYS"  # N: the black-box suite runs against N gateways on PostgreSQL


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    """One real sealbox process (2 workers, plain HTTP + an HTTPS listener) shared by the black-box tests;
    one more on PostgreSQL for the modules in PG_MODULES.

    With SEALBOX_TEST_GATEWAYS=N: N gateways on one PostgreSQL database and one data directory
    (tests/cluster/test_s3_suite_on_gateways.py), the first one's ``client()`` spreading its requests
    over all of them; raw-HTTP tests talk to the first."""
    gateways = int(os.environ.get(GATEWAYS_ENV, "0") or 0)
    data_dir = tmp_path_factory.mktemp("sealbox") / "data"
    if gateways:
        from tests import pg_support
        from tests.cluster.support import start_gateways

        url = pg_support.shared_server().database("s3_suite")
        servers = start_gateways(data_dir, url, gateways, workers=1, tls_first=True)
        servers[0].extra["spread"] = servers
    else:
        servers = [start_server(data_dir, workers=2, tls=True, meta=getattr(request, "param", meta_backend()))]
    yield servers[0]
    for srv in servers:
        srv.stop()
    for srv in servers:
        assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture
def s3(server: Server):  # type: ignore[no-untyped-def]
    return server.client()


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _keep_core_dumps_of_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sealbox.cli.main.main`` forbids core dumps of the process it runs in (issue #13, item 8).
    Tests that call it in-process would lower pytest's own hard RLIMIT_CORE for good, and the
    black-box core-dump tests started later could then never show a difference (they skipped)."""
    import sealbox.cli.main as cli

    monkeypatch.setattr(cli, "forbid_core_dumps", lambda: None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The session's one headless Chromium (Debian's), shared by the console and the CORS tests:
    Playwright's sync API keeps an event loop running in this thread, so a second sync_playwright()
    in the same session fails ("using Playwright Sync API inside the asyncio loop")."""
    from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/install-console-test-deps.sh (or make install-test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the PostgreSQL server of tests/pg_support.py (by its PID) if a test started it."""
    from tests import pg_support

    pg_support.stop_shared()


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """The session's real PostgreSQL server (tests/pg_support.py), started on first use."""
    from tests import pg_support

    return pg_support.shared_server()


@pytest.fixture(scope="module")
def pg_url(pg_server: Any, request: pytest.FixtureRequest) -> str:
    """A database of its own for this test module, on the session's PostgreSQL server."""
    return str(pg_server.database("m_" + request.module.__name__.replace(".", "_")[-50:]))
