"""The console store's schema 2 (job contexts, failed sign-ins), the job context's round trip, the
back-off schedule and the ``next`` rule of console sign-in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sealbox.console import throttle
from sealbox.console.policy_context import browser_headers, context_from_json, context_to_json
from sealbox.console.store import SCHEMA_VERSION, ConsoleStore
from sealbox.console.views.auth import safe_next
from sealbox.service.policy import RequestContext

SCHEMA_1_JOBS = """CREATE TABLE jobs (id TEXT PRIMARY KEY, principal TEXT NOT NULL, access_key TEXT NOT NULL,
    bucket TEXT NOT NULL, action TEXT NOT NULL, selection TEXT NOT NULL, state TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0, succeeded INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, error TEXT, created REAL NOT NULL, heartbeat REAL NOT NULL,
    worker_pid INTEGER NOT NULL DEFAULT 0)"""


def test_a_schema_1_store_is_upgraded_and_its_jobs_have_no_context(tmp_path: Path) -> None:
    path = tmp_path / "console.sqlite3"
    db = sqlite3.connect(path)
    db.execute(SCHEMA_1_JOBS)
    db.execute("INSERT INTO jobs (id, principal, access_key, bucket, action, selection, state, created,"
               " heartbeat) VALUES ('old', 'root', 'AK', 'b', 'delete', '{\"keys\": [\"k\"], \"prefixes\": []}',"
               " 'running', 1, 1)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = ConsoleStore(path)
    old = store.get_job("old")
    assert old is not None and old.context is None  # the runner fails it rather than act without one
    store.create_job("new", "root", "AK", "b", "delete", ["k"], [], context_to_json(RequestContext(source_ip="1.2.3.4")))
    new = store.get_job("new")
    assert new is not None and new.context is not None
    assert context_from_json(new.context).source_ip == "1.2.3.4"
    assert store.admit_signin(["ip:x"], 100.0, throttle.RULES).admitted
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    db.close()


def test_the_job_context_keeps_what_conditions_test_and_no_secrets() -> None:
    headers = browser_headers({"user-agent": "Firefox/1", "referer": "https://console/x", "cookie": "sealbox_session=s",
                               "x-csrf-token": "t", "authorization": "AWS4-HMAC-SHA256 ...",
                               "x-amz-server-side-encryption": "AES256", "host": "console:9001"})
    assert headers == {"user-agent": "Firefox/1", "referer": "https://console/x", "host": "console:9001"}
    ctx = RequestContext(secure=True, source_ip="2001:db8::1", headers={**headers, "x-pad": "p" * 60_000},
                         bucket="b", key="k", query={"prefix": "p"})
    back = context_from_json(context_to_json(ctx))
    assert (back.secure, back.source_ip, dict(back.headers)) == (True, "2001:db8::1", dict(ctx.headers))
    assert (back.bucket, back.key, dict(back.query)) == (None, None, {})  # aimed again item by item


def test_the_back_off_schedule() -> None:
    assert [throttle.delay_for(n) for n in range(1, 9)] == [0, 0, 0, 0, 5, 10, 20, 40]
    assert throttle.delay_for(40) == throttle.MAX_DELAY == throttle.delay_for(10_000)
    assert [throttle.capacity(n) for n in range(6)] == [4, 3, 2, 1, 1, 1]
    assert throttle.refused_for(0.2).message == "Too many failed sign-ins; try again in 1 second."
    assert throttle.refused_for(9.1) == throttle.Refused(10, "Too many failed sign-ins; try again in 10 seconds.")


def test_admission_blocks_limits_attempts_in_flight_and_forgets(tmp_path: Path) -> None:
    store = ConsoleStore(tmp_path / "console.sqlite3")
    rules = throttle.RULES
    names = throttle.subjects("10.0.0.1", "AK")
    # Four may be checked at once from a fresh subject; a fifth waits (no failures yet).
    assert all(store.admit_signin(names, 1000.0, rules).admitted for _ in range(4))
    busy = store.admit_signin(names, 1000.0, rules)
    assert not busy.admitted and busy.wait == 0 and not busy.failing
    for _ in range(4):
        store.finish_signin(names, 1000.1, False, rules)
    # Four failures: one at a time now, and a second one in flight is refused outright.
    assert store.admit_signin(names, 1000.2, rules).admitted
    busy = store.admit_signin(names, 1000.2, rules)
    assert not busy.admitted and busy.failing
    store.finish_signin(names, 1000.3, False, rules)  # the 5th failure: blocked 5 s, nothing counted
    assert store.admit_signin(names, 1004.3, rules).wait == pytest.approx(1.0)
    assert store.admit_signin(names, 1005.4, rules).admitted
    store.finish_signin(names, 1005.4, False, rules)  # the 6th: 10 s
    assert store.admit_signin(names, 1006.4, rules).wait == pytest.approx(9.0)
    # Another key from the same address is blocked too (per address); the address elsewhere is not.
    assert store.admit_signin(throttle.subjects("10.0.0.1", "OTHER"), 1006.4, rules).wait > 0
    other = throttle.subjects("10.0.0.2", "OTHER")
    assert store.admit_signin(other, 1006.4, rules).admitted
    store.finish_signin(other, 1006.5, True, rules)
    # A success clears its subjects; a count is forgotten a day after the last failure.
    assert store.admit_signin(names, 1016.0, rules).admitted
    store.finish_signin(names, 1016.0, True, rules)
    assert all(store.admit_signin(names, 1017.0, rules).admitted for _ in range(4))
    for _ in range(4):
        store.finish_signin(names, 1017.0, False, rules)
    assert store.admit_signin(names, 1018.0, rules).admitted  # four failures: one at a time
    assert store.admit_signin(names, 1018.0, rules).failing
    later = 1018.0 + rules.forget + 60
    assert all(store.admit_signin(names, later, rules).admitted for _ in range(4))  # forgotten: 4 at once
    store.close()


def test_an_attempt_whose_worker_died_frees_its_place(tmp_path: Path) -> None:
    store = ConsoleStore(tmp_path / "console.sqlite3")
    names = throttle.subjects("10.0.0.9", "AK")
    assert all(store.admit_signin(names, 50.0, throttle.RULES).admitted for _ in range(4))  # never finished
    assert not store.admit_signin(names, 51.0, throttle.RULES).admitted
    assert store.admit_signin(names, 50.0 + throttle.STALE_SECONDS + 1, throttle.RULES).admitted
    store.close()


@pytest.mark.parametrize("value", ["/buckets", "/buckets/b?prefix=a%2F", "/jobs/1", "/a/..//b"])
def test_safe_next_keeps_console_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", ["", "buckets", "//evil", "/\t/evil", "/\\evil", "/a\\b", "http://evil/",
                                   "/\x0b/evil", "/\x1f/evil", "/é", "javascript:alert(1)", "/ x"])
def test_safe_next_refuses_the_rest(value: str) -> None:
    assert safe_next(value) == "/buckets"
