"""What the Permissions tab, the ACL pages and Share have in common: the Block Public Access flags in
AWS's wording, a part of a page the principal may or may not read, why a write was refused, and the
audit record of a console change (``sealbox.audit``, ``via="console"``, as the S3 API's records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sealbox.console.context import Console
from sealbox.console.views.common import principal_of
from sealbox.console.web import Request
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.ops.logs import audit
from sealbox.service.access import allowed
from sealbox.service.identity import Principal
from sealbox.service.public_access import block_of

# The four flags in AWS's console wording (Permissions → Block public access (bucket settings)).
FLAGS = (
    ("block_public_acls", "BlockPublicAcls",
     "Block public access to buckets and objects granted through new access control lists (ACLs)"),
    ("ignore_public_acls", "IgnorePublicAcls",
     "Block public access to buckets and objects granted through any access control lists (ACLs)"),
    ("block_public_policy", "BlockPublicPolicy",
     "Block public access to buckets and objects granted through new public bucket or access point policies"),
    ("restrict_public_buckets", "RestrictPublicBuckets",
     "Block public and cross-account access to buckets and objects through any public bucket or access"
     " point policies"),
)


def audit_change(req: Request, event: str, message: str, bucket: str, **fields: Any) -> None:
    """The audit record of a console change: who (principal, access key), from where, what."""
    principal = principal_of(req)
    audit(event, f"{message} (console)", principal=principal.name, access_key=principal.access_key,
          client=req.exchange.client_ip, bucket=bucket, via="console", **fields)


@dataclass(frozen=True)
class Part:
    """One section of the tab: its value, or why it is not shown."""

    value: Any = None
    denied: str | None = None  # the S3 action the principal may not perform


def read_part(fn: Any, action: str, missing: ErrorCode | None = None, default: Any = None) -> Part:
    try:
        return Part(fn())
    except SealboxError as exc:
        if missing is not None and exc.code is missing:
            return Part(default)
        if exc.code in (ErrorCode.ACCESS_DENIED, ErrorCode.METHOD_NOT_ALLOWED):
            return Part(denied=action)  # MethodNotAllowed: a policy action only the owner may perform
        raise


def why_denied(c: Console, principal: Principal, name: str, action: str, flag: str, key: str | None = None) -> str:
    """An AccessDenied on a write: Block Public Access (when the principal may write it otherwise) or
    the principal's permissions — asked of the service layer, not guessed."""
    bucket = c.services.buckets.existing(principal, name)
    if allowed(principal, action, bucket, key) and getattr(block_of(bucket), flag):
        label = next(text for attr, _, text in FLAGS if attr == flag)
        api = next(api for attr, api, _ in FLAGS if attr == flag)
        return (f"it would grant public access, and Block Public Access refuses that ({api}: \"{label}\" is on)"
                " (AccessDenied).")
    return failure(SealboxError(ErrorCode.ACCESS_DENIED), action)


def failure(exc: SealboxError, action: str) -> str:
    """Why a change was refused, S3's code last: "Policy has invalid action (MalformedPolicy)."."""
    if exc.code is ErrorCode.ACCESS_DENIED:
        return f"you have no permission for this ({action}) (AccessDenied)."
    return f"{(exc.message or exc.code.value).rstrip('.')} ({exc.code.value})."
