"""Console bulk jobs across gateways: which gateway adopts a job whose runner may be gone.

On one host (the console's SQLite file) a job whose worker pid no longer exists is adopted at once;
in PostgreSQL the job may run on another host, whose pids mean nothing here, so only a heartbeat
older than ``STALE_SECONDS`` lets another gateway take it over. The claim is a compare-and-set, so
of two gateways viewing a stale job one adopts it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sealbox.console import jobs
from sealbox.console.jobs import JobRunner
from sealbox.console.store import ConsoleStore
from sealbox.storage.meta.postgres import PostgresMetaStore


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no such process (until the pid is reused, which the heartbeat covers)


def _set(store: ConsoleStore, job_id: str, **columns: float) -> None:
    with store._tx() as db:
        for name, value in columns.items():
            db.execute(f"UPDATE jobs SET {name} = ? WHERE id = ?", (value, job_id))


def _adopted(store: ConsoleStore, job_id: str) -> bool:
    async def view() -> bool:
        runner = JobRunner(None, store)  # type: ignore[arg-type]  # the adopted run is cancelled before it starts
        job = await asyncio.to_thread(store.get_job, job_id)
        assert job is not None
        await runner.resume_if_stale(job)
        tasks = list(runner._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return bool(tasks)

    return asyncio.run(view())


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield ConsoleStore(tmp_path / "console.sqlite3")
        return
    url = request.getfixturevalue("fresh_pg_url")
    PostgresMetaStore(url).close()  # its migrations make the console's tables
    console = ConsoleStore(tmp_path / "unused.sqlite3", url)
    yield console
    console.close()


def test_a_job_whose_worker_pid_is_gone_is_adopted_only_where_pids_mean_something(store: ConsoleStore) -> None:
    store.create_job("j1", "alice", "AK", "bkt", "delete", ["k"], [], "{}")
    _set(store, "j1", worker_pid=_dead_pid())  # a fresh heartbeat, a pid not alive here
    assert _adopted(store, "j1") is store.host_local


def test_a_job_whose_heartbeat_is_stale_is_adopted_on_any_backend(store: ConsoleStore) -> None:
    store.create_job("j2", "alice", "AK", "bkt", "delete", ["k"], [], "{}")
    _set(store, "j2", heartbeat=time.time() - jobs.STALE_SECONDS - 1)  # its pid (ours) still lives
    assert _adopted(store, "j2")
    job = store.get_job("j2")
    assert job is not None and job.heartbeat > time.time() - 60  # claimed: the heartbeat is ours now
    assert not _adopted(store, "j2")  # and fresh again: nobody else takes it
