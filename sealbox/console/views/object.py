"""Object overview, Edit server-side encryption, download and delete of one object."""

from __future__ import annotations

import time
import urllib.parse

from sealbox.console.actions import SSE_C_REASON, object_encryption, set_encryption
from sealbox.console.views.keys import encryption_of, usable_kms_keys
from sealbox.console.context import Console
from sealbox.console.views.common import acting, back, error_message, parent_prefix, principal_of, render
from sealbox.console.views.acl import object_acl_part
from sealbox.console.views.objects import breadcrumbs, objects_url
from sealbox.console.views.share import CHOICES
from sealbox.console.views.tags import object_tags, tag_rows
from sealbox.console.views.versions import lock_text, visible_lock
from sealbox.console.web import BadRequest, Request, Response, Router, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import SSE_C, ObjectVersion, Versioning
from sealbox.service.access import allowed
from sealbox.service.kms_sse import kms_info

MAX_VERSIONS_SHOWN = 1000
_ASCII_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+()")


def overview_url(bucket: str, key: str, version_id: str | None = None) -> str:
    return url(f"/buckets/{bucket}/object", key=key, versionId=version_id)


def content_disposition(key: str) -> str:
    """attachment; a plain-ASCII fallback name and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    fallback = "".join(ch if ch in _ASCII_SAFE else "_" for ch in name)[:150] or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


def register(router: Router, c: Console) -> None:
    services = c.services

    def versions_of(req: Request, bucket: str, key: str) -> list[ObjectVersion]:
        principal = acting(req, bucket, query={"versions": "", "prefix": key})
        page = services.objects.list_versions(principal, bucket, key, "", "", "", MAX_VERSIONS_SHOWN)
        return [v for v in page.entries if v.key == key]

    async def overview(req: Request) -> Response:
        name, key = req.params["bucket"], req.query("key")
        version_id = req.query("versionId") or None
        if not key:
            raise BadRequest("key is required")
        principal = acting(req, name, key, {"versionId": version_id} if version_id else None)
        bucket = services.buckets.get(principal, name, "s3:GetObject")
        version = services.objects.lookup(principal, name, key, version_id,
                                          "s3:GetObjectVersion" if version_id else "s3:GetObject")
        versions = versions_of(req, name, key) if bucket.versioning is not Versioning.UNVERSIONED else []
        tags = object_tags(services.objects, req, name, key, version_id)
        # After an encryption change the unencrypted older versions still exist: say so, offer to delete them.
        cleartext = [v for v in versions if not v.is_latest and not v.is_delete_marker and not v.sse] \
            if version.is_latest and version.sse else []
        return render(c, req, "object.html", nav="buckets", bucket=bucket, obj=version, versions=versions,
                      cleartext=cleartext, lock=visible_lock(principal, bucket, version),
                      lock_text=lock_text(visible_lock(principal, bucket, version), time.time()),
                      lock_readable=(allowed(principal, "s3:GetObjectRetention", bucket, key),
                                     allowed(principal, "s3:GetObjectLegalHold", bucket, key)),
                      here=overview_url(name, key, version_id),
                      tags=tags, tag_rows=tag_rows(tags, "object"),
                      key_type=object_encryption(version.sse, version.sealed_key), kms=kms_info(version.sealed_key),
                      crumbs=breadcrumbs(parent_prefix(key)), prefix=parent_prefix(key),
                      name=key[len(parent_prefix(key)):], versioned=bucket.versioning is not Versioning.UNVERSIONED,
                      # the object's ACL and the Share form (sealbox.console.views.acl, share)
                      acl=object_acl_part(c, req, bucket, key, version_id), share_choices=CHOICES)

    async def edit_encryption_page(req: Request) -> Response:
        name, key = req.params["bucket"], req.query("key")
        principal = acting(req, name, key)
        bucket = services.buckets.get(principal, name, "s3:GetObject")
        version = services.objects.lookup(principal, name, key, None)
        return render(c, req, "edit_encryption.html", nav="buckets", bucket=bucket, obj=version, selection=None,
                      crumbs=breadcrumbs(parent_prefix(key)), prefix=parent_prefix(key),
                      rule=services.buckets.default_encryption(bucket),
                      kms_keys=usable_kms_keys(services, principal_of(req)), current=kms_info(version.sealed_key))

    async def save_encryption(req: Request) -> Response:
        name, key = req.params["bucket"], await req.field("key")
        encryption = await encryption_of(req)
        here = overview_url(name, key)
        try:
            outcome = await set_encryption(services, principal_of(req), name, key, encryption)  # aims it itself
        except SealboxError as exc:
            return back(c, req, here, "error", f"Could not edit server-side encryption: {error_message(exc)}")
        if outcome.state == "failed":
            return back(c, req, here, "error", f"Could not edit server-side encryption: {outcome.reason}")
        if outcome.state == "skipped":
            return back(c, req, here, "ok", f"No change: the object is {outcome.reason}.")
        state = f"enabled: {encryption.describe()}" if encryption.sse else "disabled"
        versioned = services.buckets.existing(principal_of(req), name).versioning is not Versioning.UNVERSIONED
        older = " The older version still exists, unchanged: see below." if versioned else ""
        return back(c, req, here, "ok", f"Server-side encryption {state}: a new object was written.{older}")

    async def download(req: Request) -> Response:
        name, key = req.params["bucket"], req.query("key")
        version_id = req.query("versionId") or None
        principal = acting(req, name, key, {"versionId": version_id} if version_id else None)
        action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
        for attempt in range(3):
            version = services.objects.lookup(principal, name, key, version_id, action)
            if version.sse == SSE_C:  # the key is the client's: the console has none to send
                raise SealboxError(ErrorCode.INVALID_REQUEST, "This object is " + SSE_C_REASON + "; download it"
                                   " with an S3 client that sends the key.")
            try:
                stream = services.objects.open_reader(version, 0, version.size)
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue  # overwritten between lookup and open: read the new latest version
            headers = [
                ("content-type", version.content_headers.get("content-type", "application/octet-stream")),
                ("content-length", str(version.size)),
                ("content-disposition", content_disposition(key)),
                ("etag", version.quoted_etag),
                ("cache-control", "no-store"),
                # a stored text/html object must never run as a console page
                ("content-security-policy", "sandbox; default-src 'none'"),
            ]
            return Response(200, headers=headers, stream=stream)
        raise AssertionError("unreachable")

    async def delete(req: Request) -> Response:
        name, key = req.params["bucket"], await req.field("key")
        version_id = await req.field("versionId") or None
        try:
            await services.objects.delete(acting(req, name, key, {"versionId": version_id} if version_id else None),
                                          name, key, version_id)
        except SealboxError as exc:
            return back(c, req, overview_url(name, key, version_id), "error",
                        f"Could not delete: {error_message(exc)}")
        what = f"version {version_id} of {key}" if version_id else key
        return back(c, req, objects_url(name, parent_prefix(key)), "ok", f"Deleted {what}.")

    router.add("GET", "/buckets/{bucket}/object", overview)
    router.add("GET", "/buckets/{bucket}/object/encryption", edit_encryption_page)
    router.add("POST", "/buckets/{bucket}/object/encryption", save_encryption)
    router.add("GET", "/buckets/{bucket}/download", download)
    router.add("POST", "/buckets/{bucket}/object/delete", delete)
