"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging; GetBucketTagging, PutBucketTagging, DeleteBucketTagging."""

from __future__ import annotations

from sealbox.core.types import NULL_VERSION, Bucket, ObjectVersion
from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.tagging import MAX_TAGGING_XML, parse_tagging_xml, tagging_xml
from sealbox.service import tagging as tg


def _version_header(s: Services, r: Request, bucket: Bucket, v: ObjectVersion) -> dict[str, str]:
    """x-amz-version-id of the version tagged ("null" once the bucket has had versioning, as for GET)."""
    if v.version_id != NULL_VERSION or r.route.version_id is not None or s.objects.names_null_version(bucket):
        return {"x-amz-version-id": v.version_id}
    return {}


async def get_object_tagging(s: Services, r: Request) -> Response:
    bucket, v = tg.get_object_tags(s.objects, r.principal, r.bucket, r.key, r.route.version_id)
    return Response.xml(tagging_xml(v.tags), headers=_version_header(s, r, bucket, v))


async def put_object_tagging(s: Services, r: Request) -> Response:
    tags = parse_tagging_xml(await r.payload().read_all(MAX_TAGGING_XML), "object")
    bucket, v = await tg.put_object_tags(s.objects, r.principal, r.bucket, r.key, r.route.version_id, tags)
    return Response(200, _version_header(s, r, bucket, v))


async def delete_object_tagging(s: Services, r: Request) -> Response:
    bucket, v = await tg.delete_object_tags(s.objects, r.principal, r.bucket, r.key, r.route.version_id)
    return Response(204, _version_header(s, r, bucket, v))


async def get_bucket_tagging(s: Services, r: Request) -> Response:
    return Response.xml(tagging_xml(tg.get_bucket_tags(s.objects, r.principal, r.bucket)))


async def put_bucket_tagging(s: Services, r: Request) -> Response:
    tags = parse_tagging_xml(await r.payload().read_all(MAX_TAGGING_XML), "bucket")
    await tg.put_bucket_tags(s.objects, r.principal, r.bucket, tags)
    return Response(204)


async def delete_bucket_tagging(s: Services, r: Request) -> Response:
    await tg.delete_bucket_tags(s.objects, r.principal, r.bucket)
    return Response(204)


HANDLERS = {
    Op.GET_OBJECT_TAGGING: get_object_tagging,
    Op.PUT_OBJECT_TAGGING: put_object_tagging,
    Op.DELETE_OBJECT_TAGGING: delete_object_tagging,
    Op.GET_BUCKET_TAGGING: get_bucket_tagging,
    Op.PUT_BUCKET_TAGGING: put_bucket_tagging,
    Op.DELETE_BUCKET_TAGGING: delete_bucket_tagging,
}
