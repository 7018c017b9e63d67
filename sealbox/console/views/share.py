"""Share with a presigned URL (object overview, and the Objects list's Actions menu for one object):
a SigV4 presigned GET link signed with the signed-in user's own access key, for a chosen time
between 1 second and 7 days (``sealbox.console.presign`` says why the console can sign and where the
link points).

The link is made only for an object the user may read now (GetObject, as the S3 request the link
will be), so a link that could only ever answer AccessDenied is not handed out; it is shown once, on
the page that answers the form (never in a cookie or a URL of the console), and each one is an audit
record (``object.presign``) with its expiry.
"""

from __future__ import annotations

import datetime as dt

from sealbox.console.actions import SSE_C_REASON
from sealbox.console.context import Console
from sealbox.console.explain import explain
from sealbox.console.presign import MAX_EXPIRES, MIN_EXPIRES, presigned_get
from sealbox.console.views.common import acting, back, principal_of, render
from sealbox.console.views.access_parts import audit_change
from sealbox.console.web import Request, Response, Router, url
from sealbox.core.errors import SealboxError
from sealbox.core.types import SSE_C

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
CHOICES = (("1 hour", 3600), ("12 hours", 12 * 3600), ("1 day", 86400), ("7 days", MAX_EXPIRES))
OUT_OF_RANGE = "The expiry must be between 1 second and 7 days (604,800 seconds), as AWS allows."


def expiry_of(amount: str, unit: str) -> int | None:
    """Seconds, or None when the form does not name a time from 1 s to 7 days."""
    amount = amount.strip()
    if not amount.isascii() or not amount.isdigit() or unit not in UNITS or len(amount) > 9:
        return None
    seconds = int(amount) * UNITS[unit]
    return seconds if MIN_EXPIRES <= seconds <= MAX_EXPIRES else None


def register(router: Router, c: Console) -> None:
    services = c.services

    async def share(req: Request) -> Response:
        name, key = req.params["bucket"], await req.field("key")
        version_id = await req.field("versionId") or None
        overview = url(f"/buckets/{name}/object", key=key, versionId=version_id)
        preset = await req.field("preset")
        seconds = int(preset) if preset.isdigit() and int(preset) in dict(CHOICES).values() else \
            expiry_of(await req.field("amount"), await req.field("unit"))
        if seconds is None:
            return back(c, req, overview + "#share", "error", f"No link made: {OUT_OF_RANGE}")
        query = {"versionId": version_id} if version_id else None
        principal = acting(req, name, key, query)
        action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
        try:
            version = services.objects.lookup(principal, name, key, version_id, action)
        except SealboxError as exc:
            return back(c, req, overview, "error", explain(services, principal, exc, f"share {key}", name, key,
                                                           action=action))
        if version.sse == SSE_C:  # a link carries no customer key: it could only ever answer 400
            return back(c, req, overview, "error", f"No link made: this object is {SSE_C_REASON}.")
        found = services.identity.lookup(principal_of(req).access_key)
        if found is None:  # the key was deleted after sign-in (the session then ends too)
            return back(c, req, "/signin", "error", "Your access key no longer exists: sign in again.")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        origin = c.s3.origin(req.headers.get("host", ""))
        link = presigned_get(origin, services.buckets.region, principal_of(req).access_key, found[1], name, key,
                             version_id, seconds, now)
        audit_change(req, "object.presign", f"presigned GET {name}/{key} for {seconds} s", name, key=key,
                     version_id=version_id, expires_seconds=seconds)
        return render(c, req, "share.html", nav="buckets", bucket=services.buckets.existing(principal, name),
                      obj=version, link=link, seconds=seconds, expires=(now + dt.timedelta(seconds=seconds)).timestamp(),
                      overview=overview, tail=key)

    router.add("POST", "/buckets/{bucket}/object/share", share)
