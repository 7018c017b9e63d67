"""Errors as sentences a person can act on: what was being done, to what, and why it was refused.

The service layer answers with S3 error codes ("AccessDenied", "NoSuchKey"); the console turns one
into "You are not allowed to upload to reports: a bucket policy requires SSE-S3", keeping the code
at the end in parentheses for whoever reads the logs. The "why" of an AccessDenied is found the
way a person would find it: by asking the service layer again whether the same request would be
allowed with ``x-amz-server-side-encryption: AES256`` (then a policy requires SSE-S3), and whether
the bucket has a policy at all (then a policy denies it) — never by reading the policy ourselves.
"""

from __future__ import annotations

from sealbox.console.policy_context import acting_on
from sealbox.console.services import ServiceSet
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import SSE_AES256
from sealbox.service.identity import Principal

_REASONS = {
    ErrorCode.NO_SUCH_KEY: "the object does not exist (any more)",
    ErrorCode.NO_SUCH_BUCKET: "the bucket does not exist",
    ErrorCode.NO_SUCH_VERSION: "that version does not exist",
    ErrorCode.ENTITY_TOO_LARGE: "the file is larger than the 5 GB a single upload may be",
    ErrorCode.INCOMPLETE_BODY: "the upload was interrupted before the whole file arrived",
    ErrorCode.BUCKET_NOT_EMPTY: "the bucket is not empty",
    ErrorCode.KEY_TOO_LONG: "the object name is longer than 1024 bytes",
}


def _sentence_start(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def reason(exc: SealboxError) -> str:
    """Why, in words (without the S3 code)."""
    found = _REASONS.get(exc.code)
    if found:
        return found
    message = (exc.message or exc.code.value).rstrip(".")
    return _sentence_start(message)


def access_reason(services: ServiceSet, principal: Principal, bucket: str, key: str | None, action: str,
                  encrypting: bool) -> str:
    """Why ``principal`` may not perform ``action``: asked of the service layer, not guessed."""
    try:
        found = services.buckets.existing(principal, bucket)
    except SealboxError:
        return "you have no permission for this bucket"
    if not encrypting and action == "s3:PutObject":
        with_sse = acting_on(principal, bucket, key, query=principal.context.query,
                             headers={"x-amz-server-side-encryption": SSE_AES256})
        try:
            services.buckets.get(with_sse, bucket, action, key)
        except SealboxError:
            pass
        else:
            return "a bucket policy requires SSE-S3 encryption (choose SSE-S3)"
    if found.policy:
        return "the bucket policy does not allow it"
    return "you have no permission for this bucket"


def explain(services: ServiceSet, principal: Principal, exc: SealboxError, doing: str, bucket: str,
            key: str | None = None, *, action: str = "", encrypting: bool = False) -> str:
    """One sentence: "You are not allowed to <doing>: <why> (AccessDenied)" or "Could not <doing>:
    <why> (<Code>)". ``doing`` reads after "to", e.g. "upload to reports"."""
    if exc.code is ErrorCode.ACCESS_DENIED:
        why = access_reason(services, principal, bucket, key, action, encrypting) if action else \
            "you have no permission for this"
        return f"You are not allowed to {doing}: {why} ({exc.code.value})."
    return f"Could not {doing}: {reason(exc)} ({exc.code.value})."
