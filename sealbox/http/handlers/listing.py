"""ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import ListPage, ObjectVersion
from sealbox.http.handlers.base import Services, decode_token, encode_token, int_param, object_timestamp, owner_xml
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import doc, el

Encoder = Callable[[str], str]


def _encoder(r: Request) -> tuple[Encoder, list[str]]:
    encoding = r.query.get("encoding-type")
    if encoding is None:
        return (lambda s: s), []
    if encoding != "url":
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid Encoding Method specified in Request",
                           ArgumentName="encoding-type", ArgumentValue=encoding)
    return (lambda s: quote(s, safe="/")), [el("EncodingType", "url")]


def _checksum_algorithms(v: ObjectVersion) -> str:
    return "".join(el("ChecksumAlgorithm", a) for a in v.checksums) + (
        el("ChecksumType", v.checksum_type) if v.checksum_type else "")


def _contents(v: ObjectVersion, enc: Encoder, with_owner: bool, tag: str = "Contents") -> str:
    owner = owner_xml(v.owner) if with_owner else ""
    return (f"<{tag}>{el('Key', enc(v.key))}{el('LastModified', object_timestamp(v))}{el('ETag', v.quoted_etag)}"
            f"{_checksum_algorithms(v)}{el('Size', v.size)}{el('StorageClass', v.storage_class)}{owner}</{tag}>")


def _prefixes(page: ListPage, enc: Encoder) -> list[str]:
    return [f"<CommonPrefixes>{el('Prefix', enc(p))}</CommonPrefixes>" for p in page.common_prefixes]


def _common(r: Request, enc: Encoder, prefix_encoded: bool = True) -> tuple[str, str, int, list[str]]:
    """Name, Prefix, Delimiter, MaxKeys. With encoding-type=url AWS encodes the Prefix element of
    ListObjectsV2 and ListObjectVersions, but not ListObjects' (botocore decodes accordingly: a V1
    prefix of "\n" must come back as "\n", not "%0A")."""
    prefix = r.query.get("prefix", "")
    delimiter = r.query.get("delimiter", "")
    max_keys = int_param(r.query, "max-keys", 1000)
    head = [el("Name", r.bucket), el("Prefix", enc(prefix) if prefix_encoded else prefix)]
    if delimiter:
        head.append(el("Delimiter", enc(delimiter)))
    head.append(el("MaxKeys", max_keys))
    return prefix, delimiter, max_keys, head


async def list_objects_v2(s: Services, r: Request) -> Response:
    enc, enc_xml = _encoder(r)
    prefix, delimiter, max_keys, head = _common(r, enc)
    token = r.query.get("continuation-token")
    start_after = r.query.get("start-after", "")
    after = max(decode_token(token, "continuation-token"), start_after) if token is not None else start_after
    page = s.objects.list(r.principal, r.bucket, prefix, delimiter, after, max_keys)
    fetch_owner = r.query.get("fetch-owner", "false").lower() == "true"
    body = head + enc_xml + [el("KeyCount", len(page.entries) + len(page.common_prefixes)),
                             el("IsTruncated", page.is_truncated)]
    if token is not None:
        body.append(el("ContinuationToken", token))
    if page.is_truncated and page.next_marker is not None:
        body.append(el("NextContinuationToken", encode_token(page.next_marker)))
    if start_after:
        body.append(el("StartAfter", enc(start_after)))
    body += [_contents(v, enc, fetch_owner) for v in page.entries] + _prefixes(page, enc)
    return Response.xml(doc("ListBucketResult", body))


async def list_objects_v1(s: Services, r: Request) -> Response:
    enc, enc_xml = _encoder(r)
    prefix, delimiter, max_keys, head = _common(r, enc, prefix_encoded=False)
    marker = r.query.get("marker", "")
    page = s.objects.list(r.principal, r.bucket, prefix, delimiter, marker, max_keys)
    body = head[:2] + [el("Marker", enc(marker))] + head[2:] + enc_xml + [el("IsTruncated", page.is_truncated)]
    if page.is_truncated and delimiter and page.next_marker is not None:
        body.append(el("NextMarker", enc(page.next_marker)))
    body += [_contents(v, enc, True) for v in page.entries] + _prefixes(page, enc)
    return Response.xml(doc("ListBucketResult", body))


async def list_object_versions(s: Services, r: Request) -> Response:
    enc, enc_xml = _encoder(r)
    prefix, delimiter, max_keys, head = _common(r, enc)
    key_marker = r.query.get("key-marker", "")
    vid_marker = r.query.get("version-id-marker", "")
    if vid_marker and not key_marker:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "A version-id marker cannot be specified without a key"
                           " marker.", ArgumentName="version-id-marker", ArgumentValue=vid_marker)
    page = s.objects.list_versions(r.principal, r.bucket, prefix, delimiter, key_marker, vid_marker, max_keys)
    body = head[:2] + [el("KeyMarker", enc(key_marker)), el("VersionIdMarker", vid_marker)] + head[2:] + enc_xml
    body.append(el("IsTruncated", page.is_truncated))
    if page.is_truncated and page.next_marker is not None:
        body.append(el("NextKeyMarker", enc(page.next_marker)))
        if page.next_version_marker:
            body.append(el("NextVersionIdMarker", page.next_version_marker))
    for v in page.entries:
        common = (f"{el('Key', enc(v.key))}{el('VersionId', v.version_id)}{el('IsLatest', v.is_latest)}"
                  f"{el('LastModified', object_timestamp(v))}")
        if v.is_delete_marker:
            body.append(f"<DeleteMarker>{common}{owner_xml(v.owner)}</DeleteMarker>")
        else:
            body.append(f"<Version>{common}{el('ETag', v.quoted_etag)}{_checksum_algorithms(v)}{el('Size', v.size)}"
                        f"{el('StorageClass', v.storage_class)}{owner_xml(v.owner)}</Version>")
    body += _prefixes(page, enc)
    return Response.xml(doc("ListVersionsResult", body))


HANDLERS = {
    Op.LIST_OBJECTS: list_objects_v1,
    Op.LIST_OBJECTS_V2: list_objects_v2,
    Op.LIST_OBJECT_VERSIONS: list_object_versions,
}
