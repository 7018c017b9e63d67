"""PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects."""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree.ElementTree import Element

from sealbox.core.checksums import HEADER_PREFIX
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import DeleteCondition
from sealbox.core.types import NULL_VERSION, Bucket, ObjectVersion
from sealbox.http.acl_xml import acl_request
from sealbox.http.handlers.base import Services, customer, version_headers
from sealbox.http.handlers.lifecycle import expiration_header
from sealbox.http.handlers.object_lock import bypass_asked, lock_headers, lock_request, require_integrity
from sealbox.http.headers import (
    conditions,
    content_headers,
    delete_condition,
    encode_rfc2047,
    parse_range,
    parse_size,
    parse_timestamp,
    user_metadata,
)
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.tagging import TAGGING_HEADER, parse_tagging_header
from sealbox.http.sse_c import ssec_headers
from sealbox.http.sse_kms import KMS_HEADERS, kms_headers, kms_request
from sealbox.http.xml import child_text, doc, el, http_date, parse
from sealbox.service.access import allowed
from sealbox.service.identity import Principal
from sealbox.service.objects import ReadSpec, WriteParams, check_sse_value
from sealbox.service.policy_conditions import existing_tag_values
from sealbox.service.sse_c import CustomerKey

SSE_HEADER = "x-amz-server-side-encryption"
_RESPONSE_OVERRIDES = {
    "response-content-type": "content-type", "response-content-language": "content-language",
    "response-expires": "expires", "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition", "response-content-encoding": "content-encoding",
}
_STORAGE_CLASSES = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                    "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE"}
MAX_DELETE_KEYS = 1000


def _not_implemented(header: str, detail: str) -> SealboxError:
    return SealboxError(ErrorCode.NOT_IMPLEMENTED, "A header you provided implies functionality that is not"
                        " implemented", Header=header, additionalMessage=detail)


def write_conditions(headers: Mapping[str, str]) -> tuple[bool, str | None]:
    """(If-None-Match: *, If-Match ETag without quotes) of a conditional write, refused as AWS refuses them:
    If-None-Match takes only ``*``, If-Match only an ETag, and not both at once (501 NotImplemented)."""
    none_match, match = headers.get("if-none-match"), headers.get("if-match")
    if none_match is not None and match is not None:
        raise _not_implemented("If-Match,If-None-Match", "Multiple conditional request headers present in the"
                               " request")
    if none_match is not None and none_match.strip() != "*":
        raise _not_implemented("If-None-Match", "We don't accept the provided value of If-None-Match header for"
                               " this API")
    if match is not None and match.strip() == "*":
        raise _not_implemented("If-Match", "We don't accept the provided value of If-Match header for this API")
    return none_match is not None, match.strip().strip('"') if match is not None else None


def write_params(headers: Mapping[str, str], customer: CustomerKey | None = None) -> WriteParams:
    """What a write stores besides the bytes, from the request's headers (or a POST form's fields);
    ``customer``: the SSE-C key they carry (``handlers.base.customer``)."""
    storage_class = headers.get("x-amz-storage-class", "STANDARD")
    if storage_class not in _STORAGE_CLASSES:
        raise SealboxError(ErrorCode.INVALID_STORAGE_CLASS, "The storage class you specified is not valid",
                           StorageClassRequested=storage_class)
    if_none_match_star, if_match = write_conditions(headers)
    tagging = headers.get(TAGGING_HEADER)
    sse = check_sse_value(headers.get(SSE_HEADER))
    return WriteParams(content_headers=content_headers(headers), user_meta=user_metadata(headers),
                       sse=sse, storage_class=storage_class, kms=kms_request(headers, sse), customer=customer,
                       if_none_match_star=if_none_match_star, if_match=if_match,
                       acl=acl_request(headers),

                       lock=lock_request(headers),
                       tags=parse_tagging_header(tagging) if tagging is not None else None)


def checksum_headers(v: ObjectVersion) -> dict[str, str]:
    headers = {f"{HEADER_PREFIX}{a.lower()}": value for a, value in v.checksums.items()}
    if v.checksum_type and headers:
        headers["x-amz-checksum-type"] = v.checksum_type
    return headers


