"""Object Lock (issue 17): Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold,
and the ``x-amz-object-lock-*`` headers of writes and reads."""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping

from sealbox.core.checksums import HEADER_PREFIX
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import LOCK_MODES, NO_LOCK, Bucket, ObjectLock, ObjectVersion
from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import child_text, doc, el, int_text, iso8601, parse
from sealbox.service import object_lock as ol
from sealbox.service.access import allowed
from sealbox.service.identity import Principal

MODE = "x-amz-object-lock-mode"
UNTIL = "x-amz-object-lock-retain-until-date"
HOLD = "x-amz-object-lock-legal-hold"
BYPASS = "x-amz-bypass-governance-retention"
_MAX_BODY = 64 * 1024


def has_integrity_header(headers: Mapping[str, str]) -> bool:
    """Content-MD5 or a flexible checksum (header, or announced as a trailer)."""
    return "content-md5" in headers or "x-amz-sdk-checksum-algorithm" in headers or \
        any(h.startswith(HEADER_PREFIX) for h in headers) or \
        "x-amz-checksum" in headers.get("x-amz-trailer", "").lower()


def require_integrity(headers: Mapping[str, str]) -> None:
    if not has_integrity_header(headers):
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Content-MD5 OR x-amz-checksum- HTTP header is required for"
                           " Put Object requests with Object Lock parameters")


def bypass_asked(headers: Mapping[str, str]) -> bool:
    return headers.get(BYPASS, "").strip().lower() == "true"


def parse_date(text: str, name: str) -> float:
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The retain until date must be provided in ISO 8601"
                           " format", ArgumentName=name, ArgumentValue=text) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def lock_request(headers: Mapping[str, str]) -> ObjectLock | None:
    """The lock a write asks for with x-amz-object-lock-* (headers or POST form fields), validated as AWS
    does; None when it asks for none."""
    mode, until, hold = headers.get(MODE), headers.get(UNTIL), headers.get(HOLD)
    if mode is None and until is None and hold is None:
        return None
    if (mode is None) != (until is None):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "x-amz-object-lock-retain-until-date and"
                           " x-amz-object-lock-mode must both be supplied", ArgumentName=MODE if mode is None
                           else UNTIL, ArgumentValue="")
    if mode is not None and mode not in LOCK_MODES:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Unknown wormMode directive.", ArgumentName=MODE,
                           ArgumentValue=mode)
    if hold is not None and hold not in ("ON", "OFF"):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Legal Hold must be either of 'ON' or 'OFF'",
                           ArgumentName=HOLD, ArgumentValue=hold)
    date = parse_date(until, UNTIL) if until is not None else None
    if date is not None and date <= time.time():
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The retain until date must be in the future!",
                           ArgumentName=UNTIL, ArgumentValue=until or "")
    return ObjectLock(mode, date, None if hold is None else hold == "ON")


def lock_headers(v: ObjectVersion, principal: Principal | None = None, bucket: Bucket | None = None) -> dict[str, str]:
    """What GET and HEAD say about a version's lock. As on AWS, the retention headers only to a caller
    with s3:GetObjectRetention, the legal hold only to one with s3:GetObjectLegalHold (with
    ``principal`` and ``bucket`` given; without, everything)."""
    lock = v.lock
    if lock == NO_LOCK:
        return {}

    def may(action: str) -> bool:
        return bucket is None or allowed(principal, action, bucket, v.key)

    headers: dict[str, str] = {}
    if lock.legal_hold is not None and may("s3:GetObjectLegalHold"):
        headers[HOLD] = "ON" if lock.legal_hold else "OFF"
    if lock.mode is not None and lock.retain_until is not None and may("s3:GetObjectRetention"):
        headers[MODE] = lock.mode
        headers[UNTIL] = iso8601(lock.retain_until)
    return headers


async def _body(r: Request) -> bytes:
    require_integrity(r.headers)
    return await r.payload().read_all(_MAX_BODY)


# -- bucket configuration ----------------------------------------------------------------------


async def get_object_lock_configuration(s: Services, r: Request) -> Response:
    rule = ol.get_configuration(s.objects, r.principal, r.bucket)
    parts = [el("ObjectLockEnabled", "Enabled")]
    if rule is not None:
        period = el("Days", rule.days) if rule.days is not None else el("Years", rule.years)
        parts.append(f"<Rule><DefaultRetention>{el('Mode', rule.mode)}{period}</DefaultRetention></Rule>")
    return Response.xml(doc("ObjectLockConfiguration", parts))


async def put_object_lock_configuration(s: Services, r: Request) -> Response:
    root = parse(await _body(r))
    if root.tag != "ObjectLockConfiguration" or child_text(root, "ObjectLockEnabled") not in ("Enabled", None):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    if child_text(root, "ObjectLockEnabled") is None:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    rule_node = root.find("Rule")
    rule = None
    if rule_node is not None:
        retention = rule_node.find("DefaultRetention")
        if retention is None:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        mode = child_text(retention, "Mode")
        if mode not in LOCK_MODES:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        assert mode is not None
        rule = ol.DefaultRetention(mode, int_text(child_text(retention, "Days")), int_text(child_text(retention, "Years")))
    await ol.put_configuration(s.objects, r.principal, r.bucket, rule)
    return Response(200)


# -- per version -------------------------------------------------------------------------------


def _version_header(v: ObjectVersion) -> dict[str, str]:
    return {"x-amz-version-id": v.version_id} if v.version_id != "null" else {}


async def get_object_retention(s: Services, r: Request) -> Response:
    lock = ol.get_retention(s.objects, r.principal, r.bucket, r.key, r.route.version_id)
    assert lock.retain_until is not None
    return Response.xml(doc("Retention", [el("Mode", lock.mode), el("RetainUntilDate", iso8601(lock.retain_until))]))


async def put_object_retention(s: Services, r: Request) -> Response:
    root = parse(await _body(r))
    mode, until_text = child_text(root, "Mode"), child_text(root, "RetainUntilDate")
    if root.tag != "Retention" or (mode is not None and mode not in LOCK_MODES) or \
            ((mode is None) != (until_text is None)):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    until = parse_date(until_text, "RetainUntilDate") if until_text is not None else None
    v = await ol.put_retention(s.objects, r.principal, r.bucket, r.key, r.route.version_id, mode, until,
                               bypass_asked(r.headers))
    return Response(200, _version_header(v))


async def get_object_legal_hold(s: Services, r: Request) -> Response:
    on = ol.get_legal_hold(s.objects, r.principal, r.bucket, r.key, r.route.version_id)
    return Response.xml(doc("LegalHold", [el("Status", "ON" if on else "OFF")]))


async def put_object_legal_hold(s: Services, r: Request) -> Response:
    root = parse(await _body(r))
    status = child_text(root, "Status")
    if root.tag != "LegalHold" or status not in ("ON", "OFF"):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    v = await ol.put_legal_hold(s.objects, r.principal, r.bucket, r.key, r.route.version_id, status == "ON")
    return Response(200, _version_header(v))


HANDLERS = {
    Op.GET_OBJECT_LOCK_CONFIGURATION: get_object_lock_configuration,
    Op.PUT_OBJECT_LOCK_CONFIGURATION: put_object_lock_configuration,
    Op.GET_OBJECT_RETENTION: get_object_retention,
    Op.PUT_OBJECT_RETENTION: put_object_retention,
    Op.GET_OBJECT_LEGAL_HOLD: get_object_legal_hold,
    Op.PUT_OBJECT_LEGAL_HOLD: put_object_legal_hold,
}
