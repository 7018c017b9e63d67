"""GetObjectAttributes (GET ?attributes)."""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import NULL_VERSION
from sealbox.http.handlers.base import Services, customer, int_param
from sealbox.http.headers import conditions
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import doc, el, http_date
from sealbox.service.attributes import ATTRIBUTES, MAX_PARTS, ObjectParts, get_attributes

ATTRIBUTES_HEADER = "x-amz-object-attributes"


def requested_attributes(value: str | None) -> frozenset[str]:
    """``x-amz-object-attributes``: a comma-separated list (SDKs add spaces, or send one header per name)."""
    names = frozenset(n.strip() for n in (value or "").split(",") if n.strip())
    if not names:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "The x-amz-object-attributes header specifying the attributes"
                           " to be retrieved is either missing or empty")
    unknown = sorted(names - set(ATTRIBUTES))
    if unknown:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid attribute name specified.",
                           ArgumentName=ATTRIBUTES_HEADER, ArgumentValue=unknown[0])
    return names


def _parts_xml(p: ObjectParts) -> str:
    if not p.listed:
        return f"<ObjectParts>{el('PartsCount', p.total)}</ObjectParts>"
    items = [el("PartsCount", p.total), el("PartNumberMarker", p.marker), el("NextPartNumberMarker", p.next_marker),
             el("MaxParts", p.max_parts), el("IsTruncated", p.is_truncated)]
    for part in p.parts:
        checksum = "".join(el(f"Checksum{a}", part.checksum) for a in [p.algorithm] if a and part.checksum)
        items.append(f"<Part>{el('PartNumber', part.number)}{el('Size', part.size)}{checksum}</Part>")
    return f"<ObjectParts>{''.join(items)}</ObjectParts>"


async def get_object_attributes(s: Services, r: Request) -> Response:
    names = requested_attributes(r.headers.get(ATTRIBUTES_HEADER))
    max_parts = min(int_param(r.headers, "x-amz-max-parts", MAX_PARTS), MAX_PARTS)  # as ListParts: at most 1000
    marker = int_param(r.headers, "x-amz-part-number-marker", 0)
    got = get_attributes(s.objects, r.principal, r.bucket, r.key, r.route.version_id, conditions(r.headers),
                         max_parts, marker, customer(s, r))
    v = got.version
    items: list[str] = []
    if "ETag" in names:
        items.append(el("ETag", v.etag))
    if "Checksum" in names and got.checksum is not None:
        algorithm, value, kind = got.checksum
        items.append(f"<Checksum>{el(f'Checksum{algorithm}', value)}"
                     f"{el('ChecksumType', kind) if kind else ''}</Checksum>")
    if "ObjectParts" in names and got.parts is not None:
        items.append(_parts_xml(got.parts))
    if "StorageClass" in names:
        items.append(el("StorageClass", v.storage_class))
    if "ObjectSize" in names:
        items.append(el("ObjectSize", v.size))
    headers = {"last-modified": http_date(v.last_modified)}
    if v.version_id != NULL_VERSION or r.route.version_id is not None or s.objects.names_null_version(got.bucket):
        headers["x-amz-version-id"] = v.version_id
    return Response.xml(doc("GetObjectAttributesResponse", items), headers=headers)


HANDLERS = {Op.GET_OBJECT_ATTRIBUTES: get_object_attributes}
