"""Console sign-in: ``next`` may only be a path on this console; failed sign-ins back off per
client address and per access key, across worker processes; every attempt is an audit line.

Attempts come from different loopback addresses (127.0.0.2, .3, ...: Linux routes all of 127/8
to lo), each on a fresh connection, so they land on both workers of the server.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.console.conftest import Console, start_console_server
from tests.support import SEALBOX

FIRST_BLOCK = 5  # seconds the 5th failure in a row blocks (sealbox.console.throttle)


@dataclass
class Reply:
    status: int
    location: str | None
    retry_after: str | None
    text: str


def attempt(c: Console, access_key: str, secret: str, source: str = "127.0.0.1", next_path: str = "/buckets",
            user_agent: str = "limits-test") -> Reply:
    """GET the sign-in form and POST it, each on its own connection from ``source``."""
    port = int(urllib.parse.urlsplit(c.url).port or 0)

    def request(method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        conn.request(method, path, body=body, headers={"Connection": "close", "User-Agent": user_agent,
                                                       **(headers or {})})
        return conn.getresponse()

    form = request("GET", "/signin")
    page = form.read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    presession = next(v.split(";")[0] for v in form.headers.get_all("set-cookie") or []
                      if v.startswith("sealbox_presession="))
    body = urllib.parse.urlencode({"csrf": token.group(1), "access_key": access_key, "secret_key": secret,
                                   "next": next_path})
    reply = request("POST", "/signin", body, {"Cookie": presession,
                                               "Content-Type": "application/x-www-form-urlencoded"})
    return Reply(reply.status, reply.getheader("location"), reply.getheader("retry-after"), reply.read().decode())


def add_user(data_dir: Path, name: str) -> dict[str, str]:
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(out.stdout))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Console, dict[str, str]]]:
    """A console of its own (its sign-in counts must not touch the shared one), 2 workers, and alice."""
    data_dir = tmp_path_factory.mktemp("signin-limits") / "data"
    c = start_console_server(data_dir, workers=2)
    yield c, add_user(data_dir, "alice")
    c.server.stop()
    assert "Traceback" not in c.server.log(), c.server.log()


HOSTILE_NEXT = ["/\t/evil.example", "/\t\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example",
                "//evil.example", "///evil.example", "/\\evil.example", "/\\/evil.example", "/x\\..\\..\\evil",
                "https://evil.example/", "javascript:alert(1)", "evil.example", "/\x00/evil.example",
                "/\x7f/evil.example", "/ /evil.example", "/\u3000/evil.example", ""]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_next_other_than_a_console_path_goes_home(limited: tuple[Console, dict[str, str]], value: str) -> None:
    c, _ = limited
    reply = attempt(c, c.server.access_key, c.server.secret_key, next_path=value)
    assert reply.status == 303 and reply.location == "/buckets", (value, reply.location)


def test_next_as_a_console_path_is_kept(limited: tuple[Console, dict[str, str]]) -> None:
    c, _ = limited
    for value in ("/buckets/photos?prefix=2024%2F&find=a%20b", "/jobs/0123abcd", "/buckets/x/object?key=%2F%2Fa"):
        reply = attempt(c, c.server.access_key, c.server.secret_key, next_path=value)
        assert reply.status == 303 and reply.location == value
    # The form shows the same choice before sign-in.
    port = int(urllib.parse.urlsplit(c.url).port or 0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/signin?next=" + urllib.parse.quote("/\t/evil.example"))
    assert 'name="next" value="/buckets"' in conn.getresponse().read().decode()


def test_failed_sign_ins_back_off_per_address_and_per_key(limited: tuple[Console, dict[str, str]]) -> None:
    c, alice = limited
    root_key, root_secret = c.server.access_key, c.server.secret_key
    for i in range(FIRST_BLOCK):  # four free failures; the fifth blocks address .2 and root's key
        reply = attempt(c, root_key, f"wrong-guess-{i}", source="127.0.0.2")
        assert reply.status == 401, (i, reply.status)
    blocked_at = time.monotonic()
    # Even the right secret is not checked now: from the same address, or for the same key elsewhere.
    reply = attempt(c, root_key, root_secret, source="127.0.0.2")
    assert reply.status == 429 and reply.retry_after is not None and 1 <= int(reply.retry_after) <= FIRST_BLOCK
    assert re.search(r"Too many failed sign-ins; try again in \d+ seconds?", reply.text)
    assert attempt(c, root_key, root_secret, source="127.0.0.3").status == 429  # per key
    assert attempt(c, alice["access_key"], alice["secret_key"], source="127.0.0.2").status == 429  # per address
    assert attempt(c, alice["access_key"], alice["secret_key"], source="127.0.0.4").status == 303  # neither
    assert time.monotonic() - blocked_at < FIRST_BLOCK, "too slow to observe the block"
    time.sleep(max(0.0, FIRST_BLOCK + 0.3 - (time.monotonic() - blocked_at)))
    # The block is over. Root signs in from .3: that clears root's key (and address .3).
    assert attempt(c, root_key, root_secret, source="127.0.0.3").status == 303
    assert attempt(c, root_key, "one-more-typo", source="127.0.0.5").status == 401
    assert attempt(c, root_key, root_secret, source="127.0.0.5").status == 303  # the key's count starts over
    # Address .2 was not cleared: its next failure (the 6th) blocks it twice as long.
    assert attempt(c, alice["access_key"], "wrong", source="127.0.0.2").status == 401
    reply = attempt(c, alice["access_key"], alice["secret_key"], source="127.0.0.2")
    assert reply.status == 429 and reply.retry_after is not None
    assert FIRST_BLOCK < int(reply.retry_after) <= 2 * FIRST_BLOCK
    assert f"console sign-in throttled: access_key='{root_key}' client=127.0.0.3" in c.server.log()


def test_every_sign_in_is_logged_without_the_secret(limited: tuple[Console, dict[str, str]]) -> None:
    c, alice = limited
    typo = "Secret-Typed-Into-The-Key-Field-0123456789"
    attempt(c, alice["access_key"], alice["secret_key"], source="127.0.0.6")
    attempt(c, alice["access_key"], "not-her-secret-0123", source="127.0.0.6")
    attempt(c, typo, "whatever-secret-4567", source="127.0.0.6")
    log = c.server.log()
    lines = [line for line in log.splitlines() if "sealbox.audit" in line and "client=127.0.0.6" in line]
    assert len(lines) == 3, lines
    assert f"console sign-in success: access_key='{alice['access_key']}'" in lines[0]
    assert f"console sign-in failure: access_key='{alice['access_key']}'" in lines[1]
    assert "console sign-in failure: access_key='unknown:" in lines[2]
    for secret in (alice["secret_key"], c.server.secret_key, "not-her-secret-0123", "whatever-secret-4567", typo):
        assert secret not in log


def test_the_counts_live_in_the_console_store(limited: tuple[Console, dict[str, str]]) -> None:
    """Shared by every worker, and holding no access key in the clear."""
    import sqlite3

    from tests.meta_support import meta_sql, meta_url

    c, _ = limited
    data_dir = Path(c.server.data_dir)
    if meta_url(data_dir) is not None:  # --meta-url: the console's tables are in PostgreSQL
        subjects = [row[0] for row in meta_sql(data_dir, "SELECT subject FROM signin_failures")]
    else:
        db = sqlite3.connect(data_dir / "console.sqlite3")
        try:
            subjects = [row[0] for row in db.execute("SELECT subject FROM signin_failures")]
        finally:
            db.close()
    assert subjects and all(re.fullmatch(r"ip:127\.0\.0\.\d+|key:[0-9a-f]{32}", s) for s in subjects), subjects


def test_parallel_guesses_do_not_slip_past_the_back_off(limited: tuple[Console, dict[str, str]]) -> None:
    """24 wrong secrets for one key at once, from one address, over both workers: at most five are
    checked (how many of those five happen depends on timing: refused attempts are not queued)."""
    c, _ = limited
    bob = add_user(Path(c.server.data_dir), "bob")
    with ThreadPoolExecutor(24) as pool:
        replies = list(pool.map(lambda i: attempt(c, bob["access_key"], f"guess-{i}", source="127.0.0.7"),
                                range(24)))
    statuses = sorted(r.status for r in replies)
    assert set(statuses) <= {401, 429} and 1 <= statuses.count(401) <= 5, statuses


def test_many_people_behind_one_address_sign_in_at_once(limited: tuple[Console, dict[str, str]]) -> None:
    c, _ = limited
    carol = add_user(Path(c.server.data_dir), "carol")
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: attempt(c, carol["access_key"], carol["secret_key"], source="127.0.0.8"),
                                range(16)))
    assert [r.status for r in replies] == [303] * 16
