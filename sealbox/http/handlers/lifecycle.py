"""Put/Get/DeleteBucketLifecycleConfiguration (issue 17): XML ⇄ ``service.lifecycle.Rule``."""

from __future__ import annotations

from urllib.parse import quote
from xml.etree.ElementTree import Element

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket, ObjectVersion
from sealbox.http.handlers.base import Services
from sealbox.http.handlers.object_lock import require_integrity
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import child_text, doc, el, http_date, int_text, iso8601, parse
from sealbox.service import lifecycle as lc

_MAX_BODY = 2 * 1024 * 1024
MIN_SIZE = "x-amz-transition-default-minimum-object-size"
ONE_CLASS = ("sealbox has one storage class (STANDARD): Transition and NoncurrentVersionTransition rules are not"
             " supported, and are refused rather than stored and ignored.")


def _tag(node: Element) -> tuple[str, str]:
    key, value = child_text(node, "Key"), child_text(node, "Value")
    if key is None:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    return key, value or ""


def _filter(node: Element) -> lc.Filter:
    children = list(node)
    if not children:
        return lc.Filter("empty")
    if len(children) > 1:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    (child,) = children
    if child.tag == "Prefix":
        return lc.Filter("prefix", prefix=child.text or "")
    if child.tag == "Tag":
        return lc.Filter("tag", tags=(_tag(child),))
    if child.tag == "ObjectSizeGreaterThan":
        return lc.Filter("gt", size_gt=int_text(child.text or ""))
    if child.tag == "ObjectSizeLessThan":
        return lc.Filter("lt", size_lt=int_text(child.text or ""))
    if child.tag == "And":
        known = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}
        if any(c.tag not in known for c in child):
            raise SealboxError(ErrorCode.MALFORMED_XML)
        return lc.Filter("and", prefix=child_text(child, "Prefix"), tags=tuple(_tag(t) for t in child.findall("Tag")),
                         size_gt=int_text(child_text(child, "ObjectSizeGreaterThan")),
                         size_lt=int_text(child_text(child, "ObjectSizeLessThan")))
    raise SealboxError(ErrorCode.MALFORMED_XML)


def _rule(node: Element) -> lc.Rule:
    if node.find("Transition") is not None or node.find("NoncurrentVersionTransition") is not None:
        raise SealboxError(ErrorCode.INVALID_REQUEST, ONE_CLASS)
    known = {"ID", "Status", "Prefix", "Filter", "Expiration", "NoncurrentVersionExpiration",
             "AbortIncompleteMultipartUpload"}
    if any(c.tag not in known for c in node) or child_text(node, "Status") is None:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    exp, nc, abort = node.find("Expiration"), node.find("NoncurrentVersionExpiration"), \
        node.find("AbortIncompleteMultipartUpload")
    flt = node.find("Filter")
    marker = child_text(exp, "ExpiredObjectDeleteMarker") if exp is not None else None
    if marker is not None and marker.strip() not in ("true", "false"):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    if abort is not None and child_text(abort, "DaysAfterInitiation") is None:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    return lc.Rule(
        id=child_text(node, "ID") or "", status=child_text(node, "Status") or "",
        prefix=child_text(node, "Prefix"), filter=_filter(flt) if flt is not None else None,
        expiration_days=int_text(child_text(exp, "Days")) if exp is not None else None,
        expiration_date=child_text(exp, "Date") if exp is not None else None,
        expired_object_delete_marker=(marker.strip() == "true") if marker is not None else None,
        noncurrent_days=int_text(child_text(nc, "NoncurrentDays")) if nc is not None else None,
        newer_noncurrent=int_text(child_text(nc, "NewerNoncurrentVersions")) if nc is not None else None,
        abort_days=int_text(child_text(abort, "DaysAfterInitiation")) if abort is not None else None,
        has_expiration=exp is not None, has_noncurrent=nc is not None,
    )


