"""CopyObject (PUT Object - Copy), and the copy-source parsing UploadPartCopy shares."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import NULL_VERSION, ObjectVersion
from sealbox.http.handlers.base import Services, customer, object_timestamp, version_headers
from sealbox.http.handlers.objects import SSE_HEADER, write_params
from sealbox.http.headers import conditions
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.sse_c import ssec_headers
from sealbox.http.sse_kms import kms_headers
from sealbox.http.xml import doc, el
from sealbox.service.conditions import Conditions
from sealbox.service.copy import CopyParams, check_directive, check_tagging_directive, copy_object
from sealbox.service.objects import check_sse_value

COPY_SOURCE = "x-amz-copy-source"
_CONDITION_PREFIX = "x-amz-copy-source-"


@dataclass(frozen=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None


def parse_copy_source(r: Request) -> CopySource:
    """``x-amz-copy-source``: URL-encoded ``[/]bucket/key``, optionally followed by ``?versionId=``."""
    raw = r.headers[COPY_SOURCE]
    path, _, query = raw.partition("?")
    version_id = dict(parse_qsl(query, keep_blank_values=True)).get("versionId") if query else None
    name, slash, key = unquote(path, errors="surrogateescape").lstrip("/").partition("/")
    if not name or not slash or not key:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Copy Source must mention the source bucket and key:"
                           " sourcebucket/sourcekey", ArgumentName=COPY_SOURCE, ArgumentValue=raw)
    if version_id == "":
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Version id cannot be the empty string",
                           ArgumentName=COPY_SOURCE, ArgumentValue=raw)
    return CopySource(name, key, version_id)


def copy_conditions(r: Request) -> Conditions:
    return conditions(r.headers, _CONDITION_PREFIX)


def copy_source_headers(source: ObjectVersion) -> dict[str, str]:
    if source.version_id == NULL_VERSION:
        return {}
    return {"x-amz-copy-source-version-id": source.version_id}


def _copy_params(s: Services, r: Request) -> CopyParams:
    directive = check_directive(r.headers.get("x-amz-metadata-directive", "COPY").strip())
    # Validates storage class, SSE, tagging and the destination's conditions even when metadata is copied.
    given = write_params(r.headers, customer(s, r))
    return CopyParams(
        metadata_directive=directive,
        write=given if directive == "REPLACE" else None,
        sse=check_sse_value(r.headers.get(SSE_HEADER)),
        storage_class=r.headers.get("x-amz-storage-class"),
        conditions=copy_conditions(r),
        checksum_algorithm=r.headers.get("x-amz-checksum-algorithm"),
        acl=given.acl,
        lock=given.lock,
        tagging_directive=check_tagging_directive(r.headers.get("x-amz-tagging-directive", "COPY").strip()),
        tags=given.tags,
        if_none_match_star=given.if_none_match_star,
        if_match=given.if_match,
        kms=given.kms,
        customer=given.customer,
        source_customer=customer(s, r, copy_source=True),
    )


def checksum_xml(v: ObjectVersion) -> list[str]:
    items = [el(f"Checksum{algorithm}", value) for algorithm, value in sorted(v.checksums.items())]
    if items and v.checksum_type:
        items.append(el("ChecksumType", v.checksum_type))
    return items


async def copy_object_handler(s: Services, r: Request) -> Response:
    source = parse_copy_source(r)
    params = _copy_params(s, r)
    result = await copy_object(s.objects, r.principal, source.bucket, source.key, source.version_id,
                               r.bucket, r.key, params)
    v = result.version
    body = doc("CopyObjectResult", [el("ETag", v.quoted_etag), el("LastModified", object_timestamp(v)),
                                    *checksum_xml(v)])
    # version_headers carries x-amz-version-id and x-amz-server-side-encryption of the new object.
    return Response.xml(body, headers={**version_headers(v), **copy_source_headers(result.source),
                                       **kms_headers(v.sealed_key, context=True), **ssec_headers(params.customer)})


HANDLERS = {
    Op.COPY_OBJECT: copy_object_handler,
}
