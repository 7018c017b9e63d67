"""The SSE-KMS request and response headers (PutObject, CopyObject, POST Object, multipart, GET/HEAD).

Requests: ``x-amz-server-side-encryption: aws:kms | aws:kms:dsse`` with, optionally,
``x-amz-server-side-encryption-aws-kms-key-id`` (key id, key ARN, alias name or alias ARN),
``x-amz-server-side-encryption-context`` (base64 of a JSON object of strings) and
``x-amz-server-side-encryption-bucket-key-enabled`` (true/false). The key id or context without a
KMS algorithm is 400 InvalidArgument, as on AWS.

Responses carry the algorithm, the key ARN and ``…-bucket-key-enabled: true`` when a bucket key
seals the object; writes (PutObject, CopyObject, POST Object, CreateMultipartUpload) echo the
context too.
"""

from __future__ import annotations

from collections.abc import Mapping

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.kms_sse import KMS_MODES, KmsRequest, kms_info, parse_context

KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
KMS_HEADERS = (KEY_ID, CONTEXT)


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"{name} must be true or false", ArgumentName=name,
                           ArgumentValue=value)
    return lowered == "true"


def kms_request(headers: Mapping[str, str], sse: str | None) -> KmsRequest | None:
    """The SSE-KMS part of a write's headers (None when it asks for none); InvalidArgument if inconsistent."""
    if sse not in KMS_MODES:
        for name in KMS_HEADERS:
            if name in headers:
                raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Server Side Encryption with AWS KMS managed key"
                                   " requires HTTP header x-amz-server-side-encryption : aws:kms",
                                   ArgumentName=name, ArgumentValue=headers[name])
        if BUCKET_KEY in headers:
            _bool(headers[BUCKET_KEY], BUCKET_KEY)
        return None
    key_id = headers.get(KEY_ID)
    if key_id is not None and not key_id.strip():
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The KMS key id must not be empty", ArgumentName=KEY_ID,
                           ArgumentValue=key_id)
    context = parse_context(headers[CONTEXT]) if CONTEXT in headers else None
    bucket_key = _bool(headers[BUCKET_KEY], BUCKET_KEY) if BUCKET_KEY in headers else None
    return KmsRequest(key_id.strip() if key_id else None, context, bucket_key)


def kms_headers(sealed_key: str | None, *, context: bool = False) -> dict[str, str]:
    """The SSE-KMS response headers of an object or upload whose key record is ``sealed_key``."""
    info = kms_info(sealed_key)
    if info is None:
        return {}
    headers = {KEY_ID: info.key_arn}
    if info.bucket_key:
        headers[BUCKET_KEY] = "true"
    if context and info.context_b64:
        headers[CONTEXT] = info.context_b64
    return headers
