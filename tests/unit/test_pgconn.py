"""sealbox.storage.meta.pgconn: what several gateways build on (queries on the pool, cluster-wide
advisory locks) and the text it must never leak, on the session's real PostgreSQL server."""

from __future__ import annotations

from typing import Any

import pytest

from sealbox.storage.meta.base import StoreUnavailable
from sealbox.storage.meta.pgconn import PgDatabase, UnsupportedMetaUrl, redact, scrub_secrets, translate


def test_transaction_commits_whole_or_not_at_all(pg_url: str) -> None:
    db = PgDatabase(pg_url)
    try:
        with db.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS t_pgconn(k TEXT PRIMARY KEY, v INTEGER)")
        with pytest.raises(RuntimeError):
            with db.transaction() as tx:
                tx.execute("INSERT INTO t_pgconn(k, v) VALUES (?, ?)", ("a", 1))
                raise RuntimeError("fails after its first statement")
        with db.transaction() as tx:
            tx.execute("INSERT INTO t_pgconn(k, v) VALUES (?, ?)", ("b", 2))
            with db.transaction() as inner:  # nested in one thread: part of the outer one
                inner.execute("INSERT INTO t_pgconn(k, v) VALUES (?, ?)", ("c", 3))
        rows = db.reader.execute("SELECT k, v FROM t_pgconn WHERE k LIKE '%' AND v > ? ORDER BY k", (0,)).fetchall()
        assert rows == [("b", 2), ("c", 3)]
    finally:
        db.close()


def test_an_unreachable_server_is_store_unavailable_without_the_password(pg_server: Any) -> None:
    url = f"postgresql://sealbox:hunter2@127.0.0.1:{_closed_port()}/nowhere"
    db = PgDatabase(url)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            db.reader.execute("SELECT 1")
        assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    finally:
        db.close()


def _closed_port() -> int:
    from tests.support import free_port

    return free_port()  # bound and released: nothing listens there


def test_texts() -> None:
    assert translate("SELECT ? WHERE k LIKE 'v1:%'") == "SELECT %s WHERE k LIKE 'v1:%%'"
    assert redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert scrub_secrets('bad "postgresql://u:pw@h/db" and password=x y') == 'bad "postgresql://u:***@h/db" and password=*** y'
    with pytest.raises(UnsupportedMetaUrl):
        PgDatabase("mysql://u:pw@h/db")