def part_checksum_headers(v: ObjectVersion, part_number: int) -> dict[str, str]:
    """GET/HEAD ``?partNumber=N`` of a multipart object, checksum mode on: AWS answers with that part's
    checksum (the one UploadPart and ListParts gave) and the object's checksum type."""
    if not v.part_count or not v.checksums or len(v.part_checksums) != len(v.extents):
        return {}
    algorithm = next(iter(v.checksums))
    for extent, value in zip(v.extents, v.part_checksums, strict=True):
        if extent.index == part_number and value:
            return {f"{HEADER_PREFIX}{algorithm.lower()}": value, "x-amz-checksum-type": v.checksum_type or "COMPOSITE"}
    return {}


def _default_retention_applies(s: Services, r: Request) -> bool:
    """AWS wants Content-MD5 or a checksum also when the bucket's default retention will lock the version."""
    bucket = s.buckets.existing(r.principal, r.bucket)
    return bucket.object_lock and bool(bucket.lock_default)


async def put_object(s: Services, r: Request) -> Response:
    key = customer(s, r)
    params = write_params(r.headers, key)
    if params.lock is not None or _default_retention_applies(s, r):
        require_integrity(r.headers)
    version = await s.objects.put(r.principal, r.bucket, r.key, r.payload(), params)
    return Response(200, {"etag": version.quoted_etag, **version_headers(version), **checksum_headers(version),
                          **expiration_header(s, s.buckets.existing(r.principal, r.bucket), version),
                          **kms_headers(version.sealed_key, context=True), **ssec_headers(key)})


def tag_count_visible(principal: Principal, bucket: Bucket, v: ObjectVersion, version_id: str | None) -> bool:
    """AWS sends x-amz-tagging-count to a requester who may read the object's tags."""
    action = "s3:GetObjectVersionTagging" if version_id else "s3:GetObjectTagging"
    return bool(v.tags) and allowed(principal, action, bucket, v.key, extra=existing_tag_values(v.tags))


def object_headers(v: ObjectVersion, r: Request, bucket: Bucket | None = None) -> dict[str, str]:
    headers = {"last-modified": http_date(v.last_modified), "etag": v.quoted_etag, "accept-ranges": "bytes",
               **v.content_headers, **version_headers(v)}
    for name, value in v.user_meta.items():
        headers[f"x-amz-meta-{name}"] = encode_rfc2047(value)
    if v.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = v.storage_class
    headers.update(lock_headers(v, r.principal, bucket))
    # A checksum covers the whole object: a ranged or part read must not claim it.
    whole = "partNumber" not in r.query and "range" not in r.headers
    if r.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        if whole:
            headers.update(checksum_headers(v))
        elif r.route.part_number and "range" not in r.headers:
            headers.update(part_checksum_headers(v, r.route.part_number))
    for param, header in _RESPONSE_OVERRIDES.items():
        if param in r.query:
            headers[header] = r.query[param]
    return headers


def _refuse_sse_on_read(r: Request) -> None:
    """Amazon S3 answers 400 when a GET or HEAD carries the SSE request header."""
    for name in (SSE_HEADER, *KMS_HEADERS):
        if name in r.headers:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"The {name} header is not supported for this"
                               " operation.", ArgumentName=name, ArgumentValue=r.headers[name])


async def _read(s: Services, r: Request, with_body: bool) -> Response:
    _refuse_sse_on_read(r)
    key = customer(s, r)
    route = r.route
    if route.part_number and "range" in r.headers:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Cannot specify both Range header and partNumber query"
                           " parameter")
    spec = ReadSpec(version_id=route.version_id, conditions=conditions(r.headers), part_number=route.part_number,
                    byte_range=None if route.part_number else parse_range(r.headers.get("range")), body=with_body,
                    customer=key)
    read = s.objects.read(r.principal, r.bucket, r.key, spec)
    v = read.version
    headers = object_headers(v, r, read.bucket)
    headers.update(expiration_header(s, read.bucket, v))
    headers.update(ssec_headers(key))
    if v.version_id == NULL_VERSION and (route.version_id is not None or s.objects.names_null_version(read.bucket)):
        headers["x-amz-version-id"] = NULL_VERSION
    if tag_count_visible(r.principal, read.bucket, v, route.version_id):
        headers["x-amz-tagging-count"] = str(len(v.tags))
    if route.part_number and v.part_count:
        headers["x-amz-mp-parts-count"] = str(v.part_count)
    if read.partial:
        end = read.start + read.length - 1
        headers["content-range"] = f"bytes {read.start}-{end}/{v.size}" if read.length else f"bytes */{v.size}"
    headers["content-length"] = str(read.length)
    status = 206 if read.partial else 200
    if read.body is not None:
        return Response(status, headers, read.body)
    return Response(status, headers, stream=read.stream)


