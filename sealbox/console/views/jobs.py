"""Bulk job pages: progress ("n of N") polled by the page, the summary, and the list of recent jobs."""

from __future__ import annotations

import asyncio
from typing import Any

from sealbox.console.context import Console
from sealbox.console.store import Job
from sealbox.console.views.common import principal_of, render
from sealbox.console.web import Forbidden, Request, Response, Router, as_json

TITLES = {"encrypt": "Edit server-side encryption: Enable (SSE-S3)",
          "decrypt": "Edit server-side encryption: Disable",
          "delete": "Delete objects"}
MAX_FAILURES_SHOWN = 200


def status_of(job: Job, failures: list[tuple[str, str]]) -> dict[str, Any]:
    return {"id": job.id, "state": job.state, "action": job.action, "total": job.total, "done": job.done,
            "succeeded": job.succeeded, "skipped": job.skipped, "failed": job.failed, "error": job.error,
            "failures": [{"key": k, "reason": r} for k, r in failures]}


def register(router: Router, c: Console) -> None:
    async def load(req: Request) -> Job:
        job = await asyncio.to_thread(c.store.get_job, req.params["job"])
        if job is None or job.principal != principal_of(req).name:
            raise Forbidden("This job does not exist or belongs to someone else.")
        await c.jobs.resume_if_stale(job)
        return job

    async def job_page(req: Request) -> Response:
        job = await load(req)
        failures = await asyncio.to_thread(c.store.failures, job.id, MAX_FAILURES_SHOWN)
        return render(c, req, "job.html", nav="jobs", job=job, title=TITLES.get(job.action, job.action),
                      failures=failures)

    async def job_status(req: Request) -> Response:
        job = await load(req)
        failures = [] if job.active else await asyncio.to_thread(c.store.failures, job.id, MAX_FAILURES_SHOWN)
        return as_json(status_of(job, failures))

    async def job_list(req: Request) -> Response:
        jobs = await asyncio.to_thread(c.store.jobs_of, principal_of(req).name)
        return render(c, req, "jobs.html", nav="jobs", jobs=jobs, titles=TITLES)

    router.add("GET", "/jobs", job_list)
    router.add("GET", "/jobs/{job}", job_page)
    router.add("GET", "/jobs/{job}/status", job_status)
