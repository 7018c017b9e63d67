"""A client of an external key service that speaks the AWS KMS API (AWS KMS itself, or a compatible one).

The KMS API is JSON 1.1 over HTTPS: ``POST /`` with ``X-Amz-Target: TrentService.<Action>``,
``Content-Type: application/x-amz-json-1.1`` and a SigV4 signature for service ``kms`` (signed here:
canonical request, string to sign, HMAC chain, exactly as AWS specifies). Credentials come from the
usual AWS environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optionally
``AWS_SESSION_TOKEN``; region ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else sealbox's ``--region``).

Calls block (the network): callers run them in worker threads. A KMS error answer becomes the same
``KmsError`` the built-in service raises (its ``__type``), so S3 answers ``KMS.DisabledException``
etc. either way; a network failure is ``DependencyTimeoutException``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sealbox.kms.model import KmsCode, KmsError

_CODES = {code.value: code for code in KmsCode}
TIMEOUT = 10.0


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Credentials:
        access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if not access or not secret:
            raise ValueError("--kms-endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        return cls(access, secret, environ.get("AWS_SESSION_TOKEN") or None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode("utf-8"), "sha256")


def sign(method: str, host: str, path: str, headers: dict[str, str], body: bytes, creds: Credentials,
         region: str, service: str, now: datetime) -> dict[str, str]:
    """``headers`` plus X-Amz-Date (and the session token) and a SigV4 Authorization header."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    out = {**headers, "host": host, "x-amz-date": amz_date}
    if creds.session_token:
        out["x-amz-security-token"] = creds.session_token
    names = sorted(k.lower() for k in out)
    lowered = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    canonical = "\n".join([method, path or "/", "", *(f"{n}:{lowered[n]}" for n in names), "", ";".join(names),
                           hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{creds.secret_key}".encode(), amz_date[:8]), region), service),
                "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                            f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return out


class KmsClient:
    """The calls SSE-KMS needs: GenerateDataKey, Decrypt, DescribeKey."""

    def __init__(self, endpoint: str, credentials: Credentials, region: str) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--kms-endpoint must be an http(s) URL, not {endpoint!r}")
        self.endpoint = endpoint
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        self.credentials = credentials
        self.region = region
        self.calls = 0  # requests sent (the bucket-key tests count them)

    def call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params).encode()
        headers = sign("POST", self._netloc, self._path,
                       {"content-type": "application/x-amz-json-1.1", "x-amz-target": f"TrentService.{action}"},
                       body, self.credentials, self.region, "kms", datetime.now(UTC))
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=TIMEOUT,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT)
        self.calls += 1
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except OSError as exc:
            raise KmsError(KmsCode.DEPENDENCY_TIMEOUT, f"the key service at {self.endpoint} did not answer:"
                           f" {exc}") from None
        finally:
            conn.close()
        try:
            doc = json.loads(data or b"{}")
        except ValueError:
            raise KmsError(KmsCode.INTERNAL, f"the key service answered {status} with no JSON") from None
        if status >= 300 or "__type" in doc:
            name = str(doc.get("__type", "")).rsplit("#", 1)[-1]
            message = doc.get("message") or doc.get("Message") or name
            raise KmsError(_CODES.get(name, KmsCode.INTERNAL), f"{message}")
        return dict(doc)

    def generate_data_key(self, key_id: str, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        doc = self.call("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256",
                                            "EncryptionContext": dict(context)})
        return base64.b64decode(doc["Plaintext"]), base64.b64decode(doc["CiphertextBlob"]), str(doc["KeyId"])

    def decrypt(self, blob: bytes, context: Mapping[str, str], key_id: str | None) -> tuple[bytes, str]:
        params: dict[str, Any] = {"CiphertextBlob": base64.b64encode(blob).decode(),
                                  "EncryptionContext": dict(context)}
        if key_id:
            params["KeyId"] = key_id
        doc = self.call("Decrypt", params)
        return base64.b64decode(doc["Plaintext"]), str(doc.get("KeyId", key_id or ""))

    def describe_key(self, key_id: str) -> dict[str, Any]:
        meta = self.call("DescribeKey", {"KeyId": key_id}).get("KeyMetadata", {})
        return dict(meta)
