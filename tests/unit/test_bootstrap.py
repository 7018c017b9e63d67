"""First start, in the parent: what must exist before the workers are forked."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from sealbox.bootstrap import initialize
from sealbox.config import Settings
from sealbox.console.store import ConsoleStore


def _journal_mode(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("console_port", [0, 9911])
def test_initialize_creates_the_databases_in_wal_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      console_port: int) -> None:
    monkeypatch.setenv("SEALBOX_ACCESS_KEY", "BOOTSTRAPTESTKEY0001")
    monkeypatch.setenv("SEALBOX_SECRET_KEY", "bootstrap-test-secret-0123456789abcdefgh")
    settings = Settings(data_dir=tmp_path / "data", console_port=console_port)
    initialize(settings)
    assert _journal_mode(settings.db_path) == "wal"
    console_db = settings.data_dir / "console.sqlite3"
    # Workers only open it: none of them has to switch a new file to WAL (see the race below).
    assert console_db.exists() == bool(console_port)
    if console_port:
        assert _journal_mode(console_db) == "wal"


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_workers_opening_a_prepared_store_at_once_never_fail(tmp_path: Path) -> None:
    """What the fix relies on. (Two processes creating a *new* file at the same moment, each switching
    it to WAL, fail about every other time with "database is locked": that is what workers did.)"""
    for trial in range(20):
        path = tmp_path / f"c{trial}.sqlite3"
        ConsoleStore(path).close()  # as bootstrap.initialize does, in the parent
        start = time.time() + 0.05
        pids = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                while time.time() < start:
                    pass
                try:
                    ConsoleStore(path)
                    os._exit(0)
                except sqlite3.OperationalError:
                    os._exit(1)
            pids.append(pid)
        assert all(os.waitpid(pid, 0)[1] == 0 for pid in pids)
