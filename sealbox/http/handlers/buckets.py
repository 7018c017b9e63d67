"""Bucket operations: list, create, head, delete, location, versioning, default encryption."""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Versioning
from sealbox.http.acl_xml import acl_request, check_ownership_header
from sealbox.http.handlers.base import Services, decode_token, encode_token, int_param, owner_xml
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import child_text, doc, el, iso8601, parse
from sealbox.service import permissions

_MAX_CONFIG_BODY = 64 * 1024


async def list_buckets(s: Services, r: Request) -> Response:
    """ListBuckets, paginated as AWS does since 2024: ``max-buckets`` (1-10000), an opaque
    ``continuation-token`` (given back while more follow), ``prefix`` and ``bucket-region``."""
    limit = int_param(r.query, "max-buckets", 0, 1, 10000) if r.query.get("max-buckets") else None
    token = r.query.get("continuation-token")
    after = decode_token(token, "continuation-token") if token else ""
    prefix = r.query.get("prefix", "")
    buckets, truncated = s.buckets.list(r.principal, prefix, r.query.get("bucket-region"), after, limit)
    items = "".join(f"<Bucket>{el('Name', b.name)}{el('CreationDate', iso8601(b.created))}"
                    f"{el('BucketRegion', b.region)}</Bucket>" for b in buckets)
    parts = [owner_xml(r.principal.name), f"<Buckets>{items}</Buckets>"]
    if truncated:
        parts.append(el("ContinuationToken", encode_token(buckets[-1].name)))
    if "prefix" in r.query:
        parts.append(el("Prefix", prefix))
    return Response.xml(doc("ListAllMyBucketsResult", parts))


async def create_bucket(s: Services, r: Request) -> Response:
    body = await r.payload().read_all(_MAX_CONFIG_BODY)
    location = None
    if body.strip():
        location = child_text(parse(body), "LocationConstraint")
    ownership, acl = permissions.for_new_bucket(s.buckets, r.principal, r.bucket, acl_request(r.headers),
                                                check_ownership_header(r.headers.get("x-amz-object-ownership")))
    lock = r.headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true"
    s.buckets.create(r.principal, r.bucket, location, ownership=ownership, acl=acl, object_lock=lock)
    return Response(200, {"location": f"/{r.bucket}"})


async def head_bucket(s: Services, r: Request) -> Response:
    bucket = s.buckets.get(r.principal, r.bucket, "s3:ListBucket")
    return Response(200, {"x-amz-bucket-region": bucket.region})


async def delete_bucket(s: Services, r: Request) -> Response:
    await s.objects.delete_bucket(r.principal, r.bucket)
    return Response(204)


async def get_bucket_location(s: Services, r: Request) -> Response:
    bucket = s.buckets.get(r.principal, r.bucket, "s3:GetBucketLocation")
    region = "" if bucket.region == "us-east-1" else bucket.region
    return Response.xml(doc("LocationConstraint", [region.replace("<", "")]))


async def get_bucket_versioning(s: Services, r: Request) -> Response:
    bucket = s.buckets.get(r.principal, r.bucket, "s3:GetBucketVersioning")
    status = [el("Status", bucket.versioning.value)] if bucket.versioning is not Versioning.UNVERSIONED else []
    return Response.xml(doc("VersioningConfiguration", status))


async def put_bucket_versioning(s: Services, r: Request) -> Response:
    root = parse(await r.payload().read_all(_MAX_CONFIG_BODY))
    status = child_text(root, "Status")
    if root.tag != "VersioningConfiguration" or status not in ("Enabled", "Suspended"):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    mfa = child_text(root, "MfaDelete")
    if mfa not in (None, "Disabled"):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "MFA delete is not supported by sealbox",
                           ArgumentName="MfaDelete", ArgumentValue=mfa or "")
    s.buckets.set_versioning(r.principal, r.bucket, Versioning(status))
    return Response(200)


async def get_bucket_encryption(s: Services, r: Request) -> Response:
    bucket = s.buckets.get(r.principal, r.bucket, "s3:GetEncryptionConfiguration")
    rule = s.buckets.default_encryption(bucket)
    if rule is None:
        raise SealboxError(ErrorCode.SSE_CONFIG_NOT_FOUND, "The server side encryption configuration was not"
                           " found", BucketName=r.bucket)
    algorithm, bucket_key = rule
    master = el("KMSMasterKeyID", bucket.default_kms_key_id) if bucket.default_kms_key_id else ""
    body = (f"<Rule><ApplyServerSideEncryptionByDefault>{el('SSEAlgorithm', algorithm)}{master}"
            f"</ApplyServerSideEncryptionByDefault>{el('BucketKeyEnabled', bucket_key)}</Rule>")
    return Response.xml(doc("ServerSideEncryptionConfiguration", [body]))


# The SSEAlgorithm values of AWS's schema: any other value is MalformedXML there.
_SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


async def put_bucket_encryption(s: Services, r: Request) -> Response:
    # As on AWS, a missing bucket (or a refused caller) is reported before the XML is looked at.
    s.buckets.get(r.principal, r.bucket, "s3:PutEncryptionConfiguration")
    root = parse(await r.payload().read_all(_MAX_CONFIG_BODY))
    rules = root.findall("Rule")
    if root.tag != "ServerSideEncryptionConfiguration" or len(rules) != 1:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    default = rules[0].find("ApplyServerSideEncryptionByDefault")
    algorithm = child_text(default, "SSEAlgorithm") if default is not None else None
    if algorithm not in _SSE_ALGORITHMS:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    if default is not None and default.find("KMSMasterKeyID") is not None and algorithm == "AES256":
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "a KMSMasterKeyID is not applicable if the default"
                           " sse algorithm is not aws:kms or aws:kms:dsse", ArgumentName="ApplyServerSideEncryptionByDefault")
    bucket_key = (child_text(rules[0], "BucketKeyEnabled") or "false").strip().lower() == "true"
    master = child_text(default, "KMSMasterKeyID") if default is not None else None
    if master is not None and not master.strip():
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "KMSMasterKeyID must not be empty",
                           ArgumentName="KMSMasterKeyID", ArgumentValue=master)
    s.buckets.set_encryption(r.principal, r.bucket, algorithm, bucket_key, master.strip() if master else None)
    return Response(200)


async def delete_bucket_encryption(s: Services, r: Request) -> Response:
    s.buckets.set_encryption(r.principal, r.bucket, None)
    return Response(204)


HANDLERS = {
    Op.LIST_BUCKETS: list_buckets,
    Op.CREATE_BUCKET: create_bucket,
    Op.HEAD_BUCKET: head_bucket,
    Op.DELETE_BUCKET: delete_bucket,
    Op.GET_BUCKET_LOCATION: get_bucket_location,
    Op.GET_BUCKET_VERSIONING: get_bucket_versioning,
    Op.PUT_BUCKET_VERSIONING: put_bucket_versioning,
    Op.GET_BUCKET_ENCRYPTION: get_bucket_encryption,
    Op.PUT_BUCKET_ENCRYPTION: put_bucket_encryption,
    Op.DELETE_BUCKET_ENCRYPTION: delete_bucket_encryption,
}
