"""Object Lock's rules (issue 17), pure: whether a version may be removed, whether a retention may change.

These are the floor every path that removes data stands on. The metadata store applies them inside
the transaction that deletes (or replaces) a version row, reading the lock from that same row, so a
retention or legal hold set concurrently cannot be raced: whichever commits first, the rule sees it.
The service layer decides only whether a request *may* bypass GOVERNANCE (the
``x-amz-bypass-governance-retention`` header and the ``s3:BypassGovernanceRetention`` permission).

- COMPLIANCE: until its date nobody (root included) removes the version, shortens the date or
  changes the mode.
- GOVERNANCE: the same, except for a request allowed to bypass it.
- A legal hold blocks removal until it is removed; it has no date, and bypass does not lift it.
"""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import ObjectLock

LOCKED_MESSAGE = "Access Denied because object protected by object lock."


def deletion_blocker(lock: ObjectLock, now: float, bypass_governance: bool) -> str | None:
    """Why a version with ``lock`` may not be removed now, or None if it may."""
    if lock.legal_hold:
        return "the version is under a legal hold"
    if lock.retained(now):
        if lock.mode == "COMPLIANCE":
            return "the version is under COMPLIANCE retention until its retain-until date"
        if not bypass_governance:
            return "the version is under GOVERNANCE retention (bypass needs x-amz-bypass-governance-retention" \
                   " and s3:BypassGovernanceRetention)"
    return None


def check_deletable(lock: ObjectLock, now: float, bypass_governance: bool) -> None:
    """Raise AccessDenied (as AWS does) if a version with ``lock`` may not be removed now."""
    if deletion_blocker(lock, now, bypass_governance) is not None:
        raise SealboxError(ErrorCode.ACCESS_DENIED, LOCKED_MESSAGE)


def check_retention_change(old: ObjectLock, mode: str | None, until: float | None, now: float,
                           bypass_governance: bool) -> None:
    """May a version's retention go from ``old`` to (``mode``, ``until``)? Extending is always allowed;
    shortening, removing or changing the mode of a retention still in force is not, except
    GOVERNANCE with bypass."""
    if not old.retained(now):
        return
    assert old.retain_until is not None
    weaker = mode is None or until is None or until < old.retain_until or mode != old.mode
    if not weaker:
        return
    if old.mode == "GOVERNANCE" and bypass_governance:
        return
    raise SealboxError(ErrorCode.ACCESS_DENIED, LOCKED_MESSAGE)
