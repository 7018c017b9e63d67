"""Bulk jobs: change the encryption of (or delete) every object under a selection, in the background;
empty a bucket; delete the unencrypted older versions an encryption change left behind.

A job is accepted by one worker, persisted in the console store, and run there as an asyncio task,
so the page that started it can go away; the page that polls it may hit any worker, which reads
the state from the store. The run has two phases: *listing* expands the selected folders into
items (every key under each prefix, a page of 1000 at a time), then *running* applies the action
to pending items in batches with bounded concurrency, recording each outcome. The job row names the
worker's pid and the worker beats a heartbeat while it runs; if that worker dies (or the server is
restarted), the next view of the job from any worker (of any gateway) claims it and carries on with the items still
pending (a listing that was cut short starts over). Nobody need view it: every worker also sweeps
every ``SWEEP_SECONDS`` (± half, so workers spread out) for jobs whose heartbeat is stale and claims
them the same way, so a job of a dead gateway resumes within about STALE + 1.5 × SWEEP = 105 s.

A job acts for the principal who started it, with the policy context of the request that started
it (source address, TLS, browser headers), stored with the job: a worker that resumes it carries the
same, so a Deny by address or user agent holds for every item, whichever worker runs it and however
long after. A job stored before contexts were kept (console schema 1) is not resumed: it fails
with a note to start it again, rather than run with no context at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import time
from collections.abc import Callable

from sealbox.console.actions import Action, Encryption, Outcome, apply, version_item
from sealbox.console.policy_context import acting_on, context_from_json, context_to_json
from sealbox.console.services import ServiceSet
from sealbox.console.store import ConsoleStore, ItemResult, Job
from sealbox.core.progress import Progress
from sealbox.service.identity import Principal

log = logging.getLogger("sealbox.console.jobs")
CONCURRENCY = 4  # objects rewritten at once per worker: copies stream through the shared I/O pool
BATCH = 32  # outcomes recorded per transaction (and the granularity of "n of N")
LIST_PAGE = 1000
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
# Each worker's look for stale jobs: one query of the jobs table every 30 s per worker (N gateways × W
# workers of them: 8 workers make one every ~4 s), at most SWEEP_LIMIT claims a round.
SWEEP_SECONDS = 30.0
SWEEP_LIMIT = 8


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class JobRunner:
    def __init__(self, services: ServiceSet, store: ConsoleStore,
                 progress: Callable[[], Progress] = Progress) -> None:
        self._services = services
        self._store = store
        self._progress = progress  # one per run; items: the job's objects (sealbox.ops.metrics: console_job)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, principal: Principal, bucket: str, action: Action, keys: list[str],
                    prefixes: list[str], encryption: Encryption | None = None) -> str:
        """``encryption``: what an ENCRYPT/DECRYPT job writes (stored in the job's action text)."""
        job_id = secrets.token_hex(10)
        text = encryption.job_action() if encryption is not None and action is not Action.DELETE else action.value
        await asyncio.to_thread(self._store.create_job, job_id, principal.name, principal.access_key, bucket,
                                text, keys, prefixes, context_to_json(principal.context))
        self._spawn(job_id)
        return job_id

    def _spawn(self, job_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job_id), name=f"console-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    async def resume_if_stale(self, job: Job) -> bool:
        """Called when a job is viewed (and by the sweep): adopt it if the worker running it is gone;
        True if this runner adopted it.

        Gone means its process no longer exists (when the store is one host's: its workers share
        the pid space), or — should the pid have been reused, or the job run on another gateway,
        whose pids mean nothing here — it has not beaten its heartbeat for ``STALE_SECONDS``. The
        claim is a compare-and-set in the store, so of several gateways viewing it one adopts it.
        """
        if not job.active or job.id in self._tasks:
            return False
        fresh = job.heartbeat > time.time() - STALE_SECONDS
        if fresh and (not self._store.host_local or process_alive(job.worker_pid)):
            return False
        if await asyncio.to_thread(self._store.claim, job.id, job.worker_pid, job.heartbeat):
            log.warning("console job %s: its worker (pid %d) stopped; resuming here", job.id, job.worker_pid)
            self._spawn(job.id)
            return True
        return False

    async def adopt_stale(self) -> int:
        """One sweep: claim (compare-and-set, as a view does) up to ``SWEEP_LIMIT`` active jobs whose
        heartbeat is stale, and run them here; how many this runner adopted."""
        jobs = await asyncio.to_thread(self._store.stale_jobs, time.time() - STALE_SECONDS, SWEEP_LIMIT)
        adopted = 0
        for job in jobs:
            adopted += await self.resume_if_stale(job)
        return adopted

    def start_sweeping(self, interval: float = SWEEP_SECONDS) -> None:
        """Sweep every ``interval`` seconds (± half) on the running loop, until the loop ends."""
        if self._sweeper is not None:
            return

        async def sweep() -> None:
            while True:
                await asyncio.sleep(interval * random.uniform(0.5, 1.5))
                try:
                    await self.adopt_stale()
                except Exception:  # noqa: BLE001 - the store is away: the next round tries again
                    log.warning("console job sweep failed; retried in %.0f s", interval, exc_info=True)

        self._sweeper = asyncio.get_running_loop().create_task(sweep(), name="console-job-sweep")

    async def _run(self, job_id: str) -> None:
        beat = asyncio.get_running_loop().create_task(self._beat(job_id))
        progress = self._progress()
        progress.begin()
        try:
            job = await asyncio.to_thread(self._store.get_job, job_id)
            if job is None:
                return
            if job.context is None:
                await asyncio.to_thread(self._store.set_state, job_id, "failed",
                                        "started before this sealbox recorded the request a job acts for;"
                                        " start it again")
                return
            principal = self._principal(job)
            if principal is None:
                await asyncio.to_thread(self._store.set_state, job_id, "failed",
                                        "the access key that started this job no longer exists")
                return
            if job.state == "listing":
                await self._expand(job, principal)
                await asyncio.to_thread(self._store.set_state, job_id, "running")
            await self._process(job, principal, progress, *Encryption.of_job(job.action))
            await asyncio.to_thread(self._store.set_state, job_id, "done")
        except asyncio.CancelledError:
            raise  # the worker is stopping: the job stays active and is resumed after it goes stale
        except Exception as exc:
            log.exception("console job %s failed", job_id)
            await asyncio.to_thread(self._store.set_state, job_id, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            beat.cancel()
            progress.end()

    def _principal(self, job: Job) -> Principal | None:
        """Who the job acts for, with the starting request's policy context."""
        assert job.context is not None
        found = self._services.identity.lookup(job.access_key)
        if not found or found[0] != job.principal:
            return None
        return Principal(job.principal, job.access_key, context_from_json(job.context))

    async def _beat(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.heartbeat, job_id)

    async def _expand(self, job: Job, principal: Principal) -> None:
        """Write the job's items: the selected keys, then every key under each selected folder."""
        await asyncio.to_thread(self._store.clear_items, job.id)  # a resumed listing starts over
        if job.action == Action.EMPTY.value:
            await self._expand_versions(job, principal)
            return
        if job.action == Action.PURGE.value:
            await self._expand_unencrypted(job, principal)
            return
        keys = [k for k in job.keys if not any(k.startswith(p) for p in job.prefixes)]
        seq = await asyncio.to_thread(self._store.add_items, job.id, 0, keys)
        for prefix in job.prefixes:
            after = ""
            while True:
                objects = self._services.objects
                lister = acting_on(principal, job.bucket, query={"prefix": prefix})  # as ListObjects would
                page = await objects.run(objects.list, lister, job.bucket, prefix, "", after, LIST_PAGE)
                found = [v.key for v in page.entries]
                seq = await asyncio.to_thread(self._store.add_items, job.id, seq, found)
                if not page.is_truncated or not page.next_marker:
                    break
                after = page.next_marker

    async def _expand_versions(self, job: Job, principal: Principal) -> None:
        """Empty bucket: every version and delete marker in the bucket, as ListObjectVersions pages it."""
        seq, key_marker, version_marker = 0, "", ""
        objects = self._services.objects
        lister = acting_on(principal, job.bucket, query={"versions": ""})
        while True:
            page = await objects.run(objects.list_versions, lister, job.bucket, "", "", key_marker, version_marker,
                                     LIST_PAGE)
            found = [version_item(v.key, v.version_id) for v in page.entries]
            seq = await asyncio.to_thread(self._store.add_items, job.id, seq, found)
            if not page.is_truncated or not page.next_marker:
                return
            key_marker, version_marker = page.next_marker, page.next_version_marker or ""

    async def _expand_unencrypted(self, job: Job, principal: Principal) -> None:
        """Delete unencrypted older versions: every noncurrent, unencrypted version (not a delete marker)
        of the selected keys and under the selected folders, as ListObjectVersions pages them."""
        seq = 0
        objects = self._services.objects
        scopes = [(k, True) for k in job.keys if not any(k.startswith(p) for p in job.prefixes)]
        for prefix, exact in [*scopes, *((p, False) for p in job.prefixes)]:
            key_marker, version_marker = "", ""
            lister = acting_on(principal, job.bucket, query={"versions": "", "prefix": prefix})
            while True:
                page = await objects.run(objects.list_versions, lister, job.bucket, prefix, "", key_marker,
                                         version_marker, LIST_PAGE)
                found = [version_item(v.key, v.version_id) for v in page.entries
                         if not v.is_latest and not v.is_delete_marker and not v.sse and (not exact or v.key == prefix)]
                seq = await asyncio.to_thread(self._store.add_items, job.id, seq, found)
                if not page.is_truncated or not page.next_marker:
                    break
                key_marker, version_marker = page.next_marker, page.next_version_marker or ""

    async def _process(self, job: Job, principal: Principal, progress: Progress, action: Action,
                       encryption: Encryption | None = None) -> None:
        await self._show(job.id, progress)
        while True:
            batch = await asyncio.to_thread(self._store.pending_items, job.id, BATCH)
            if not batch:
                return
            outcomes = await asyncio.gather(*(self._one(principal, job.bucket, key, action, encryption)
                                             for _, key in batch))
            results = [ItemResult(seq, o.state, o.reason) for (seq, _), o in zip(batch, outcomes, strict=True)]
            await asyncio.to_thread(self._store.record, job.id, results)
            failed = sum(1 for r in results if r.state == "failed")
            progress.add(done=len(results) - failed, failed=failed)
            await self._show(job.id, progress)

    async def _show(self, job_id: str, progress: Progress) -> None:
        """The job's own counts (a resumed job's include what the worker before this one did)."""
        job = await asyncio.to_thread(self._store.get_job, job_id)
        if job is not None:
            progress.show(job.succeeded + job.skipped, job.failed, job.total)

    async def _one(self, principal: Principal, bucket: str, key: str, action: Action,
                   encryption: Encryption | None = None) -> Outcome:
        async with self._slots:
            try:
                return await apply(self._services, principal, bucket, key, action, encryption)
            except Exception as exc:
                log.exception("console job: %s on %s/%s", action.value, bucket, key)
                return Outcome("failed", f"Could not {action.value} {key} in {bucket}: an internal error"
                               f" ({type(exc).__name__}; the server log has details).")
