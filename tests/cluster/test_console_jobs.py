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


class _Recording(JobRunner):
    """A runner that records the jobs it adopts instead of running them (no services here)."""

    def __init__(self, store: ConsoleStore) -> None:
        super().__init__(None, store)  # type: ignore[arg-type]
        self.adopted: list[str] = []

    def _spawn(self, job_id: str) -> None:
        self.adopted.append(job_id)


def _swept(stores: list[ConsoleStore], interval: float, want: int) -> list[list[str]]:
    """Runners on ``stores`` (as gateways) sweeping every ``interval`` s, no job viewed: the jobs each
    adopted once ``want`` were (bounded wait), after a few more rounds of everyone."""
    async def sweep() -> list[list[str]]:
        runners = [_Recording(s) for s in stores]
        for runner in runners:
            runner.start_sweeping(interval)
        for _ in range(200):  # at most 10 s
            await asyncio.sleep(0.05)
            if sum(len(r.adopted) for r in runners) >= want:
                break
        await asyncio.sleep(interval * 5)  # more rounds: nobody adopts a claimed job again
        sweepers = [r._sweeper for r in runners if r._sweeper is not None]
        for task in sweepers:
            task.cancel()
        await asyncio.gather(*sweepers, return_exceptions=True)
        return [r.adopted for r in runners]

    return asyncio.run(sweep())


def test_the_sweep_resumes_a_stale_job_nobody_views(store: ConsoleStore) -> None:
    store.create_job("j3", "alice", "AK", "bkt", "delete", ["k"], [], "{}")
    store.create_job("j4", "alice", "AK", "bkt", "delete", ["k"], [], "{}")  # fresh: left alone
    _set(store, "j3", heartbeat=time.time() - jobs.STALE_SECONDS - 1)
    assert [j.id for j in store.stale_jobs(time.time() - jobs.STALE_SECONDS, 10)] == ["j3"]
    assert _swept([store], 0.05, 1) == [["j3"]]
    job = store.get_job("j3")
    assert job is not None and job.heartbeat > time.time() - 60  # claimed by the sweep
    assert store.stale_jobs(time.time() - jobs.STALE_SECONDS, 10) == []


def test_of_two_gateways_sweeping_one_adopts_a_stale_job(fresh_pg_url: str, tmp_path: Path) -> None:
    PostgresMetaStore(fresh_pg_url).close()
    a = ConsoleStore(tmp_path / "a.sqlite3", fresh_pg_url)
    b = ConsoleStore(tmp_path / "b.sqlite3", fresh_pg_url)
    try:
        for n in range(3):
            a.create_job(f"s{n}", "alice", "AK", "bkt", "delete", ["k"], [], "{}")
            _set(a, f"s{n}", heartbeat=time.time() - jobs.STALE_SECONDS - 1)
        adopted = _swept([a, b], 0.05, 3)
        assert sorted(adopted[0] + adopted[1]) == ["s0", "s1", "s2"]  # each adopted once, by one of the two
        assert a.stale_jobs(time.time() - jobs.STALE_SECONDS, 10) == []
    finally:
        a.close()
        b.close()
