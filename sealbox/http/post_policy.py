"""The POST policy of a browser upload form: who signed it, what it allows, and whether the form obeys.

A form carries a base64 JSON policy and its signature, as form fields rather than headers:

* Signature Version 4 — ``x-amz-algorithm`` (AWS4-HMAC-SHA256), ``x-amz-credential``
  (``<key>/<YYYYMMDD>/<region>/s3/aws4_request``), ``x-amz-date`` and ``x-amz-signature``: the hex
  HMAC-SHA256 of the base64 policy *string* under the SigV4 signing key of that scope;
* Signature Version 2 — ``AWSAccessKeyId`` and ``signature``: the base64 HMAC-SHA1 of the same string
  (400 InvalidRequest when the server runs with ``--no-sigv2``).

``authenticate_form`` says who signed and how (``FormSignature``): bucket-policy conditions see a
signed form as ``s3:authType`` POST, its scheme as ``s3:signatureversion`` and, for SigV4, the time
since its ``x-amz-date`` as ``s3:signatureAge`` (0 for SigV2, as AWS reports it).

The policy document is ``{"expiration": "<ISO 8601 UTC>", "conditions": [...]}`` where each
condition is ``{"field": "value"}`` or ``["eq", "$field", "value"]`` (exact), ``["starts-with",
"$field", "prefix"]`` (``""`` accepts anything; for Content-Type every comma-separated value must
match) or ``["content-length-range", min, max]``. Field names compare case-insensitively, values
exactly. As on AWS, every field of the form except the signature itself, ``policy``, ``file`` and
``x-ignore-*`` must be named by some condition (``bucket``, the bucket posted to, included), else the
form is refused with "Extra input fields". The key is checked after ``${filename}`` substitution.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http import sigv2
from sealbox.http.auth import sigv2_disabled
from sealbox.http.signing import SIGV2, SIGV4, age_ms, parse_amz_date
from sealbox.http.sigv4 import ALGORITHM, derive_signing_key, hmac_sha256_hex, parse_credential

V4_FIELDS = ("x-amz-signature", "x-amz-algorithm", "x-amz-credential", "x-amz-date")
V2_FIELDS = ("awsaccesskeyid", "signature")
# How S3 spells the fields it names in "Bucket POST must contain a field named '…'".
_SPELLING = {"x-amz-signature": "X-Amz-Signature", "x-amz-algorithm": "X-Amz-Algorithm",
             "x-amz-credential": "X-Amz-Credential", "x-amz-date": "X-Amz-Date",
             "awsaccesskeyid": "AWSAccessKeyId", "signature": "Signature"}
# Fields no condition needs to name: the signature and what it signs, and the file itself.
_UNCOVERED = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"})
_EXPIRATION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_CREDENTIAL_PREFIX = "Error parsing the X-Amz-Credential parameter; "
_SIMPLE_CONDITION = "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
_SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                       "Check your key and signing method.")


def missing_field(name: str) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_ARGUMENT, f"Bucket POST must contain a field named '{name}'.  If it"
                        " is specified, please check the order of the fields.", ArgumentName=name, ArgumentValue="")


def _violation(detail: str) -> SealboxError:
    return SealboxError(ErrorCode.ACCESS_DENIED, f"Invalid according to Policy: {detail}")


def _invalid(detail: str) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_POLICY_DOCUMENT, f"Invalid Policy: {detail}")


# ------------------------------------------------------------------------------------- signature


@dataclass(frozen=True, slots=True)
class FormSignature:
    """Who signed a form's policy, and how (what the s3:signatureversion/signatureAge keys report)."""

    access_key: str
    version: str  # SIGV2 ("AWS") or SIGV4 ("AWS4-HMAC-SHA256")
    age_ms: int  # since the form's x-amz-date (V4); always 0 for V2, as AWS reports it


