"""Bucket policies against a real server: condition keys that tell the truth, wildcards that cannot stall it.

Issue 13: s3:signatureversion, s3:authType, s3:signatureAge, s3:x-amz-content-sha256 and
s3:TlsVersion come from how the request was really signed and carried; an unknown key is
MalformedPolicy; a wildcard pattern costs time linear in the key, whatever the pattern.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import time
from typing import Any
from unittest import mock

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support import REGION, Server, signed_request, xml_code


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(effect: str, bucket: str, condition: dict[str, Any] | None = None, action: str = "s3:GetObject",
              resource: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Principal": "*", "Action": action,
                           "Resource": resource or f"arn:aws:s3:::{bucket}/*"}
    if condition:
        out["Condition"] = condition
    return out


def code_of(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return str(info.value.response["Error"]["Code"])


def raw_get(server: Server, path: str, timeout: float = 20) -> tuple[int, bytes, float]:
    """An anonymous GET with the path exactly as given (no client normalises its slashes)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(), time.monotonic() - start
    finally:
        conn.close()


# -- wildcards ---------------------------------------------------------------------------------------------


def test_wildcard_policy_cannot_stall_the_server(server: Server, s3: Any, bucket: str) -> None:
    """A public-read pattern with 8 stars and anonymous GETs of keys full of '/': the regex this replaced
    backtracked for hours on one such request, on the event loop, stalling every client of the worker."""
    s3.put_object(Bucket=bucket, Key="pub/a/b/c/d/e/f/g/h.jpg", Body=b"jpeg")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Allow", bucket, resource=f"arn:aws:s3:::{bucket}/pub/*/*/*/*/*/*/*/*.jpg")))
    assert raw_get(server, f"/{bucket}/pub/a/b/c/d/e/f/g/h.jpg")[:2] == (200, b"jpeg")
    hostile = f"/{bucket}/pub/" + "/" * 1000 + "x.png"  # a valid key (1,009 bytes) that does not match
    for _ in range(3):
        status, body, took = raw_get(server, hostile)
        assert status == 403 and b"AccessDenied" in body
        assert took < 2.0, f"{took:.1f} s for one anonymous GET"
    # Longer than any key can be (1,024 bytes): refused before it is matched against the policy.
    status, body, took = raw_get(server, f"/{bucket}/pub/" + "/" * 60_000 + "x.png")
    assert (status, b"KeyTooLongError" in body) == (400, True) and took < 2.0
    assert s3.get_object(Bucket=bucket, Key="pub/a/b/c/d/e/f/g/h.jpg")["Body"].read() == b"jpeg"


# -- keys a policy may name --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["s3:signatureversion", "s3:authType", "s3:signatureAge",
                                 "s3:x-amz-content-sha256", "s3:TlsVersion"])
def test_signature_and_transport_keys_are_accepted(s3: Any, bucket: str, key: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement("Deny", bucket, {"Null": {key: "true"}})))


@pytest.mark.parametrize("key", ["s3:nonsense", "aws:SourceVpce", "aws:MultiFactorAuthPresent"])
def test_unknown_condition_key_is_malformed_policy(s3: Any, bucket: str, key: str) -> None:
    """Never silently ignored: a key sealbox cannot evaluate is refused when the policy is put, as on AWS."""
    with pytest.raises(ClientError) as info:
        s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement("Deny", bucket, {"Null": {key: "true"}})))
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("MalformedPolicy", "Policy has an invalid condition key")


# -- the signature keys -------------------------------------------------------------------------------------


def test_signature_version(server: Server, s3: Any, bucket: str) -> None:
    """s3:signatureversion is "AWS" for SigV2; it used to report AWS4-HMAC-SHA256 for every signed request."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"v4 only")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Deny", bucket, {"StringEquals": {"s3:signatureversion": "AWS"}})))
    v2: Any = server.client(signature_version="s3")
    assert code_of(v2.get_object, Bucket=bucket, Key="k") == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v4 only"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Deny", bucket, {"StringEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}})))
    assert v2.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v4 only"
    assert code_of(s3.get_object, Bucket=bucket, Key="k") == "AccessDenied"


def test_auth_type(server: Server, s3: Any, bucket: str) -> None:
    """Deny presigned URLs: both V4 and V2 ones (V2 URLs used to carry no s3:authType at all)."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"header only")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Deny", bucket, {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}})))
    params = {"Bucket": bucket, "Key": "k"}
    for version in ("s3v4", "s3"):
        signer: Any = server.client(signature_version=version)
        url = signer.generate_presigned_url("get_object", Params=params)
        denied = requests.get(url, timeout=10)
        assert (denied.status_code, xml_code(denied)) == (403, "AccessDenied"), version
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"header only"


def presigned_v4(server: Server, url: str, signed_at: dt.datetime, expires: int = 3600) -> str:
    """A SigV4 presigned GET URL signed at a chosen time (botocore's query signer)."""
    request = AWSRequest(method="GET", url=url)
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        S3SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "s3", REGION,
                         expires=expires).add_auth(request)
    return str(request.url)


def test_signature_age(server: Server, s3: Any, bucket: str) -> None:
    """AWS's example: deny presigned URLs whose signature is more than ten minutes old."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"fresh")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Deny", bucket, {"NumericGreaterThan": {"s3:signatureAge": 600000}})))
    url = f"{server.endpoint}/{bucket}/k"
    fresh = presigned_v4(server, url, dt.datetime.now(dt.UTC))
    stale = presigned_v4(server, url, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11))
    assert requests.get(fresh, timeout=10).content == b"fresh"
    response = requests.get(stale, timeout=10)
    assert (response.status_code, xml_code(response)) == (403, "AccessDenied")
    # Header-signed requests have no s3:signatureAge (AWS documents it for presigned URLs and POST).
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"fresh"


def test_content_sha256(server: Server, s3: Any, bucket: str) -> None:
    """AWS's example: deny uploads whose payload the signature does not cover."""
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Deny", bucket, {"StringEquals": {"s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD"}}, "s3:PutObject")))
    unsigned = signed_request(server, "PUT", f"/{bucket}/u", body=b"x", payload_hash="UNSIGNED-PAYLOAD")
    assert (unsigned.status_code, xml_code(unsigned)) == (403, "AccessDenied")
    assert signed_request(server, "PUT", f"/{bucket}/s", body=b"x").status_code == 200


def _tls_get(server: Server, path: str, version: ssl.TLSVersion) -> int:
    context = ssl.create_default_context(cafile=str(server.cert))
    context.minimum_version = context.maximum_version = version
    assert server.tls_port is not None
    conn = http.client.HTTPSConnection("localhost", server.tls_port, context=context, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_tls_version(server: Server, s3: Any, bucket: str) -> None:
    """s3:TlsVersion is the negotiated version ("1.2", "1.3"), absent over plain HTTP."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"tls")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(statement(
        "Allow", bucket, {"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}})))
    path = f"/{bucket}/k"
    assert _tls_get(server, path, ssl.TLSVersion.TLSv1_3) == 200
    assert _tls_get(server, path, ssl.TLSVersion.TLSv1_2) == 200
    assert raw_get(server, path)[0] == 403  # plain HTTP: no TLS version, no Allow
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        statement("Allow", bucket),
        statement("Deny", bucket, {"NumericLessThan": {"s3:TlsVersion": 1.3}})))
    assert _tls_get(server, path, ssl.TLSVersion.TLSv1_3) == 200
    assert _tls_get(server, path, ssl.TLSVersion.TLSv1_2) == 403
    assert raw_get(server, path)[0] == 200  # absent: NumericLessThan does not hold, the Allow stands


def test_sse_c_algorithm_condition_key(server: Server, bucket: str) -> None:
    """s3:x-amz-server-side-encryption-customer-algorithm (PutObject, as in AWS's authorization reference):
    "deny uploads without SSE-C" and "deny SSE-C with another algorithm" policies work."""
    tls: Any = server.client(tls=True)  # SSE-C needs TLS on the shared server
    ssec: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": bytes(range(32))}
    resource = f"arn:aws:s3:::{bucket}/*"
    tls.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": resource,
         "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": resource,
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}}},
    ]}))
    with pytest.raises(ClientError) as exc:
        tls.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    tls.put_object(Bucket=bucket, Key="sealed", Body=b"x", **ssec)
    assert tls.get_object(Bucket=bucket, Key="sealed", **ssec)["Body"].read() == b"x"
    tls.delete_bucket_policy(Bucket=bucket)