def _render_filter(f: lc.Filter) -> str:
    tags = "".join(f"<Tag>{el('Key', k)}{el('Value', v)}</Tag>" for k, v in f.tags)
    inner = {
        "empty": "", "prefix": el("Prefix", f.prefix or ""), "tag": tags,
        "gt": el("ObjectSizeGreaterThan", f.size_gt), "lt": el("ObjectSizeLessThan", f.size_lt),
    }.get(f.kind)
    if inner is None:  # And
        parts = [el("Prefix", f.prefix)] if f.prefix is not None else []
        parts.append(tags)
        if f.size_gt is not None:
            parts.append(el("ObjectSizeGreaterThan", f.size_gt))
        if f.size_lt is not None:
            parts.append(el("ObjectSizeLessThan", f.size_lt))
        inner = f"<And>{''.join(parts)}</And>"
    return f"<Filter>{inner}</Filter>"


def _render(rule: lc.Rule) -> str:
    parts = [el("ID", rule.id)]
    if rule.prefix is not None:
        parts.append(el("Prefix", rule.prefix))
    if rule.filter is not None:
        parts.append(_render_filter(rule.filter))
    parts.append(el("Status", rule.status))
    if rule.has_expiration:
        if rule.expiration_days is not None:
            inner = el("Days", rule.expiration_days)
        elif rule.expiration_date is not None:
            inner = el("Date", iso8601(lc.date_seconds(rule.expiration_date)))
        else:
            inner = el("ExpiredObjectDeleteMarker", bool(rule.expired_object_delete_marker))
        parts.append(f"<Expiration>{inner}</Expiration>")
    if rule.has_noncurrent:
        inner = el("NoncurrentDays", rule.noncurrent_days)
        if rule.newer_noncurrent is not None:
            inner += el("NewerNoncurrentVersions", rule.newer_noncurrent)
        parts.append(f"<NoncurrentVersionExpiration>{inner}</NoncurrentVersionExpiration>")
    if rule.abort_days is not None:
        parts.append(f"<AbortIncompleteMultipartUpload>{el('DaysAfterInitiation', rule.abort_days)}"
                     "</AbortIncompleteMultipartUpload>")
    return f"<Rule>{''.join(parts)}</Rule>"


def expiration_header(s: Services, bucket: Bucket, v: ObjectVersion) -> dict[str, str]:
    """``x-amz-expiration: expiry-date="<HTTP date>", rule-id="<id>"`` for a current version a rule expires."""
    found = lc.expiration_of(bucket, v, s.settings.lifecycle_day_seconds)
    if found is None:
        return {}
    when, rule_id = found
    return {"x-amz-expiration": f'expiry-date="{http_date(when)}", rule-id="{quote(rule_id, safe=" -_.~")}"'}


async def put_bucket_lifecycle(s: Services, r: Request) -> Response:
    require_integrity(r.headers)
    root = parse(await r.payload().read_all(_MAX_BODY), _MAX_BODY)
    if root.tag != "LifecycleConfiguration" or any(c.tag != "Rule" for c in root):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    min_size = await lc.put_rules(s.objects, r.principal, r.bucket, [_rule(n) for n in root.findall("Rule")],
                                  r.headers.get(MIN_SIZE, lc.DEFAULT_MIN_SIZE))
    return Response(200, {MIN_SIZE: min_size})


async def get_bucket_lifecycle(s: Services, r: Request) -> Response:
    rules, min_size = lc.get_configuration(s.objects, r.principal, r.bucket)
    return Response.xml(doc("LifecycleConfiguration", [_render(rule) for rule in rules]), headers={MIN_SIZE: min_size})


async def delete_bucket_lifecycle(s: Services, r: Request) -> Response:
    await lc.delete_rules(s.objects, r.principal, r.bucket)
    return Response(204)


HANDLERS = {
    Op.GET_BUCKET_LIFECYCLE: get_bucket_lifecycle,
    Op.PUT_BUCKET_LIFECYCLE: put_bucket_lifecycle,
    Op.DELETE_BUCKET_LIFECYCLE: delete_bucket_lifecycle,
}
