"""Tags in the console: an object's tags on its overview, a bucket's in its properties — shown and edited.

Reading goes through GetObjectTagging / GetBucketTagging and saving through PutObjectTagging /
PutBucketTagging (``sealbox.service.tagging``) with the policy context of the equivalent S3 request,
so a policy that hides or locks tags (``s3:ExistingObjectTag``…) holds in the console too. The edit
form is plain rows of Key/Value inputs (no script needed); an empty row is skipped, and the rules of
a tag set (``sealbox.core.tags``) are reported as S3 would answer them.
"""

from __future__ import annotations

from sealbox.console.context import Console
from sealbox.console.explain import explain
from sealbox.console.views.common import acting, back
from sealbox.console.web import Request, Response, Router, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.tags import MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, TagKind, validate_tags
from sealbox.service import tagging
from sealbox.service.objects import ObjectService

BLANK_ROWS = 3  # empty rows offered for new tags, up to the limit


def tag_rows(tags: dict[str, str] | None, kind: TagKind) -> list[tuple[str, str]]:
    """The rows of the edit form: the tags, then empty rows for new ones (never past the limit)."""
    have = list((tags or {}).items())
    limit = MAX_OBJECT_TAGS if kind == "object" else MAX_BUCKET_TAGS
    return have + [("", "")] * max(0, min(BLANK_ROWS, limit - len(have)))


def object_tags(objects: ObjectService, req: Request, bucket: str, key: str,
                version_id: str | None) -> dict[str, str] | None:
    """The object's tags, as GetObjectTagging answers this requester; None if it may not read them."""
    query = {"tagging": "", **({"versionId": version_id} if version_id else {})}
    try:
        return tagging.get_object_tags(objects, acting(req, bucket, key, query), bucket, key, version_id)[1].tags
    except SealboxError as exc:
        if exc.code is ErrorCode.ACCESS_DENIED:
            return None
        raise


def bucket_tags(objects: ObjectService, req: Request, bucket: str) -> dict[str, str] | None:
    """The bucket's tags ({} when it has none); None if the requester may not read them."""
    try:
        return tagging.get_bucket_tags(objects, acting(req, bucket, query={"tagging": ""}), bucket)
    except SealboxError as exc:
        if exc.code is ErrorCode.NO_SUCH_TAG_SET:
            return {}
        if exc.code is ErrorCode.ACCESS_DENIED:
            return None
        raise


async def _submitted(req: Request, kind: TagKind) -> dict[str, str]:
    form = await req.form()
    keys, values = form.get("tag_key", []), form.get("tag_value", [])
    pairs = [(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip() or v]
    return validate_tags(pairs, kind)


def register(router: Router, c: Console) -> None:
    objects = c.services.objects

    async def save_object_tags(req: Request) -> Response:
        name, key = req.params["bucket"], await req.field("key")
        version_id = await req.field("versionId") or None
        here = url(f"/buckets/{name}/object", key=key, versionId=version_id)
        query = {"tagging": "", **({"versionId": version_id} if version_id else {})}
        principal = acting(req, name, key, query)
        try:
            tags = await _submitted(req, "object")
            await tagging.put_object_tags(objects, principal, name, key, version_id, tags)
        except SealboxError as exc:
            action = "s3:PutObjectVersionTagging" if version_id else "s3:PutObjectTagging"
            return back(c, req, here, "error", explain(c.services, principal, exc, f"save the tags of {key}", name,
                                                       key, action=action))
        return back(c, req, here, "ok", f"Saved {len(tags)} tag{'' if len(tags) == 1 else 's'}." if tags
                    else "Removed the tags.")

    async def save_bucket_tags(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/properties")
        principal = acting(req, name, query={"tagging": ""})
        try:
            tags = await _submitted(req, "bucket")
            await tagging.put_bucket_tags(objects, principal, name, tags)
        except SealboxError as exc:
            return back(c, req, here, "error", explain(c.services, principal, exc, f"save the tags of bucket {name}",
                                                       name, action="s3:PutBucketTagging"))
        return back(c, req, here, "ok", f"Saved {len(tags)} bucket tag{'' if len(tags) == 1 else 's'}." if tags
                    else "Removed the bucket's tags.")

    router.add("POST", "/buckets/{bucket}/object/tags", save_object_tags)
    router.add("POST", "/buckets/{bucket}/tags", save_bucket_tags)
