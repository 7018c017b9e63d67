"""What every handler is given: the services of one worker, and shared rendering helpers."""

from __future__ import annotations

import base64
import binascii

from dataclasses import dataclass

from sealbox.config import Settings
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import NULL_VERSION, SSE_C, ObjectVersion
from sealbox.http.request import Request
from sealbox.http.sse_c import ALGORITHM, customer_key
from sealbox.http.sse_kms import kms_headers
from sealbox.http.xml import el, iso8601
from sealbox.kms.service import KeyService
from sealbox.service.buckets import BucketService
from sealbox.service.cors import CorsService
from sealbox.service.identity import Identity, canonical_id
from sealbox.service.objects import ObjectService
from sealbox.service.sse_c import CustomerKey


@dataclass(frozen=True)
class Services:
    settings: Settings
    identity: Identity
    buckets: BucketService
    objects: ObjectService
    cors: CorsService
    kms: KeyService | None = None  # the built-in key service (None: an external one, or none)


def owner_xml(principal: str, tag: str = "Owner") -> str:
    return f"<{tag}>{el('ID', canonical_id(principal))}{el('DisplayName', principal)}</{tag}>"


def version_headers(version: ObjectVersion) -> dict[str, str]:
    """Headers every object response carries: version id and encryption state."""
    headers: dict[str, str] = {}
    if version.version_id != NULL_VERSION:
        headers["x-amz-version-id"] = version.version_id
    if version.sse == SSE_C:  # and the key MD5 the request sent (sse_c.ssec_headers): it is not stored
        headers[ALGORITHM] = "AES256"
    elif version.sse:
        headers["x-amz-server-side-encryption"] = version.sse
        headers.update(kms_headers(version.sealed_key))
    return headers


def customer(s: Services, r: Request, copy_source: bool = False) -> CustomerKey | None:
    """The request's SSE-C key (``copy_source``: its copy source's), checked as AWS checks it."""
    return customer_key(r.headers, secure=r.secure, allow_http=s.settings.allow_sse_c_over_http,
                        copy_source=copy_source)


def int_param(query: dict[str, str], name: str, default: int, lo: int = 0, hi: int = 2**31 - 1) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not lo <= number <= hi:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"Provided {name} not an integer or within integer range",
                           ArgumentName=name, ArgumentValue=value)
    return number


def encode_token(key: str) -> str:
    """An opaque continuation token for a listing that resumes after ``key``."""
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogateescape")).decode()


def decode_token(token: str, name: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The continuation token provided is incorrect",
                           ArgumentName=name, ArgumentValue=token) from None


def object_timestamp(version: ObjectVersion) -> str:
    return iso8601(version.last_modified)
