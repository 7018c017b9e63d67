"""Object Lock in the console: a bucket's configuration (enable it, its default retention) and one
version's retention and legal hold, through ``service.object_lock`` as the S3 operations are.

As on AWS, Object Lock is chosen when a bucket is created (``views.buckets``), or enabled later on a
bucket whose versioning is Enabled (the service answers InvalidBucketState otherwise); it cannot be
disabled. Retention rules are the store's: COMPLIANCE is never shortened nor removed before its date,
GOVERNANCE only with s3:BypassGovernanceRetention — the console asks to bypass, as AWS's console does
(``actions.BYPASS_HEADERS``), and the permission decides.
"""

from __future__ import annotations

import datetime as dt

from sealbox.console.actions import BYPASS_HEADERS
from sealbox.console.context import Console
from sealbox.console.policy_context import acting_on
from sealbox.console.views.common import acting, back, error_message, principal_of, required
from sealbox.console.web import BadRequest, Request, Response, Router, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.object_lock import LOCKED_MESSAGE
from sealbox.core.types import LOCK_MODES
from sealbox.ops.logs import audit
from sealbox.service import object_lock as ol
from sealbox.service.identity import Principal


def configuration(c: Console, principal: Principal, bucket: str) -> tuple[bool, ol.DefaultRetention | None, bool]:
    """(enabled, default retention, readable) for the Properties page."""
    try:
        return True, ol.get_configuration(c.services.objects, principal, bucket), True
    except SealboxError as exc:
        if exc.code is ErrorCode.OBJECT_LOCK_CONFIG_NOT_FOUND:
            return False, None, True
        return False, None, False


def parse_until(date: str, time_of_day: str) -> float:
    """The form's retain-until date and time (UTC) as epoch seconds."""
    try:
        day = dt.date.fromisoformat(date.strip())
        clock = dt.time.fromisoformat(time_of_day.strip() or "00:00")
    except ValueError:
        raise BadRequest("Enter the retain-until date as YYYY-MM-DD and the time as HH:MM.") from None
    return dt.datetime.combine(day, clock, dt.UTC).timestamp()


def _why(exc: SealboxError) -> str:
    if exc.code is ErrorCode.ACCESS_DENIED and exc.message == LOCKED_MESSAGE:
        return ("Object Lock: a retention in force cannot be shortened, removed or changed to another mode —"
                " never under COMPLIANCE, and under GOVERNANCE only with the s3:BypassGovernanceRetention"
                f" permission ({exc.code.value})")
    return f"{error_message(exc)} ({exc.code.value})"


def register(router: Router, c: Console) -> None:
    objects = c.services.objects

    async def save_configuration(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/properties")
        principal = acting(req, name, query={"object-lock": ""})
        rule = None
        if await req.field("retention") == "enable":
            mode, unit = await req.field("mode"), await req.field("unit")
            if mode not in LOCK_MODES or unit not in ("Days", "Years"):
                raise BadRequest("Choose a retention mode and a period in days or years.")
            period = (await req.field("period")).strip()
            if not period.isdigit():
                return back(c, req, here, "error", "Object Lock not saved: the default retention period must be a"
                            " positive whole number of days or years.")
            n = int(period)
            rule = ol.DefaultRetention(mode, n if unit == "Days" else None, n if unit == "Years" else None)
        try:
            await ol.put_configuration(objects, principal, name, rule)
        except SealboxError as exc:
            return back(c, req, here, "error", f"Object Lock not saved: {_why(exc)}")
        audit("bucket.object_lock.put", f"Object Lock configuration of {name} put", principal=principal_of(req).name,
              bucket=name, default=rule.text() if rule else None, via="console")
        text = f"default retention {rule.mode}, {rule.days or rule.years} {'days' if rule.days else 'years'}" \
            if rule else "no default retention"
        return back(c, req, here, "ok", f"Object Lock is enabled, with {text}.")

    async def target(req: Request) -> tuple[str, str, str | None, str]:
        name = req.params["bucket"]
        key = required(await req.field("key"), "key")
        version_id = await req.field("versionId") or None
        return name, key, version_id, url(f"/buckets/{name}/object", key=key, versionId=version_id)

    async def save_retention(req: Request) -> Response:
        name, key, version_id, here = await target(req)
        mode = await req.field("mode") or None
        if mode is not None and mode not in LOCK_MODES:
            raise BadRequest("Unknown retention mode.")
        until = parse_until(await req.field("until_date"), await req.field("until_time")) if mode else None
        query = {"retention": "", **({"versionId": version_id} if version_id else {})}
        principal = acting_on(principal_of(req), name, key, query=query, headers=BYPASS_HEADERS)
        try:
            v = await ol.put_retention(objects, principal, name, key, version_id, mode, until, True)
        except SealboxError as exc:
            return back(c, req, here, "error", f"Retention not saved: {_why(exc)}")
        audit("object.retention.put", f"retention of {name}/{key} put", principal=principal_of(req).name,
              bucket=name, key=key, version_id=v.version_id, mode=mode, retain_until=until, via="console")
        return back(c, req, here, "ok", "Retention removed." if mode is None else f"Retention saved: {mode}.")

    async def save_legal_hold(req: Request) -> Response:
        name, key, version_id, here = await target(req)
        on = await req.field("status") == "ON"
        query = {"legal-hold": "", **({"versionId": version_id} if version_id else {})}
        try:
            v = await ol.put_legal_hold(objects, acting(req, name, key, query), name, key, version_id, on)
        except SealboxError as exc:
            return back(c, req, here, "error", f"Legal hold not saved: {_why(exc)}")
        audit("object.legal_hold.put", f"legal hold of {name}/{key} {'on' if on else 'off'}",
              principal=principal_of(req).name, bucket=name, key=key, version_id=v.version_id, on=on, via="console")
        return back(c, req, here, "ok", f"Legal hold {'enabled' if on else 'disabled'}.")

    router.add("POST", "/buckets/{bucket}/object-lock", save_configuration)
    router.add("POST", "/buckets/{bucket}/object/retention", save_retention)
    router.add("POST", "/buckets/{bucket}/object/legal-hold", save_legal_hold)
