"""Multipart upload: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads."""

from __future__ import annotations

import re
from urllib.parse import quote

from sealbox.core.checksums import ALGORITHMS, HEADER_PREFIX
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.body import RequestPayload
from sealbox.http.handlers.base import Services, customer, int_param, owner_xml, version_headers
from sealbox.http.handlers.copy import copy_conditions, copy_source_headers, parse_copy_source
from sealbox.http.handlers.objects import SSE_HEADER, write_conditions, write_params
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.sse_c import ALGORITHM, ssec_headers
from sealbox.http.sse_kms import KMS_HEADERS, kms_headers
from sealbox.http.xml import child_text, doc, el, iso8601, parse
from sealbox.service import multipart as mp
from sealbox.core.types import SSE_C
from sealbox.storage.meta.base import Part, Upload

_COMPLETE_XML_LIMIT = 4 * 1024 * 1024  # 10,000 parts with checksums exceed the 1 MiB default
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


def _sse_headers(upload: Upload, context: bool = False) -> dict[str, str]:
    if not upload.sse:
        return {}
    if upload.sse == SSE_C:  # the key MD5 comes from the request (ssec_headers)
        return {ALGORITHM: "AES256"}
    return {SSE_HEADER: upload.sse, **kms_headers(upload.sealed_key, context=context)}


def _refuse_sse_header(r: Request) -> None:
    """UploadPart and Complete inherit the upload's encryption; AWS refuses the headers on them."""
    for name in (SSE_HEADER, *KMS_HEADERS):
        if name in r.headers:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"{name} header is not supported for this operation.",
                               ArgumentName=name, ArgumentValue=r.headers[name])


def _checksum_xml(checksums: dict[str, str]) -> list[str]:
    return [el(f"Checksum{a}", v) for a, v in sorted(checksums.items())]


def _checksum_headers(checksums: dict[str, str]) -> dict[str, str]:
    return {f"{HEADER_PREFIX}{a.lower()}": v for a, v in checksums.items()}


async def create_multipart_upload(s: Services, r: Request) -> Response:
    key = customer(s, r)
    params = mp.UploadParams(write=write_params(r.headers, key), checksum_algorithm=r.headers.get("x-amz-checksum-algorithm"),
                             checksum_type=r.headers.get("x-amz-checksum-type"))
    upload = await mp.create_upload(s.objects, r.principal, r.bucket, r.key, params)
    headers = {**_sse_headers(upload, context=True), **ssec_headers(key)}
    if upload.checksum_algorithm:
        headers["x-amz-checksum-algorithm"] = upload.checksum_algorithm
        headers["x-amz-checksum-type"] = upload.checksum_type or mp.COMPOSITE
    body = doc("InitiateMultipartUploadResult", [el("Bucket", upload.bucket), el("Key", upload.key),
                                                 el("UploadId", upload.upload_id)])
    return Response.xml(body, headers=headers)


async def upload_part(s: Services, r: Request) -> Response:
    _refuse_sse_header(r)
    number = r.route.part_number
    key = customer(s, r)
    part, upload = await mp.upload_part(s.objects, r.principal, r.bucket, r.key, r.route.upload_id or "",
                                        number, r.payload(), key)
    return Response(200, {"etag": f'"{part.etag}"', **_sse_headers(upload), **ssec_headers(key),
                          **_checksum_headers(part.checksums)})


def _copy_range(r: Request) -> tuple[int, int] | None:
    value = r.headers.get("x-amz-copy-source-range")
    if value is None:
        return None
    m = _COPY_RANGE.match(value.strip())
    if not m or int(m.group(1)) > int(m.group(2)):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The x-amz-copy-source-range value must be of the form"
                           " bytes=first-last where first and last are the zero-based offsets of the first and"
                           " last bytes to copy", ArgumentName="x-amz-copy-source-range", ArgumentValue=value)
    return int(m.group(1)), int(m.group(2))


async def upload_part_copy(s: Services, r: Request) -> Response:
    _refuse_sse_header(r)
    number = r.route.part_number
    source = parse_copy_source(r)
    key = customer(s, r)
    result = await mp.upload_part_copy(s.objects, r.principal, r.bucket, r.key, r.route.upload_id or "",
                                       number, source.bucket, source.key, source.version_id, _copy_range(r),
                                       copy_conditions(r), key, customer(s, r, copy_source=True))
    part = result.part
    body = doc("CopyPartResult", [el("ETag", f'"{part.etag}"'), el("LastModified", iso8601(part.last_modified)),
                                  *_checksum_xml(part.checksums)])
    return Response.xml(body, headers={**_sse_headers(result.upload), **ssec_headers(key),
                                       **copy_source_headers(result.source)})


def _completed_parts(root_xml: bytes) -> list[mp.CompletedPart]:
    root = parse(root_xml, _COMPLETE_XML_LIMIT)
    if root.tag != "CompleteMultipartUpload":
        raise SealboxError(ErrorCode.MALFORMED_XML)
    parts: list[mp.CompletedPart] = []
    for node in root.findall("Part"):
        number, etag = child_text(node, "PartNumber"), child_text(node, "ETag")
        if number is None or not number.strip().isdigit() or etag is None:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        sums = {a: v.strip() for a in ALGORITHMS if (v := child_text(node, f"Checksum{a}")) is not None}
        parts.append(mp.CompletedPart(int(number), etag, sums))
    return parts


