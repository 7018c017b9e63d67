"""Access-control operations: Get/PutBucketAcl, Get/PutObjectAcl, the OwnershipControls and
PublicAccessBlock sub-resources, GetBucketPolicyStatus (semantics: ``service.permissions``)."""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.acl_xml import (
    acl_request,
    parse_access_control_policy,
    parse_ownership,
    parse_public_access_block,
    render_acl,
    render_ownership,
    render_policy_status,
    render_public_access_block,
)
from sealbox.http.handlers.base import Services, version_headers
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.service import permissions as perm
from sealbox.service.acl import AclRequest

_MAX_BODY = 64 * 1024


async def _requested_acl(r: Request) -> AclRequest:
    """From the headers or the body, not both (AWS: UnexpectedContent); one of them is required."""
    from_headers = acl_request(r.headers)
    body = await r.payload().read_all(_MAX_BODY)
    if from_headers is not None:
        if body.strip():
            raise SealboxError(ErrorCode.INVALID_REQUEST, "This request does not support content")
        return from_headers
    if not body.strip():
        raise SealboxError(ErrorCode.MISSING_REQUEST_BODY, "Request Body is empty")
    return parse_access_control_policy(body)


async def get_bucket_acl(s: Services, r: Request) -> Response:
    acl = perm.get_bucket_acl(s.buckets, r.principal, r.bucket)
    return Response.xml(render_acl(acl, s.buckets.resolve_canonical_id))


async def put_bucket_acl(s: Services, r: Request) -> Response:
    s.buckets.get(r.principal, r.bucket, "s3:PutBucketAcl")  # who may, before what they sent
    perm.put_bucket_acl(s.buckets, r.principal, r.bucket, await _requested_acl(r))
    return Response(200)


async def get_object_acl(s: Services, r: Request) -> Response:
    acl = perm.get_object_acl(s.buckets, r.principal, r.bucket, r.key, r.route.version_id)
    headers = {"x-amz-version-id": r.route.version_id} if r.route.version_id else {}
    return Response.xml(render_acl(acl, s.buckets.resolve_canonical_id), headers=headers)


async def put_object_acl(s: Services, r: Request) -> Response:
    request = await _requested_acl(r)
    version = perm.put_object_acl(s.buckets, r.principal, r.bucket, r.key, r.route.version_id, request)
    return Response(200, {k: v for k, v in version_headers(version).items() if k == "x-amz-version-id"})


async def get_ownership_controls(s: Services, r: Request) -> Response:
    return Response.xml(render_ownership(perm.get_ownership(s.buckets, r.principal, r.bucket)))


async def put_ownership_controls(s: Services, r: Request) -> Response:
    s.buckets.get(r.principal, r.bucket, "s3:PutBucketOwnershipControls")
    ownership = parse_ownership(await r.payload().read_all(_MAX_BODY))
    perm.put_ownership(s.buckets, r.principal, r.bucket, ownership)
    return Response(200)


async def delete_ownership_controls(s: Services, r: Request) -> Response:
    perm.put_ownership(s.buckets, r.principal, r.bucket, None)
    return Response(204)


async def get_public_access_block(s: Services, r: Request) -> Response:
    block = perm.get_public_access_block(s.buckets, r.principal, r.bucket)
    return Response.xml(render_public_access_block(block))


async def put_public_access_block(s: Services, r: Request) -> Response:
    s.buckets.get(r.principal, r.bucket, "s3:PutBucketPublicAccessBlock")
    block = parse_public_access_block(await r.payload().read_all(_MAX_BODY))
    perm.put_public_access_block(s.buckets, r.principal, r.bucket, block)
    return Response(200)


async def delete_public_access_block(s: Services, r: Request) -> Response:
    perm.put_public_access_block(s.buckets, r.principal, r.bucket, None)
    return Response(204)


async def get_policy_status(s: Services, r: Request) -> Response:
    return Response.xml(render_policy_status(perm.policy_status(s.buckets, r.principal, r.bucket)))


HANDLERS = {
    Op.GET_BUCKET_ACL: get_bucket_acl,
    Op.PUT_BUCKET_ACL: put_bucket_acl,
    Op.GET_OBJECT_ACL: get_object_acl,
    Op.PUT_OBJECT_ACL: put_object_acl,
    Op.GET_BUCKET_OWNERSHIP_CONTROLS: get_ownership_controls,
    Op.PUT_BUCKET_OWNERSHIP_CONTROLS: put_ownership_controls,
    Op.DELETE_BUCKET_OWNERSHIP_CONTROLS: delete_ownership_controls,
    Op.GET_PUBLIC_ACCESS_BLOCK: get_public_access_block,
    Op.PUT_PUBLIC_ACCESS_BLOCK: put_public_access_block,
    Op.DELETE_PUBLIC_ACCESS_BLOCK: delete_public_access_block,
    Op.GET_BUCKET_POLICY_STATUS: get_policy_status,
}
