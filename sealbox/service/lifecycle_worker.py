"""The lifecycle pass (issue 17): apply every bucket's rules, one pass at a time across all processes.

- One pass at a time in the whole deployment: the run-once lock ``lifecycle``
  (``sealbox.storage.locks``: a ``flock`` on ``<data-dir>/lifecycle.lock`` with SQLite, an advisory
  lock with PostgreSQL, so one of N gateways runs it); a worker that does not get it skips this
  round, and a holder whose lock was lost (its lock connection cut) stops after the step it is in.
- Bounded work per step: a step handles one listing page (at most ``BATCH`` versions) and then
  sleeps ``pause`` seconds, so serving is not starved; the expirations of a step are single-row
  transactions of the metadata store, each a compare-and-swap (``only_if_latest`` for a current
  version, a named version id otherwise).
- Resumable: the cursor (bucket, key) and the running counts are saved in the store after every
  step (``lifecycle_state``: key ``pass``); a pass interrupted by a crash continues from there.
  The last finished pass's summary is kept under ``last`` (``sealbox lifecycle status``).
- Object Lock: every removal goes through ``MetaStore.delete``, which refuses a protected version
  inside its transaction (never bypassing GOVERNANCE); such versions are counted as ``kept_locked``.

What a pass does per key (versions newest first): expire the current version when a rule's
Expiration is due (a delete marker in a versioned or suspended bucket, a delete otherwise); delete
noncurrent versions whose NoncurrentDays are due (counted from when the next newer version was
written) beyond NewerNoncurrentVersions; remove a delete marker that is the only version left (with
ExpiredObjectDeleteMarker, or Expiration Days as on AWS). Then it aborts multipart uploads older
than DaysAfterInitiation and deletes their parts.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.progress import NO_PROGRESS, Progress
from sealbox.core.types import Bucket, ObjectVersion, Versioning
from sealbox.service.lifecycle import DAY, Rule, Summary, current_expiry, due, loads
from sealbox.storage.data.base import BlobStore
from sealbox.storage.locks import Held, RunOnce
from sealbox.storage.meta.base import MetaStore

log = logging.getLogger("sealbox.lifecycle")
BATCH = 500
STATE_PASS, STATE_LAST = "lifecycle.pass", "lifecycle.last"


def _marker(bucket: str, key: str, now: float) -> ObjectVersion:
    return ObjectVersion(bucket=bucket, key=key, version_id=secrets.token_urlsafe(24), object_uid=b"", size=0,
                         etag="", last_modified=now, owner="lifecycle", is_delete_marker=True)


class LockLost(Exception):
    pass


class LifecyclePass:
    def __init__(self, meta: MetaStore, blobs: BlobStore, locks: RunOnce, *, day_seconds: float = DAY,
                 pause: float = 0.01, batch: int = BATCH, clock: Callable[[], float] = time.time,
                 progress: Progress = NO_PROGRESS) -> None:
        self.meta = meta
        self.blobs = blobs
        self.locks = locks
        self._held: Held | None = None
        self.day = day_seconds
        self.pause = pause
        self.batch = max(2, batch)
        self.clock = clock
        self.progress = progress  # items: versions looked at (no total: not counted up front); failed: errors

    def run(self) -> dict[str, object] | None:
        """One whole pass (resuming an interrupted one); None if another process is running one
        (or this one lost its lock midway: the pass resumes from its cursor wherever it is taken next)."""
        with self.locks.hold("lifecycle") as held:
            if held is None:
                return None
            self._held = held
            try:
                with self.progress:  # only the process holding the lock runs (and reports) a pass
                    return self._run_locked()
            except LockLost:
                log.warning("lifecycle: the run-once lock was lost; the pass resumes from its cursor elsewhere")
                return None
            finally:
                self._held = None

    def _run_locked(self) -> dict[str, object]:
        saved = self.meta.get_state(STATE_PASS)
        state: dict[str, object] = json.loads(saved) if saved else {
            "started": self.clock(), "bucket": "", "key": "", "summary": {}}
        summary = Summary(**state["summary"]) if state["summary"] else Summary()  # type: ignore[arg-type]
        if saved:
            log.info("lifecycle: resuming the pass started at %s from %s/%s", state["started"], state["bucket"],
                     state["key"])
        for bucket in sorted(self.meta.list_buckets(), key=lambda b: b.name):
            if bucket.name < str(state["bucket"]) or not bucket.lifecycle:
                continue
            rules = [r for r in loads(bucket.lifecycle) if r.enabled]
            after = str(state["key"]) if bucket.name == state["bucket"] else ""
            self._bucket(bucket, rules, after, state, summary)
            state.update(bucket=bucket.name + "\0", key="")  # this bucket is done
            self._save(state, summary)
        result = {**dataclasses.asdict(summary), "started": state["started"], "finished": self.clock()}
        self.meta.set_state(STATE_LAST, json.dumps(result))
        self.meta.set_state(STATE_PASS, None)
        log.info("lifecycle pass: %d expired, %d noncurrent deleted, %d delete markers removed, %d uploads"
                 " aborted, %d kept (Object Lock), %d versions seen, %d errors", summary.expired,
                 summary.noncurrent_deleted, summary.markers_removed, summary.uploads_aborted, summary.kept_locked,
                 summary.versions_seen, len(summary.errors))
        return result

    def _save(self, state: dict[str, object], summary: Summary) -> None:
        summary.errors = summary.errors[-20:]
        state["summary"] = dataclasses.asdict(summary)
        if self._held is not None and not self._held.alive():
            raise LockLost  # another gateway may be running the pass now: do not overwrite its cursor
        self.meta.set_state(STATE_PASS, json.dumps(state))

    def _bucket(self, bucket: Bucket, rules: list[Rule], after: str, state: dict[str, object],
                summary: Summary) -> None:
        if not rules:
            return
        key_marker = after
        while True:
            page = self.meta.list_versions(bucket.name, "", "", key_marker, "", self.batch)
            groups: dict[str, list[ObjectVersion]] = {}
            for v in page.entries:
                groups.setdefault(v.key, []).append(v)
            keys = list(groups)
            if page.is_truncated and len(keys) > 1:
                keys = keys[:-1]  # the last key may continue on the next page: start there next time
            for key in keys:
                self._key(bucket, rules, groups[key], summary)
            if not keys:
                break
            key_marker = keys[-1]
            state.update(bucket=bucket.name, key=key_marker)
            self._save(state, summary)
            if self.pause:
                time.sleep(self.pause)
            if not page.is_truncated:
                break
        self._uploads(bucket, rules, summary)  # idempotent: a resumed pass may look at them again

    def _remove(self, summary: Summary, what: str, call: Callable[[], object]) -> bool:
        try:
            result = call()
        except SealboxError as exc:
            if exc.code is ErrorCode.ACCESS_DENIED:
                summary.kept_locked += 1
                return False
            summary.errors.append(f"{what}: {exc}")
            self.progress.add(failed=1)
            return False
        orphaned = getattr(result, "orphaned", [])
        if orphaned:
            self.blobs.delete([e.blob_id for e in orphaned])
        return True

    def _key(self, bucket: Bucket, rules: list[Rule], versions: list[ObjectVersion], summary: Summary) -> None:
        now = self.clock()
        summary.versions_seen += len(versions)
        self.progress.add(done=len(versions))
        current = versions[0] if versions[0].is_latest else None
        name, key = bucket.name, versions[0].key
        if current is not None and not current.is_delete_marker:
            expiry = current_expiry(rules, current, self.day, current.tags)
            if expiry is not None and expiry[0] <= now:
                if self._remove(summary, f"{name}/{key}", lambda: self.meta.delete(
                        name, key, None, _marker(name, key, now), only_if_latest=current.version_id)):
                    summary.expired += 1
                return  # the rest is for the next pass, against the new state
        # noncurrent versions: their age counts from when the next newer version was written
        newer_noncurrent = 0
        for successor, v in zip(versions, versions[1:], strict=False):
            matching = [r for r in rules if r.noncurrent_days is not None and r.matches(key, v.size, v.tags)]
            done = False
            for rule in matching:
                assert rule.noncurrent_days is not None
                keep = rule.newer_noncurrent or 0
                if newer_noncurrent >= keep and due(successor.last_modified, rule.noncurrent_days, self.day) <= now:
                    if self._remove(summary, f"{name}/{key}?versionId={v.version_id}", functools.partial(
                            self.meta.delete, name, key, v.version_id, _marker(name, key, now))):
                        summary.noncurrent_deleted += 1
                    done = True
                    break
            if not done:
                newer_noncurrent += 1
        # a delete marker that is the only version left
        if current is not None and current.is_delete_marker and len(versions) == 1 and \
                bucket.versioning is not Versioning.UNVERSIONED:
            for rule in rules:
                if rule.matches(key, 0) and (rule.expired_object_delete_marker or rule.expiration_days is not None):
                    if self._remove(summary, f"{name}/{key} (delete marker)", lambda: self.meta.delete(
                            name, key, current.version_id, _marker(name, key, now))):
                        summary.markers_removed += 1
                    break

    def _uploads(self, bucket: Bucket, rules: list[Rule], summary: Summary) -> None:
        now = self.clock()
        for upload in self.meta.list_uploads(bucket.name):
            for rule in rules:
                if rule.abort_days is None or not upload.key.startswith(rule.key_prefix()):
                    continue
                if due(upload.initiated, rule.abort_days, self.day) <= now:
                    uid = upload.upload_id
                    if self._remove(summary, f"upload {uid}", functools.partial(self.meta.finish_upload, uid, None)):
                        summary.uploads_aborted += 1
                    break


def start_in_worker(meta: MetaStore, blobs: BlobStore, locks: RunOnce, day_seconds: float,
                    progress: Progress = NO_PROGRESS, sweep: Callable[[], object] | None = None) -> threading.Thread:
    """A daemon thread in each worker process (of every gateway) that tries a pass every interval;
    the run-once lock lets one process at a time run it. Interval: a tenth of a lifecycle day,
    between 1 s and 1 h. ``sweep``: run after each pass (the freed-blob sweep of a shared store,
    ``service.freed.periodic_sweep``, which takes its own run-once lock)."""
    interval = min(3600.0, max(1.0, day_seconds / 10))
    runner = LifecyclePass(meta, blobs, locks, day_seconds=day_seconds, progress=progress)

    def loop() -> None:
        while True:
            time.sleep(interval)
            try:
                runner.run()
            except Exception:  # noqa: BLE001 - a failed pass is logged and retried next round
                log.exception("lifecycle pass failed (it resumes from its saved cursor next time)")
            if sweep is not None:
                try:
                    sweep()
                except Exception:  # noqa: BLE001 - the files wait for the next round
                    log.exception("freed-blob sweep failed (retried next round)")

    thread = threading.Thread(target=loop, name="sealbox-lifecycle", daemon=True)
    thread.start()
    return thread