def authenticate_form(fields: Mapping[str, str], secret_for: Callable[[str], str | None],
                      now: datetime | None = None, *, allow_sigv2: bool = True) -> FormSignature | None:
    """Who signed the form's policy; None for a form that carries no credentials.

    ``fields`` maps lowercase field names to values. A policy without a signature is AccessDenied; a
    Signature Version 2 form is InvalidRequest when ``allow_sigv2`` is off (``--no-sigv2``).
    """
    if any(name in fields for name in V4_FIELDS):
        _require(fields, (*V4_FIELDS, "policy"))
        access_key, signed_at = _verify_v4(fields, secret_for)
        return FormSignature(access_key, SIGV4, age_ms(signed_at, now or datetime.now(UTC)))
    if any(name in fields for name in V2_FIELDS):
        if not allow_sigv2:
            raise sigv2_disabled()
        _require(fields, (*V2_FIELDS, "policy"))
        access_key = fields["awsaccesskeyid"]
        secret = _secret(access_key, secret_for)
        _compare(sigv2.sign(secret, fields["policy"]), fields["signature"], access_key, fields["policy"])
        return FormSignature(access_key, SIGV2, 0)
    if "policy" in fields:
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")
    return None


def _require(fields: Mapping[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if name not in fields:
            raise missing_field(_SPELLING.get(name, name))


def _secret(access_key: str, secret_for: Callable[[str], str | None]) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise SealboxError(ErrorCode.INVALID_ACCESS_KEY_ID, "The AWS Access Key Id you provided does not exist in"
                           " our records.", AWSAccessKeyId=access_key)
    return secret


def _query_error(message: str) -> SealboxError:
    return SealboxError(ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR, message)


def _verify_v4(fields: Mapping[str, str], secret_for: Callable[[str], str | None]) -> tuple[str, datetime]:
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise _query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    credential = parse_credential(fields["x-amz-credential"], ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR,
                                  _CREDENTIAL_PREFIX)
    amz_date = fields["x-amz-date"]
    signed_at = parse_amz_date(amz_date)
    if signed_at is None:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if credential.date != amz_date[:8]:
        raise _query_error("Invalid credential date. Date is not the same as X-Amz-Date.")
    secret = _secret(credential.access_key, secret_for)
    key = derive_signing_key(secret, credential.date, credential.region, credential.service)
    policy = fields["policy"]
    _compare(hmac_sha256_hex(key, policy), fields["x-amz-signature"], credential.access_key, policy)
    return credential.access_key, signed_at


def _compare(expected: str, provided: str, access_key: str, policy: str) -> None:
    if hmac.compare_digest(expected.encode(), provided.encode("utf-8", "surrogateescape")):
        return
    raise SealboxError(ErrorCode.SIGNATURE_DOES_NOT_MATCH, _SIGNATURE_MISMATCH, AWSAccessKeyId=access_key,
                       StringToSign=policy, SignatureProvided=provided,
                       StringToSignBytes=policy.encode("utf-8", "surrogateescape").hex(" "))


# -------------------------------------------------------------------------------------- document


@dataclass(frozen=True)
class Condition:
    op: str  # "eq" or "starts-with"
    field: str | None  # lowercase name without "$"; None when the policy forgot the "$" (never holds)
    value: str
    text: str  # the condition as S3 quotes it in "Policy Condition failed: …"

    def holds(self, values: Mapping[str, str]) -> bool:
        if self.field is None:
            return False
        actual = values.get(self.field, "")
        if self.op == "eq":
            return actual == self.value
        if self.field == "content-type":  # each of a list of types must match
            return all(part.strip().startswith(self.value) for part in actual.split(","))
        return actual.startswith(self.value)


@dataclass(frozen=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...]
    min_size: int = 0
    max_size: int | None = None  # from content-length-range


def decode_policy(encoded: str) -> PostPolicy:
    """Parse the base64 policy field; InvalidPolicyDocument when it is not a policy."""
    try:
        # Some SDKs wrap base64 at 60 or 76 columns; the signature covers the field as sent.
        raw = base64.b64decode("".join(encoded.split()), validate=True)
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in document:
        raise _invalid("Policy missing expiration.")
    if "conditions" not in document:
        raise _invalid("Policy missing conditions.")
    expiration = _expiration(document["expiration"])
    items = document["conditions"]
    if not isinstance(items, list):
        raise _invalid("Invalid 'conditions' value: must be a list.")
    conditions: list[Condition] = []
    low, high = 0, None
    for item in items:
        if isinstance(item, list) and item and isinstance(item[0], str) \
                and item[0].lower() == "content-length-range":
            item_low, item_high = _length_range(item)
            low, high = max(low, item_low), item_high if high is None else min(high, item_high)
        else:
            conditions.append(_condition(item))
    return PostPolicy(expiration, tuple(conditions), low, high)


def _expiration(value: Any) -> datetime:
    text = value if isinstance(value, str) else json.dumps(value)
    if not isinstance(value, str) or not _EXPIRATION_RE.match(value):
        raise _invalid(f"Invalid 'expiration' value: '{text}'")
    try:
        moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise _invalid(f"Invalid 'expiration' value: '{text}'") from None
    fraction = value[19:-1]
    return moment.replace(microsecond=int(fraction[1:7].ljust(6, "0"))) if fraction else moment


def _quote(item: list[Any]) -> str:
    return json.dumps(item, ensure_ascii=False)


def _condition(item: Any) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise _invalid(_SIMPLE_CONDITION)
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise _invalid(f"Invalid Simple-Condition: value of '{name}' must be a string.")
        return Condition("eq", name.lower(), value, _quote(["eq", f"${name}", value]))
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise _invalid(f"Invalid Condition: {_quote(item) if isinstance(item, list) else json.dumps(item)}")
    op = item[0].lower()
    if op not in ("eq", "starts-with"):
        raise _invalid(f"Invalid Condition: unknown operation '{item[0]}'.")
    if len(item) != 3 or not all(isinstance(part, str) for part in item):
        raise _invalid(f"Invalid Condition: {_quote(item)}: expected [operation, $field, value].")
    field = item[1][1:].lower() if item[1].startswith("$") else None
    return Condition(op, field, item[2], _quote(item))


def _length_range(item: list[Any]) -> tuple[int, int]:
    if len(item) != 3:
        raise _invalid(f"Invalid Condition: {_quote(item)}: expected [content-length-range, min, max].")
    bounds = []
    for bound in item[1:]:
        if isinstance(bound, str) and bound.strip().isdigit():
            bound = int(bound)
        if not isinstance(bound, int) or isinstance(bound, bool) or bound < 0:
            raise _invalid(f"Invalid content-length-range: {_quote(item)}")
        bounds.append(bound)
    return bounds[0], bounds[1]


# ------------------------------------------------------------------------------------ evaluation


def check_policy(policy: PostPolicy, fields: Mapping[str, str], bucket: str, now: datetime) -> None:
    """AccessDenied unless the policy is current, every condition holds, and every field is covered.

    ``fields`` are the form's fields before the file (lowercase names, the key already substituted).
    """
    if now >= policy.expiration:
        raise _violation("Policy expired.")
    values = {**fields, "bucket": bucket}
    for condition in policy.conditions:
        if not condition.holds(values):
            raise _violation(f"Policy Condition failed: {condition.text}")
    covered = {c.field for c in policy.conditions}
    extra = [name for name in values
             if name not in covered and name not in _UNCOVERED and not name.startswith("x-ignore-")]
    if extra:
        raise _violation(f"Extra input fields: {', '.join(extra)}")


def check_size(policy: PostPolicy | None, size: int, final: bool) -> None:
    """EntityTooLarge as soon as ``size`` passes the policy's maximum; EntityTooSmall at the end."""
    if policy is None:
        return
    if policy.max_size is not None and size > policy.max_size:
        raise SealboxError(ErrorCode.ENTITY_TOO_LARGE, "Your proposed upload exceeds the maximum allowed size",
                           ProposedSize=str(size), MaxSizeAllowed=str(policy.max_size))
    if final and size < policy.min_size:
        raise SealboxError(ErrorCode.ENTITY_TOO_SMALL, "Your proposed upload is smaller than the minimum allowed"
                           " size", ProposedSize=str(size), MinSizeAllowed=str(policy.min_size))
