"""The S3 port's rendering of the HTTP transport's own refusals (``sealbox.http.exchange``), as S3
error XML from the one table: a head too large or too slow is 400 as on AWS, an overloaded worker
answers 503 SlowDown, which every SDK retries with backoff."""

from __future__ import annotations

from sealbox.core import ids
from sealbox.core.errors import ErrorCode
from sealbox.http.errors import error_xml, status_of
from sealbox.http.exchange import Refusal, Reply

_CODES = {
    Refusal.MALFORMED: ErrorCode.INVALID_REQUEST,
    Refusal.NO_HOST: ErrorCode.INVALID_REQUEST,
    Refusal.HEAD_TOO_LARGE: ErrorCode.REQUEST_HEADER_SECTION_TOO_LARGE,
    Refusal.HEAD_TIMEOUT: ErrorCode.REQUEST_TIMEOUT,
    Refusal.EXPECTATION_FAILED: ErrorCode.EXPECTATION_FAILED,
    Refusal.OVERLOADED: ErrorCode.SLOW_DOWN,
    Refusal.INTERNAL_ERROR: ErrorCode.INTERNAL_ERROR,
}
assert set(_CODES) == set(Refusal), "every refusal needs its S3 error"


def s3_refusal(refusal: Refusal, message: str) -> Reply:
    code = _CODES[refusal]
    request_id = ids.hex_id(8).upper()
    body = error_xml(code, message, "/", request_id, {})
    return Reply(status_of(code), [("content-type", "application/xml"), ("x-amz-request-id", request_id),
                                   ("server", "sealbox")], body)
