"""Who may do what. For now: buckets belong to their creator; the root principal may do anything.

Bucket policies (issue #5) plug in here, so every operation already passes through one check.
"""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service.identity import Principal


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")
    return principal


def authorize(principal: Principal | None, action: str, bucket: Bucket | None) -> Principal:
    """Raise AccessDenied unless ``principal`` may perform ``action`` (an s3:Action name) on ``bucket``."""
    who = require_principal(principal)
    if bucket is None or who.is_root or bucket.owner == who.name:
        return who
    raise SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")
