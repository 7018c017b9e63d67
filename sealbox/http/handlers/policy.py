"""Bucket policy operations: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy.

The document is stored and returned exactly as put (AWS returns it verbatim too); validation and
evaluation live in ``sealbox.service.policy``.
"""

from __future__ import annotations

from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.service.policy import MAX_POLICY_SIZE, malformed

# Read a little past the limit so that an oversized document is told apart from a truncated one.
_READ_LIMIT = MAX_POLICY_SIZE + 1024


async def put_bucket_policy(s: Services, r: Request) -> Response:
    s.buckets.get(r.principal, r.bucket, "s3:PutBucketPolicy")  # who may, before what they sent
    if _declared_size(r) > _READ_LIMIT:
        raise malformed("Policy exceeds the maximum allowed document size.")
    body = await r.payload().read_all(_READ_LIMIT)
    if len(body) > MAX_POLICY_SIZE:
        raise malformed("Policy exceeds the maximum allowed document size.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed("This policy contains invalid Json") from None
    s.buckets.put_policy(r.principal, r.bucket, text)
    return Response(204)


def _declared_size(r: Request) -> int:
    value = r.headers.get("x-amz-decoded-content-length") or r.headers.get("content-length") or "0"
    return int(value) if value.isdigit() else 0


async def get_bucket_policy(s: Services, r: Request) -> Response:
    text = s.buckets.get_policy(r.principal, r.bucket)
    return Response(200, {"content-type": "application/json"}, text.encode("utf-8"))


async def delete_bucket_policy(s: Services, r: Request) -> Response:
    s.buckets.delete_policy(r.principal, r.bucket)
    return Response(204)


HANDLERS = {
    Op.PUT_BUCKET_POLICY: put_bucket_policy,
    Op.GET_BUCKET_POLICY: get_bucket_policy,
    Op.DELETE_BUCKET_POLICY: delete_bucket_policy,
}
