"""Run-once locks (sealbox.storage.locks): one holder across processes, released when the holder dies.

Against a real PostgreSQL (advisory locks) and the kernel (flock); the holders are real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealbox.storage.locks import FlockRunOnce, PgRunOnce, RunOnce, run_once

_HOLDER = """
import sys, time
from pathlib import Path
from sealbox.storage.locks import run_once
locks = run_once(Path(sys.argv[1]), sys.argv[2] or None)
with locks.hold("job") as held:
    print("held" if held else "busy", flush=True)
    time.sleep(120)
"""


def _holder(data_dir: Path, url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(data_dir), url], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _wait_free(locks: RunOnce) -> bool:
    deadline = time.monotonic() + 30  # the server notices the closed socket at once; bounded anyway
    while time.monotonic() < deadline:
        with locks.hold("job") as held:
            if held is not None:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=["flock", "postgresql"])
def locks_and_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[RunOnce, str]:
    if request.param == "flock":
        return run_once(tmp_path, None), ""
    url = request.getfixturevalue("pg_url")
    return run_once(tmp_path, url), url


def test_one_holder_at_a_time_across_processes(locks_and_url: tuple[RunOnce, str], tmp_path: Path) -> None:
    locks, url = locks_and_url
    proc = _holder(tmp_path, url)
    try:
        with locks.hold("job") as held:
            assert held is None  # the other process has it
        with locks.hold("another job") as held:
            assert held is not None and held.alive()  # names are independent
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_is_free_once_its_holder_is_killed(locks_and_url: tuple[RunOnce, str], tmp_path: Path) -> None:
    locks, url = locks_and_url
    proc = _holder(tmp_path, url)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _wait_free(locks)


def test_a_hold_in_the_same_process_is_exclusive_too(locks_and_url: tuple[RunOnce, str]) -> None:
    locks, _ = locks_and_url
    with locks.hold("job") as first:
        assert first is not None
        with locks.hold("job") as second:
            assert second is None
    with locks.hold("job") as again:
        assert again is not None


def test_a_lost_lock_connection_is_noticed(pg_url: str) -> None:
    import psycopg

    locks = PgRunOnce(pg_url)
    with locks.hold("job") as held:
        assert held is not None and held.alive()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # an operator (or a failover) cuts it
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'sealbox lock job'")
            # pg_terminate_backend only signals: wait (bounded) until that backend has exited, or
            # alive() may still find it (this failed once under load).
            for _ in range(200):
                row = admin.execute("SELECT count(*) FROM pg_stat_activity"
                                    " WHERE application_name = 'sealbox lock job'").fetchone()
                if row is not None and row[0] == 0:
                    break
                time.sleep(0.05)
        assert not held.alive()
        with locks.hold("job") as other:
            assert other is not None  # free for the next gateway


def test_sqlite_deployments_use_flock_and_postgresql_ones_advisory_locks(tmp_path: Path) -> None:
    assert isinstance(run_once(tmp_path, None), FlockRunOnce)
    assert isinstance(run_once(tmp_path, "postgresql://u@127.0.0.1/db"), PgRunOnce)
