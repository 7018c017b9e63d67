"""Console tests: a real sealbox process with its console port, driven by Debian's headless Chromium.

Playwright for Python drives /usr/bin/chromium (installed by scripts/install-console-test-deps.sh);
Playwright's own browser download is never used. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import ROOT, Server, free_port, meta_backend, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Console:
    server: Server
    url: str

    def s3(self) -> Any:
        return self.server.client()


def start_console_server(data_dir: Path, *args: str, **kwargs: Any) -> Console:
    server = start_server(data_dir, "--console-port", str(free_port()), *args, **kwargs)
    port = server.extra["ports"]["console"]  # type: ignore[index]
    scheme = "https" if kwargs.get("tls") else "http"  # the console shares the TLS certificate
    return Console(server, f"{scheme}://127.0.0.1:{port}")


# Console modules that also run against a server whose metadata and console state (jobs, sign-outs,
# sign-in failures) are in PostgreSQL (--meta-url, issue 19).
PG_CONSOLE_MODULES = frozenset({"tests.console.test_console_bulk_encryption", "tests.console.test_console_bucket_delete",
                                "tests.console.test_console_sessions"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "console" in metafunc.fixturenames and metafunc.module.__name__ in PG_CONSOLE_MODULES \
            and meta_backend() == "sqlite":
        metafunc.parametrize("console", ["sqlite", "postgres"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Console]:
    """One sealbox with the console on, two workers (so sessions and jobs must cross processes)."""
    meta = getattr(request, "param", meta_backend())
    c = start_console_server(tmp_path_factory.mktemp("console") / "data", workers=2, meta=meta)
    yield c
    c.server.stop()
    assert "Traceback" not in c.server.log(), c.server.log()


# The session's one headless Chromium is tests/conftest.py's ``browser`` fixture.


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(20_000)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    # An error status the test asked for (401, 403, 404) is logged as "Failed to load resource": not a fault.
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
         and not msg.text.startswith("Failed to load resource") else None)
    yield p
    context.close()
    assert not errors, f"browser reported errors: {errors}"


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, console: Console, access_key: str | None = None, secret: str | None = None) -> None:
    page.goto(console.url + "/")
    page.get_by_label("Access key").fill(access_key or console.server.access_key)
    page.get_by_label("Secret key").fill(secret or console.server.secret_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/buckets"))


def http_session(console: Console, access_key: str | None = None,
                 secret: str | None = None) -> tuple[requests.Session, str]:
    """A signed-in ``requests`` session (for checks a browser would not make) and its CSRF token;
    root's unless another access key is given."""
    s = requests.Session()
    form = s.get(console.url + "/signin", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = s.post(console.url + "/signin", data={"csrf": token.group(1),
                                              "access_key": access_key or console.server.access_key,
                                              "secret_key": secret or console.server.secret_key, "next": "/buckets"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    page = s.get(console.url + "/buckets", timeout=30)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return s, found.group(1)
