"""Bucket CORS operations: PutBucketCors, GetBucketCors, DeleteBucketCors.

The rules and their validation live in ``sealbox.service.cors``; preflights and the CORS headers of
actual responses in ``sealbox.http.cors``.
"""

from __future__ import annotations

from sealbox.core.checksums import HEADER_PREFIX
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.service import cors


def _require_integrity_header(r: Request) -> None:
    """PutBucketCors, like DeleteObjects, requires Content-MD5 (or a flexible checksum) on AWS."""
    if "content-md5" not in r.headers and "x-amz-sdk-checksum-algorithm" not in r.headers and \
            not any(h.startswith(HEADER_PREFIX) for h in r.headers):
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Missing required header for this request: Content-Md5")


async def put_bucket_cors(s: Services, r: Request) -> Response:
    s.buckets.get(r.principal, r.bucket, "s3:PutBucketCORS")  # who may, before what they sent
    _require_integrity_header(r)
    config = cors.from_xml(await r.payload().read_all(cors.MAX_DOCUMENT))
    s.cors.put(r.principal, r.bucket, config)
    return Response(200)


async def get_bucket_cors(s: Services, r: Request) -> Response:
    return Response.xml(cors.to_xml(s.cors.get(r.principal, r.bucket)))


async def delete_bucket_cors(s: Services, r: Request) -> Response:
    s.cors.delete(r.principal, r.bucket)
    return Response(204)


HANDLERS = {
    Op.PUT_BUCKET_CORS: put_bucket_cors,
    Op.GET_BUCKET_CORS: get_bucket_cors,
    Op.DELETE_BUCKET_CORS: delete_bucket_cors,
}
