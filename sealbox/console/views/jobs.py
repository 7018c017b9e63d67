"""Bulk job pages: progress ("n of N") polled by the page, the summary, and the list of recent jobs."""

from __future__ import annotations

import asyncio
from typing import Any

from sealbox.console.actions import Action, Encryption, item_label
from sealbox.console.context import Console
from sealbox.console.store import Job
from sealbox.console.views.common import principal_of, render
from sealbox.console.web import Forbidden, Request, Response, Router, as_json
from sealbox.core.errors import SealboxError
from sealbox.core.types import Versioning

TITLES = {"encrypt": "Edit server-side encryption: Enable (SSE-S3)",
          "decrypt": "Edit server-side encryption: Disable",
          "delete": "Delete objects",
          "empty": "Empty bucket",
          "purge": "Delete unencrypted older versions"}
MAX_FAILURES_SHOWN = 200
ACTIVE_LABELS = {"listing": "Listing objects", "running": "In progress"}


def outcome_of(job: Job) -> tuple[str, str]:
    """The job's badge and its tone ("ok", "warn", "error" or "" while it runs): a job that ended is
    "Completed" only when nothing failed; "Completed with errors" when some items failed, "Failed"
    when every item failed or the job itself stopped."""
    if job.active:
        return ACTIVE_LABELS.get(job.state, job.state), ""  # failures so far show in the bar
    if job.state == "failed" or (job.failed and not job.succeeded and not job.skipped):
        return "Failed", "error"
    if job.failed:
        return "Completed with errors", "warn"
    return "Completed", "ok"


def title_of(action: str) -> str:
    """A job's title: its action, with the encryption an SSE-KMS job writes."""
    _, encryption = Encryption.of_job(action)
    if action.startswith("encrypt:") and encryption is not None:
        return f"Edit server-side encryption: {encryption.describe()}"
    return TITLES.get(action, action)


def status_of(job: Job, failures: list[tuple[str, str]]) -> dict[str, Any]:
    label, tone = outcome_of(job)
    return {"id": job.id, "state": job.state, "action": job.action, "total": job.total, "done": job.done,
            "succeeded": job.succeeded, "skipped": job.skipped, "failed": job.failed, "error": job.error,
            "label": label, "tone": tone, "failures": [{"key": item_label(job.action, k), "reason": r} for k, r in failures]}


def register(router: Router, c: Console) -> None:
    async def load(req: Request) -> Job:
        job = await asyncio.to_thread(c.store.get_job, req.params["job"])
        if job is None or job.principal != principal_of(req).name:
            raise Forbidden("This job does not exist or belongs to someone else.")
        await c.jobs.resume_if_stale(job)
        return job

    async def job_page(req: Request) -> Response:
        job = await load(req)
        failures = [(item_label(job.action, k), r)
                    for k, r in await asyncio.to_thread(c.store.failures, job.id, MAX_FAILURES_SHOWN)]
        return render(c, req, "job.html", nav="jobs", job=job, title=title_of(job.action),
                      failures=failures, skipped=await skipped_of(job), outcome=outcome_of(job),
                      offer_purge=offers_purge(req, job))

    async def skipped_of(job: Job) -> list[tuple[str, str]]:
        """Unchanged items and why, once the job ended (SSE-C objects: the console has no key to
        re-encrypt them with; a purge's versions that Object Lock keeps, with the lock and its date)."""
        if job.active:
            return []
        return [(item_label(job.action, k), r)
                for k, r in await asyncio.to_thread(c.store.failures, job.id, MAX_FAILURES_SHOWN, "skipped")]

    def offers_purge(req: Request, job: Job) -> bool:
        """After encrypting in a versioned bucket the older, unencrypted versions still exist (the spec:
        "the existing object becomes an older version"): the job page offers to delete them once it ends."""
        if not job.action.startswith(Action.ENCRYPT.value):
            return False
        try:
            bucket = c.services.buckets.existing(principal_of(req), job.bucket)
        except SealboxError:
            return False
        return bucket.versioning is not Versioning.UNVERSIONED

    async def job_status(req: Request) -> Response:
        job = await load(req)
        failures = [] if job.active else await asyncio.to_thread(c.store.failures, job.id, MAX_FAILURES_SHOWN)
        status = status_of(job, failures)
        status["unchanged"] = [{"key": k, "reason": r} for k, r in await skipped_of(job)]
        return as_json(status)

    async def job_list(req: Request) -> Response:
        jobs = await asyncio.to_thread(c.store.jobs_of, principal_of(req).name)
        return render(c, req, "jobs.html", nav="jobs", jobs=jobs, titles=TITLES, title_of=title_of,
                      outcome_of=outcome_of)

    router.add("GET", "/jobs", job_list)
    router.add("GET", "/jobs/{job}", job_page)
    router.add("GET", "/jobs/{job}/status", job_status)
