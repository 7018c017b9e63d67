"""Buckets list; create and delete a bucket; its versioning and default encryption."""

from __future__ import annotations

from sealbox.console.actions import Action
from sealbox.console.context import Console
from sealbox.console.views import cors, lifecycle, object_lock
from sealbox.console.views.common import acting, back, error_message, principal_of, render
from sealbox.console.views.keys import encryption_of, usable_kms_keys
from sealbox.console.views.permissions import ACCESS_LABELS
from sealbox.console.views.tags import bucket_tags, tag_rows
from sealbox.console.web import Request, Response, Router, redirect, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import SSE_AES256, Versioning
from sealbox.ops.logs import audit
from sealbox.service.identity import Principal
from sealbox.service.permissions import access_level

VERSIONING_LABELS = {Versioning.UNVERSIONED: "Disabled", Versioning.ENABLED: "Enabled",
                     Versioning.SUSPENDED: "Suspended"}


def register(router: Router, c: Console) -> None:
    buckets = c.services.buckets

    async def list_buckets(req: Request) -> Response:
        principal = principal_of(req)
        rows = [(b, buckets.default_encryption(b), ACCESS_LABELS[access_level(b)]) for b in buckets.list(principal)[0]]
        return render(c, req, "buckets.html", nav="buckets", rows=rows, versioning=VERSIONING_LABELS,
                      server_default=buckets.server_default_sse)

    async def create(req: Request) -> Response:
        name = (await req.field("name")).strip()
        principal = acting(req, name)
        try:
            if _exists(principal, name):
                # CreateBucket answers 200 for a bucket you own (us-east-1, as AWS): not for a person
                # who asked for a new one, whose versioning and encryption choices would then change
                # an existing bucket.
                raise SealboxError(ErrorCode.BUCKET_ALREADY_EXISTS, "A bucket with this name already exists.")
            # Object Lock at creation turns versioning on, for good (as x-amz-bucket-object-lock-enabled).
            lock = await req.field("object_lock") == "on"
            buckets.create(principal, name, None, object_lock=lock)
            if lock:
                audit("bucket.object_lock.put", f"bucket {name} created with Object Lock", principal=principal.name,
                      bucket=name, via="console")
            if await req.field("versioning") == "on" and not lock:
                buckets.set_versioning(principal, name, Versioning.ENABLED)
            if await req.field("encryption") == "on":
                buckets.set_encryption(principal, name, SSE_AES256)
        except SealboxError as exc:
            return back(c, req, "/buckets", "error", f"Could not create bucket {name!r}: {error_message(exc)}")
        return back(c, req, "/buckets", "ok", f"Created bucket {name!r}.")

    def _exists(principal: Principal, name: str) -> bool:
        try:
            buckets.existing(principal, name)
        except SealboxError as exc:
            if exc.code is ErrorCode.NO_SUCH_BUCKET:
                return False
            raise
        return True

    async def properties(req: Request) -> Response:
        bucket = buckets.get(acting(req, req.params["bucket"]), req.params["bucket"], "s3:ListBucket")
        tags = bucket_tags(c.services.objects, req, bucket.name)
        return render(c, req, "bucket_properties.html", nav="buckets", bucket=bucket,
                      versioning=VERSIONING_LABELS[bucket.versioning], rule=buckets.default_encryption(bucket),
                      server_default=buckets.server_default_sse,
                      cors=cors.summary(c, acting(req, bucket.name, query={"cors": ""}), bucket.name),
                      tags=tags, tag_rows=tag_rows(tags, "bucket"),
                      lifecycle_rules=lifecycle.summary(c, acting(req, bucket.name, query={"lifecycle": ""}), bucket.name),
                      lock=object_lock.configuration(c, acting(req, bucket.name, query={"object-lock": ""}), bucket.name),
                      kms_keys=usable_kms_keys(c.services, principal_of(req)))

    async def set_versioning(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/properties")
        state = await req.field("versioning")
        try:
            buckets.set_versioning(acting(req, name), name, Versioning.ENABLED if state == "Enabled"
                                   else Versioning.SUSPENDED)
        except SealboxError as exc:
            return back(c, req, here, "error", error_message(exc))
        return back(c, req, here, "ok", f"Bucket versioning is now {'Enabled' if state == 'Enabled' else 'Suspended'}.")

    async def set_encryption(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/properties")
        chosen = await encryption_of(req)
        try:
            buckets.set_encryption(acting(req, name), name, chosen.sse, chosen.bucket_key, chosen.kms_key_id)
        except SealboxError as exc:
            return back(c, req, here, "error", error_message(exc))
        text = f"Default encryption: {chosen.describe()}." if chosen.sse else "Default encryption removed."
        return back(c, req, here, "ok", text)

    async def delete(req: Request) -> Response:
        name = req.params["bucket"]
        if (await req.field("confirm")).strip() != name:
            return back(c, req, url(f"/buckets/{name}/properties"), "error",
                        f"Bucket {name!r} was not deleted: type its name exactly to confirm.")
        try:
            await c.services.objects.delete_bucket(acting(req, name), name)
        except SealboxError as exc:
            return back(c, req, url(f"/buckets/{name}/properties"), "error",
                        f"Could not delete bucket {name!r}: {error_message(exc)}")
        return back(c, req, "/buckets", "ok", f"Deleted bucket {name!r}.")

    async def empty(req: Request) -> Response:
        """Empty bucket: a job that deletes every version and delete marker, with progress."""
        name = req.params["bucket"]
        if (await req.field("confirm")).strip() != name:
            return back(c, req, url(f"/buckets/{name}/properties"), "error",
                        f"Bucket {name!r} was not emptied: type its name exactly to confirm.")
        buckets.get(acting(req, name, query={"versions": ""}), name, "s3:ListBucketVersions")  # refused up front
        job_id = await c.jobs.start(principal_of(req), name, Action.EMPTY, [], [""])
        return redirect(f"/jobs/{job_id}")

    router.add("GET", "/buckets", list_buckets)
    router.add("POST", "/buckets", create)
    router.add("GET", "/buckets/{bucket}/properties", properties)
    router.add("POST", "/buckets/{bucket}/versioning", set_versioning)
    router.add("POST", "/buckets/{bucket}/encryption", set_encryption)
    router.add("POST", "/buckets/{bucket}/delete", delete)
    router.add("POST", "/buckets/{bucket}/empty", empty)
