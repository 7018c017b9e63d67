"""The AWS KMS API on the S3 endpoint: JSON 1.1, ``X-Amz-Target: TrentService.<Action>``, SigV4 (``kms``).

So ``aws kms … --endpoint-url``, boto3's ``kms`` client and Terraform's AWS provider talk to sealbox's
key service unchanged. A request is recognised by its method (POST), path (``/``) and target header,
before S3 routing (``http/app.py``); the signature is verified here with the body's SHA-256 (KMS
clients do not send ``x-amz-content-sha256``) and a credential scope for service ``kms``. Errors are
the KMS API's: status 400 (500 for internal ones) and ``{"__type": "<Exception>", "message": …}``.

Each action is one function of the table ``ACTIONS`` (parse the JSON → ``KeyService`` → JSON): the
key service runs in a worker thread, since its writes commit to SQLite.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sealbox.http.handlers.base import Services
from sealbox.http.request import Incoming, Response
from sealbox.http.sigv4 import canonical_query, canonical_uri, derive_signing_key, split_query
from sealbox.kms.model import KeyState, KmsCode, KmsError, KmsKey
from sealbox.kms.service import KeyService
from sealbox.service.identity import Principal
from sealbox.service.policy import RequestContext

log = logging.getLogger("sealbox.kms")
TARGET_PREFIX = "TrentService."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 1024 * 1024
MAX_SKEW = timedelta(minutes=15)
Action = Callable[[KeyService, Principal, dict[str, Any]], dict[str, Any]]


def is_kms_request(method: str, raw_path: str, headers: Mapping[str, str]) -> bool:
    return method == "POST" and raw_path in ("", "/") and headers.get("x-amz-target", "").startswith(TARGET_PREFIX)


def error_response(code: KmsCode, message: str, request_id: str) -> Response:
    status = 500 if code in (KmsCode.INTERNAL, KmsCode.DEPENDENCY_TIMEOUT) else 400
    body = json.dumps({"__type": code.value, "message": message}).encode()
    return Response(status, {"content-type": CONTENT_TYPE, "x-amzn-requestid": request_id}, body)


async def handle(services: Services, request: Incoming) -> Response:
    try:
        return await _handle(services, request)
    except KmsError as exc:
        return error_response(exc.code, exc.message, request.request_id)
    except Exception:
        log.exception("unhandled error in KMS %s (request %s)", request.headers.get("x-amz-target"),
                      request.request_id)
        return error_response(KmsCode.INTERNAL, "We encountered an internal error. Please try again.",
                              request.request_id)


async def _handle(services: Services, request: Incoming) -> Response:
    body = await _read_body(request)
    access_key = _verify(services, request, body, datetime.now(UTC))
    found = services.identity.lookup(access_key)
    assert found is not None  # _verify looked it up
    context = RequestContext(secure=request.secure, source_ip=request.client_ip, headers=request.headers,
                             query=request.query)
    principal = Principal(found[0], access_key, context)
    name = request.headers["x-amz-target"][len(TARGET_PREFIX):]
    action = ACTIONS.get(name)
    if action is None:
        raise KmsError(KmsCode.UNKNOWN_OPERATION, f"The action {name} is not supported by sealbox's key service")
    if services.kms is None:
        raise KmsError(KmsCode.UNSUPPORTED, "This server uses an external key service (--kms-endpoint); manage"
                       " keys there")
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise KmsError(KmsCode.SERIALIZATION, "The request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise KmsError(KmsCode.SERIALIZATION, "The request body must be a JSON object")
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(services.objects.pool, partial(action, services.kms, principal, params))
    log.info("KMS %s by %s", name, principal.name)
    return Response(200, {"content-type": CONTENT_TYPE, "x-amzn-requestid": request.request_id},
                    json.dumps(result).encode())


async def _read_body(request: Incoming) -> bytes:
    parts: list[bytes] = []
    size = 0
    while (chunk := await request.receive()) is not None:
        size += len(chunk)
        if size > MAX_BODY:
            raise KmsError(KmsCode.VALIDATION, "The request body is too large")
        parts.append(chunk)
    return b"".join(parts)


# -- SigV4 for service "kms" -------------------------------------------------------------------------------


def _verify(services: Services, request: Incoming, body: bytes, now: datetime) -> str:
    """The access key of a correctly signed KMS request; InvalidSignatureException otherwise."""
    headers = request.headers
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise KmsError(KmsCode.INVALID_SIGNATURE if authorization else KmsCode.UNRECOGNIZED_CLIENT,
                       "Requests to the key service must be signed with AWS Signature Version 4")
    fields = dict(part.strip().partition("=")[::2] for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    credential, signed, signature = fields.get("Credential", ""), fields.get("SignedHeaders", ""), \
        fields.get("Signature", "")
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or parts[3] != "kms" or parts[4] != "aws4_request" or not signed or not signature:
        raise KmsError(KmsCode.INVALID_SIGNATURE, "The credential scope must be <date>/<region>/kms/aws4_request")
    access_key, date, region = parts[0], parts[1], parts[2]
    amz_date = headers.get("x-amz-date", "")
    try:
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise KmsError(KmsCode.INVALID_SIGNATURE, "X-Amz-Date is missing or malformed") from None
    if abs(now - moment) > MAX_SKEW or amz_date[:8] != date:
        raise KmsError(KmsCode.INVALID_SIGNATURE, "Signature expired or the request time is too skewed")
    found = services.identity.lookup(access_key)
    if found is None:
        raise KmsError(KmsCode.UNRECOGNIZED_CLIENT, "The security token included in the request is invalid.")
    names = signed.split(";")
    if "host" not in names or any(n.startswith("x-amz-") and n not in names for n in headers if n != "x-amz-content-sha256"):
        raise KmsError(KmsCode.INVALID_SIGNATURE, "host and every x-amz-* header must be signed")
    canonical = "\n".join([request.method, canonical_uri(request.raw_path),
                           canonical_query(split_query(request.raw_query)),
                           *(f"{n}:{' '.join(headers.get(n, '').split())}" for n in names), "", signed,
                           hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{region}/kms/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    expected = hmac.digest(derive_signing_key(found[1], date, region, "kms"), to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected, signature):
        raise KmsError(KmsCode.INVALID_SIGNATURE, "The request signature we calculated does not match the"
                       " signature you provided.")
    return access_key


# -- parameters --------------------------------------------------------------------------------------------


def _str(params: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise KmsError(KmsCode.VALIDATION, f"1 validation error detected: Value null at '{name}' failed to"
                           " satisfy constraint: Member must not be null")
        return None
    if not isinstance(value, str):
        raise KmsError(KmsCode.SERIALIZATION, f"{name} must be a string")
    return value


def _req(params: Mapping[str, Any], name: str) -> str:
    value = _str(params, name)
    assert value is not None
    return value


def _int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise KmsError(KmsCode.SERIALIZATION, f"{name} must be an integer")
    return value


def _blob(params: Mapping[str, Any], name: str) -> bytes:
    try:
        return base64.b64decode(_req(params, name).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise KmsError(KmsCode.SERIALIZATION, f"{name} is not valid base64") from None


def _context(params: Mapping[str, Any]) -> dict[str, str]:
    value = params.get("EncryptionContext") or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise KmsError(KmsCode.SERIALIZATION, "EncryptionContext must be a map of strings")
    return dict(value)


def _page(params: Mapping[str, Any], items: list[Any], name: str, key: Callable[[Any], str],
          render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    limit = _int(params, "Limit") or 100
    if not 1 <= limit <= 1000:
        raise KmsError(KmsCode.VALIDATION, "Limit must be between 1 and 1000")
    marker = _str(params, "Marker", required=False)
    if marker:
        keys = [key(i) for i in items]
        if marker not in keys:
            raise KmsError(KmsCode.INVALID_MARKER, "The marker is not valid")
        items = items[keys.index(marker) + 1:]
    page = items[:limit]
    out: dict[str, Any] = {name: [render(i) for i in page], "Truncated": len(items) > limit}
    if len(items) > limit:
        out["NextMarker"] = key(page[-1])
    return out


def _tags(params: Mapping[str, Any]) -> dict[str, str]:
    tags = params.get("Tags") or []
    if not isinstance(tags, list):
        raise KmsError(KmsCode.SERIALIZATION, "Tags must be a list")
    out = {}
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("TagKey"), str) or \
                not isinstance(tag.get("TagValue"), str):
            raise KmsError(KmsCode.TAG, "Each tag needs a TagKey and a TagValue")
        out[tag["TagKey"]] = tag["TagValue"]
    return out


# -- rendering -----------------------------------------------------------------------------------------------


def key_metadata(kms: KeyService, key: KmsKey) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "AWSAccountId": kms.account, "KeyId": key.key_id, "Arn": kms.arn(key.key_id), "CreationDate": key.created,
        "Enabled": key.state is KeyState.ENABLED, "Description": key.description, "KeyUsage": key.key_usage,
        "KeyState": key.state.value, "Origin": "AWS_KMS", "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False}
    if key.deletion_date is not None:
        meta["DeletionDate"] = key.deletion_date
        meta["PendingDeletionWindowInDays"] = key.pending_window_days
    return meta


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- actions ---------------------------------------------------------------------------------------------


def create_key(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("MultiRegion"):
        raise KmsError(KmsCode.UNSUPPORTED, "Multi-Region keys are not supported by sealbox's key service")
    key = kms.create_key(p, _str(params, "Description", False) or "", _str(params, "Policy", False),
                         key_usage=_str(params, "KeyUsage", False) or "ENCRYPT_DECRYPT",
                         key_spec=_str(params, "KeySpec", False) or _str(params, "CustomerMasterKeySpec", False)
                         or "SYMMETRIC_DEFAULT", tags=_tags(params), origin=_str(params, "Origin", False) or "AWS_KMS")
    return {"KeyMetadata": key_metadata(kms, key)}


def describe_key(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    return {"KeyMetadata": key_metadata(kms, kms.describe(p, _req(params, "KeyId")))}


def list_keys(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    return _page(params, kms.list_keys(p), "Keys", lambda k: k.key_id,
                 lambda k: {"KeyId": k.key_id, "KeyArn": kms.arn(k.key_id)})


def enable_key(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.set_enabled(p, _req(params, "KeyId"), True)
    return {}


def disable_key(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.set_enabled(p, _req(params, "KeyId"), False)
    return {}


def schedule_key_deletion(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    key = kms.schedule_deletion(p, _req(params, "KeyId"), _int(params, "PendingWindowInDays"))
    return {"KeyId": kms.arn(key.key_id), "DeletionDate": key.deletion_date, "KeyState": key.state.value,
            "PendingWindowInDays": key.pending_window_days}


def cancel_key_deletion(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    key = kms.cancel_deletion(p, _req(params, "KeyId"))
    return {"KeyId": kms.arn(key.key_id)}


def create_alias(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.create_alias(p, _req(params, "AliasName"), _req(params, "TargetKeyId"))
    return {}


def update_alias(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.update_alias(p, _req(params, "AliasName"), _req(params, "TargetKeyId"))
    return {}


def delete_alias(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.delete_alias(p, _req(params, "AliasName"))
    return {}


def list_aliases(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    aliases = kms.list_aliases(p, _str(params, "KeyId", False))
    return _page(params, aliases, "Aliases", lambda a: a.name, lambda a: {
        "AliasName": a.name, "AliasArn": kms.alias_arn(a.name), "TargetKeyId": a.key_id, "CreationDate": a.created,
        "LastUpdatedDate": a.updated})


def enable_key_rotation(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.set_rotation(p, _req(params, "KeyId"), True, _int(params, "RotationPeriodInDays"))
    return {}


def disable_key_rotation(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.set_rotation(p, _req(params, "KeyId"), False)
    return {}


def get_key_rotation_status(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    key = kms.rotation_status(p, _req(params, "KeyId"))
    out: dict[str, Any] = {"KeyRotationEnabled": key.rotation_enabled, "KeyId": kms.arn(key.key_id)}
    if key.rotation_enabled:
        out["RotationPeriodInDays"] = key.rotation_period_days
        out["NextRotationDate"] = key.next_rotation
    return out


def rotate_key_on_demand(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    return {"KeyId": kms.rotate_now(p, _req(params, "KeyId")).key_id}


def list_key_rotations(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    key, rotations = kms.rotations(p, _req(params, "KeyId"))
    return _page(params, rotations, "Rotations", lambda m: str(m.version), lambda m: {
        "KeyId": key.key_id, "RotationDate": m.created, "RotationType": "ON_DEMAND" if m.on_demand else "AUTOMATIC"})


def _data_key_length(params: Mapping[str, Any]) -> int:
    spec, count = _str(params, "KeySpec", False), _int(params, "NumberOfBytes")
    if (spec is None) == (count is None):
        raise KmsError(KmsCode.VALIDATION, "Specify exactly one of KeySpec and NumberOfBytes")
    if spec is not None:
        lengths = {"AES_256": 32, "AES_128": 16}
        if spec not in lengths:
            raise KmsError(KmsCode.VALIDATION, "KeySpec must be AES_256 or AES_128")
        return lengths[spec]
    assert count is not None
    return count


def generate_data_key(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    made = kms.generate_data_key(p, _req(params, "KeyId"), _context(params), length=_data_key_length(params))
    return {"CiphertextBlob": _b64(made.blob), "Plaintext": _b64(made.plaintext), "KeyId": made.key_arn}


def generate_data_key_without_plaintext(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    made = kms.generate_data_key(p, _req(params, "KeyId"), _context(params), length=_data_key_length(params))
    return {"CiphertextBlob": _b64(made.blob), "KeyId": made.key_arn}


def _symmetric(params: Mapping[str, Any]) -> None:
    algorithm = _str(params, "EncryptionAlgorithm", False)
    if algorithm not in (None, "SYMMETRIC_DEFAULT"):
        raise KmsError(KmsCode.VALIDATION, "EncryptionAlgorithm must be SYMMETRIC_DEFAULT")


def encrypt(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    _symmetric(params)
    made = kms.encrypt(p, _req(params, "KeyId"), _blob(params, "Plaintext"), _context(params))
    return {"CiphertextBlob": _b64(made.blob), "KeyId": made.key_arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def decrypt(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    _symmetric(params)
    made = kms.decrypt(p, _blob(params, "CiphertextBlob"), _context(params), _str(params, "KeyId", False))
    return {"Plaintext": _b64(made.plaintext), "KeyId": made.key_arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def get_key_policy(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    if (_str(params, "PolicyName", False) or "default") != "default":
        raise KmsError(KmsCode.NOT_FOUND, "The only key policy is named default")
    return {"Policy": kms.get_policy(p, _req(params, "KeyId")), "PolicyName": "default"}


def put_key_policy(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    if (_str(params, "PolicyName", False) or "default") != "default":
        raise KmsError(KmsCode.VALIDATION, "The key policy must be named default")
    kms.put_policy(p, _req(params, "KeyId"), _req(params, "Policy"))
    return {}


def list_key_policies(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.describe(p, _req(params, "KeyId"))
    return {"PolicyNames": ["default"], "Truncated": False}


def list_resource_tags(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    key = kms.describe(p, _req(params, "KeyId"))
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in sorted(key.tags.items())], "Truncated": False}


def tag_resource(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.set_tags(p, _req(params, "KeyId"), _tags(params), [])
    return {}


def untag_resource(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    keys = params.get("TagKeys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise KmsError(KmsCode.SERIALIZATION, "TagKeys must be a list of strings")
    kms.set_tags(p, _req(params, "KeyId"), {}, keys)
    return {}


def update_key_description(kms: KeyService, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    kms.update_description(p, _req(params, "KeyId"), _req(params, "Description"))
    return {}


ACTIONS: dict[str, Action] = {
    "CreateKey": create_key, "DescribeKey": describe_key, "ListKeys": list_keys, "EnableKey": enable_key,
    "DisableKey": disable_key, "ScheduleKeyDeletion": schedule_key_deletion,
    "CancelKeyDeletion": cancel_key_deletion, "CreateAlias": create_alias, "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias, "ListAliases": list_aliases, "EnableKeyRotation": enable_key_rotation,
    "DisableKeyRotation": disable_key_rotation, "GetKeyRotationStatus": get_key_rotation_status,
    "RotateKeyOnDemand": rotate_key_on_demand, "ListKeyRotations": list_key_rotations,
    "GenerateDataKey": generate_data_key, "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "Encrypt": encrypt, "Decrypt": decrypt, "GetKeyPolicy": get_key_policy, "PutKeyPolicy": put_key_policy,
    "ListKeyPolicies": list_key_policies, "ListResourceTags": list_resource_tags, "TagResource": tag_resource,
    "UntagResource": untag_resource, "UpdateKeyDescription": update_key_description,
}
