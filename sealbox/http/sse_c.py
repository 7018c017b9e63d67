"""The SSE-C request and response headers (customer-provided keys).

Requests: ``x-amz-server-side-encryption-customer-algorithm`` (AES256), ``…-customer-key`` (base64 of
32 bytes) and ``…-customer-key-MD5`` (base64 MD5 of the key) on PutObject, GetObject, HeadObject,
GetObjectAttributes, CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
CopyObject and POST Object (form fields); ``x-amz-copy-source-server-side-encryption-customer-*`` name
a copy source's key. Checked as AWS checks them (all 400): a missing one of the three, an algorithm
other than AES256 (InvalidEncryptionAlgorithmError), a key that is not 32 bytes of base64, an MD5 that
does not match, SSE-C together with ``x-amz-server-side-encryption``; and over plain HTTP unless the
operator allows it (``--allow-sse-c-over-http``). Error details never carry the key.

Responses echo the algorithm and the key MD5, never the key.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.crypto.ssec import CUSTOMER_KEY_SIZE
from sealbox.service.sse_c import CustomerKey

ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
KEY = "x-amz-server-side-encryption-customer-key"
KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"
WIRE_KEY_MD5 = "x-amz-server-side-encryption-customer-key-MD5"
COPY = "x-amz-copy-source-"
SSE_HEADER = "x-amz-server-side-encryption"
_PREFIX = "Requests specifying Server Side Encryption with Customer provided keys must "


_NAMES = (ALGORITHM, KEY, KEY_MD5)
_COPY_NAMES = tuple(COPY + n.removeprefix("x-amz-") for n in _NAMES)


def _b64(text: str) -> bytes:
    """Strict base64 (b"" when it is not): ``a2b_base64`` directly, ~3x cheaper than ``b64decode``."""
    try:
        return binascii.a2b_base64(text.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        return b""


def _invalid(message: str, name: str, value: str | None = "null") -> SealboxError:
    if value is None:  # the value would be (a digest of) the key: never echoed
        return SealboxError(ErrorCode.INVALID_ARGUMENT, message, ArgumentName=name)
    return SealboxError(ErrorCode.INVALID_ARGUMENT, message, ArgumentName=name, ArgumentValue=value)


def customer_key(headers: Mapping[str, str], *, secure: bool, allow_http: bool,
                 copy_source: bool = False) -> CustomerKey | None:
    """The request's SSE-C key (``copy_source``: the copy source's), None when none of the headers is sent."""
    names = _COPY_NAMES if copy_source else _NAMES
    algorithm, key_text, md5 = headers.get(names[0]), headers.get(names[1]), headers.get(names[2])
    if algorithm is None and key_text is None and md5 is None:
        return None
    if not secure and not allow_http:
        raise SealboxError(ErrorCode.INVALID_REQUEST, _PREFIX + "be made over a secure connection.")
    if not copy_source and SSE_HEADER in headers:
        raise _invalid("Server Side Encryption with Customer provided key is incompatible with the encryption"
                       " method specified", SSE_HEADER, headers[SSE_HEADER])
    if algorithm is None:
        raise _invalid(_PREFIX + "provide a valid encryption algorithm.", names[0])
    if algorithm != "AES256":
        raise SealboxError(ErrorCode.INVALID_ENCRYPTION_ALGORITHM, "The encryption request you specified is not"
                           " valid. The valid value is AES256.", ArgumentName=names[0],
                           ArgumentValue=algorithm)
    if key_text is None:
        raise _invalid(_PREFIX + "provide an appropriate secret key.", names[1])
    key = _b64(key_text)
    if len(key) != CUSTOMER_KEY_SIZE:
        raise _invalid("The secret key was invalid for the specified algorithm.", names[1], None)
    if md5 is None:
        raise _invalid(_PREFIX + "provide the client calculated MD5 of the secret key.", names[2])
    if not hmac.compare_digest(_b64(md5), hashlib.md5(key).digest()):
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was provided.",
                       names[2], None)
    return CustomerKey(key, md5.strip())


def ssec_headers(customer: CustomerKey | None) -> dict[str, str]:
    """The response headers of an SSE-C request: the algorithm and the key MD5 it sent (never the key)."""
    if customer is None:
        return {}
    return {ALGORITHM: "AES256", WIRE_KEY_MD5: customer.md5}
