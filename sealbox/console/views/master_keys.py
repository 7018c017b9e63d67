"""Master keys (root only): the keyring's keys, which is active, what each still seals, and the
progress of a rotation (``sealbox keys rotate``: values re-sealed under the active key).

Read-only: rotating and removing keys stay with the CLI, which holds the keyring file's lock. The
counts are those of ``sealbox keys status`` (``sealbox.service.keys.key_status``); the page polls
them while a rotation is under way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sealbox.console.context import Console
from sealbox.console.views.common import principal_of, render
from sealbox.console.web import Forbidden, Request, Response, Router, as_json
from sealbox.service.keys import KeyStatus, key_status

KIND_TITLES = {"version": "Objects", "upload": "Multipart uploads", "credential": "Credentials"}


def progress(rows: list[KeyStatus]) -> dict[str, Any]:
    total = sum(sum(r.counts.values()) for r in rows)
    active = sum(sum(r.counts.values()) for r in rows if r.active)
    return {"total": total, "under_active": active, "pending": total - active,
            "missing": [r.key_id for r in rows if not r.in_keyring],
            "keys": [{"id": r.key_id, "active": r.active, "created": r.created, "in_keyring": r.in_keyring,
                      "counts": r.counts} for r in rows]}


def register(router: Router, c: Console) -> None:
    objects = c.services.objects

    async def status_rows(req: Request) -> list[KeyStatus]:
        if not principal_of(req).is_root:
            raise Forbidden("Only root can see the master keys.")
        return await asyncio.to_thread(lambda: key_status(objects.meta, objects.sealer.keyring))

    async def page(req: Request) -> Response:
        rows = await status_rows(req)
        return render(c, req, "master_keys.html", nav="master-keys", rows=rows, kinds=KIND_TITLES,
                      progress=progress(rows))

    async def status(req: Request) -> Response:
        return as_json(progress(await status_rows(req)))

    router.add("GET", "/master-keys", page)
    router.add("GET", "/master-keys/status", status)