async def get_object(s: Services, r: Request) -> Response:
    return await _read(s, r, True)


async def head_object(s: Services, r: Request) -> Response:
    return await _read(s, r, False)


async def delete_object(s: Services, r: Request) -> Response:
    condition = delete_condition(r.headers)
    if condition.if_match is not None and r.route.version_id is not None:
        # AWS evaluates If-Match on the current version only, and refuses it with a version id.
        raise _not_implemented("If-Match", "Conditional deletes are evaluated against the current version;"
                               " If-Match cannot be combined with a versionId")
    result = await s.objects.delete(r.principal, r.bucket, r.key, r.route.version_id, bypass_asked(r.headers),
                                    condition=condition)
    headers: dict[str, str] = {}
    if result.version_id:
        headers["x-amz-version-id"] = result.version_id
    if result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    return Response(204, headers)


def _entry_condition(node: Element) -> DeleteCondition:
    """A DeleteObjects entry's ETag, LastModifiedTime and Size: the conditions of DeleteObject's headers
    (a value that is no timestamp or size does not validate against the schema: MalformedXML)."""
    etag, when, size = (child_text(node, name) for name in ("ETag", "LastModifiedTime", "Size"))
    try:
        return DeleteCondition(if_match=etag.strip().strip('"') if etag is not None else None,
                               last_modified=parse_timestamp(when, "LastModifiedTime") if when is not None else None,
                               size=parse_size(size, "Size") if size is not None else None)
    except SealboxError:
        raise SealboxError(ErrorCode.MALFORMED_XML) from None


async def delete_objects(s: Services, r: Request) -> Response:
    if "content-md5" not in r.headers and not any(h.startswith(HEADER_PREFIX) for h in r.headers) and \
            "x-amz-sdk-checksum-algorithm" not in r.headers:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Missing required header for this request: Content-Md5")
    root = parse(await r.payload().read_all(2 * 1024 * 1024))
    objects = root.findall("Object")
    if root.tag != "Delete" or not objects or len(objects) > MAX_DELETE_KEYS:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    quiet = (child_text(root, "Quiet") or "false").strip().lower() == "true"
    s.buckets.existing(r.principal, r.bucket)  # each key is authorized on its own below, as on AWS
    out: list[str] = []
    for node in objects:
        key = child_text(node, "Key")
        version_id = child_text(node, "VersionId")
        if not key:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        condition = _entry_condition(node)
        try:
            if condition.if_match is not None and version_id is not None:
                raise _not_implemented("ETag", "Conditional deletes are evaluated against the current version; an"
                                       " ETag cannot be combined with a VersionId")
            result = await s.objects.delete(r.principal, r.bucket, key, version_id, bypass_asked(r.headers),
                                            condition=condition)
        except SealboxError as exc:
            out.append(f"<Error>{el('Key', key)}{el('VersionId', version_id) if version_id else ''}"
                       f"{el('Code', exc.code.value)}{el('Message', exc.message or exc.code.value)}</Error>")
            continue
        if quiet:
            continue
        parts = [el("Key", key)]
        if version_id:
            parts.append(el("VersionId", version_id))
        if result.delete_marker:
            # A marker made by this delete, or the marker this delete removed (named by its version id).
            parts.append(el("DeleteMarker", True))
            if result.version_id:
                parts.append(el("DeleteMarkerVersionId", result.version_id))
        out.append(f"<Deleted>{''.join(parts)}</Deleted>")
    return Response.xml(doc("DeleteResult", out))


HANDLERS = {
    Op.PUT_OBJECT: put_object,
    Op.GET_OBJECT: get_object,
    Op.HEAD_OBJECT: head_object,
    Op.DELETE_OBJECT: delete_object,
    Op.DELETE_OBJECTS: delete_objects,
}