async def complete_multipart_upload(s: Services, r: Request) -> Response:
    _refuse_sse_header(r)
    # x-amz-checksum-* on Complete describe the whole object, not this XML body: keep them from the body check.
    body_headers = {k: v for k, v in r.headers.items() if not k.startswith(HEADER_PREFIX)}
    xml = await RequestPayload(r.incoming.receive, body_headers, r.auth).read_all(_COMPLETE_XML_LIMIT)
    expected = {a: r.headers[f"{HEADER_PREFIX}{a.lower()}"] for a in ALGORITHMS
                if f"{HEADER_PREFIX}{a.lower()}" in r.headers}
    size = r.headers.get("x-amz-mp-object-size")
    if size is not None and not size.strip().isdigit():
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid x-amz-mp-object-size header",
                           ArgumentName="x-amz-mp-object-size", ArgumentValue=size)
    if_none_match_star, if_match = write_conditions(r.headers)
    key = customer(s, r)
    params = mp.CompleteParams(_completed_parts(xml), expected, int(size) if size is not None else None,
                               if_none_match_star, if_match, key)
    version = await mp.complete_upload(s.objects, r.principal, r.bucket, r.key,
                                       r.route.upload_id or "", params)
    location = f"{'https' if r.secure else 'http'}://{r.headers.get('host', '')}/{quote(r.bucket)}/{quote(r.key)}"
    items = [el("Location", location), el("Bucket", r.bucket), el("Key", r.key), el("ETag", version.quoted_etag),
             *_checksum_xml(version.checksums)]
    if version.checksum_type:
        items.append(el("ChecksumType", version.checksum_type))
    return Response.xml(doc("CompleteMultipartUploadResult", items),
                        headers={**version_headers(version), **ssec_headers(key)})


async def abort_multipart_upload(s: Services, r: Request) -> Response:
    await mp.abort_upload(s.objects, r.principal, r.bucket, r.key, r.route.upload_id or "")
    return Response(204)


def _part_xml(p: Part) -> str:
    etag = f'"{p.etag}"'
    return (f"<Part>{el('PartNumber', p.part_number)}{el('LastModified', iso8601(p.last_modified))}"
            f"{el('ETag', etag)}{el('Size', p.extent.size)}{''.join(_checksum_xml(p.checksums))}</Part>")


def _upload_owner_xml(u: Upload) -> str:
    return owner_xml(u.owner, "Initiator") + owner_xml(u.owner)


async def list_parts(s: Services, r: Request) -> Response:
    max_parts = int_param(r.query, "max-parts", mp.MAX_LIST)
    marker = int_param(r.query, "part-number-marker", 0)
    page = mp.list_parts(s.objects, r.principal, r.bucket, r.key, r.route.upload_id or "", max_parts, marker)
    u = page.upload
    items = [el("Bucket", u.bucket), el("Key", u.key), el("UploadId", u.upload_id),
             el("PartNumberMarker", marker), el("NextPartNumberMarker", page.next_marker),
             el("MaxParts", max_parts), el("IsTruncated", page.is_truncated), *map(_part_xml, page.parts),
             _upload_owner_xml(u), el("StorageClass", u.storage_class)]
    if u.checksum_algorithm:
        items += [el("ChecksumAlgorithm", u.checksum_algorithm), el("ChecksumType", u.checksum_type or "")]
    return Response.xml(doc("ListPartsResult", items))


async def list_multipart_uploads(s: Services, r: Request) -> Response:
    encoding = r.query.get("encoding-type")
    if encoding not in (None, "url"):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid Encoding Method specified in Request",
                           ArgumentName="encoding-type", ArgumentValue=encoding or "")
    enc = (lambda v: quote(v, safe="/")) if encoding else (lambda v: v)
    prefix, delimiter = r.query.get("prefix", ""), r.query.get("delimiter", "")
    key_marker, id_marker = r.query.get("key-marker", ""), r.query.get("upload-id-marker", "")
    max_uploads = int_param(r.query, "max-uploads", mp.MAX_LIST)
    page = mp.list_uploads(s.objects, r.principal, r.bucket, prefix, delimiter, key_marker, id_marker, max_uploads)
    items = [el("Bucket", r.bucket), el("KeyMarker", enc(key_marker)), el("UploadIdMarker", id_marker),
             el("NextKeyMarker", enc(page.next_key_marker or "")),
             el("NextUploadIdMarker", page.next_upload_id_marker or ""), el("Prefix", enc(prefix))]
    if delimiter:
        items.append(el("Delimiter", enc(delimiter)))
    items += [el("MaxUploads", max_uploads), el("IsTruncated", page.is_truncated)]
    if encoding:
        items.append(el("EncodingType", encoding))
    for u in page.uploads:
        checksum = el("ChecksumAlgorithm", u.checksum_algorithm) if u.checksum_algorithm else ""
        items.append(f"<Upload>{el('Key', enc(u.key))}{el('UploadId', u.upload_id)}{_upload_owner_xml(u)}"
                     f"{el('StorageClass', u.storage_class)}{el('Initiated', iso8601(u.initiated))}{checksum}</Upload>")
    items += [f"<CommonPrefixes>{el('Prefix', enc(p))}</CommonPrefixes>" for p in page.common_prefixes]
    return Response.xml(doc("ListMultipartUploadsResult", items))


HANDLERS = {
    Op.CREATE_MULTIPART_UPLOAD: create_multipart_upload,
    Op.UPLOAD_PART: upload_part,
    Op.UPLOAD_PART_COPY: upload_part_copy,
    Op.COMPLETE_MULTIPART_UPLOAD: complete_multipart_upload,
    Op.ABORT_MULTIPART_UPLOAD: abort_multipart_upload,
    Op.LIST_PARTS: list_parts,
    Op.LIST_MULTIPART_UPLOADS: list_multipart_uploads,
}
