"""SigV4 over the wire: header and presigned forms, payload modes, and each auth error."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import REGION, Server, signed_headers, signed_request, xml_code


def test_anonymous_request_is_denied(server: Server, bucket: str) -> None:
    resp = requests.get(f"{server.endpoint}/{bucket}/x", timeout=10)
    assert resp.status_code == 403 and xml_code(resp) == "AccessDenied"
    resp = requests.get(f"{server.endpoint}/", timeout=10)
    assert resp.status_code == 403 and xml_code(resp) == "AccessDenied"


def test_unknown_access_key(server: Server, bucket: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", access_key="SBNOSUCHKEY000000000")
    assert resp.status_code == 403 and xml_code(resp) == "InvalidAccessKeyId"
    assert "<AWSAccessKeyId>SBNOSUCHKEY000000000</AWSAccessKeyId>" in resp.text


def test_wrong_secret(server: Server, bucket: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", secret="wrong-secret")
    assert resp.status_code == 403 and xml_code(resp) == "SignatureDoesNotMatch"
    assert "<StringToSign>AWS4-HMAC-SHA256" in resp.text and "<CanonicalRequest>" in resp.text


def test_tampered_signed_header_and_path(server: Server, bucket: str) -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/a", headers={"x-amz-meta-x": "1"})
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", REGION).add_auth(req)
    headers = dict(req.prepare().headers)
    ok = requests.get(f"{server.endpoint}/{bucket}/a", headers=headers, timeout=10)
    assert ok.status_code == 404  # signature fine, object missing
    moved = requests.get(f"{server.endpoint}/{bucket}/b", headers=headers, timeout=10)
    assert moved.status_code == 403 and xml_code(moved) == "SignatureDoesNotMatch"
    headers["x-amz-meta-x"] = "2"
    changed = requests.get(f"{server.endpoint}/{bucket}/a", headers=headers, timeout=10)
    assert changed.status_code == 403 and xml_code(changed) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("minutes", [-60, 20])
def test_request_time_too_skewed(server: Server, bucket: str, minutes: int) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    headers = signed_headers(server, "GET", f"/{bucket}", when=when)
    resp = requests.get(f"{server.endpoint}/{bucket}", headers=headers, timeout=10)
    assert resp.status_code == 403 and xml_code(resp) == "RequestTimeTooSkewed"
    fresh = signed_headers(server, "GET", f"/{bucket}", when=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    assert requests.get(f"{server.endpoint}/{bucket}", headers=fresh, timeout=10).status_code == 200


def test_malformed_authorization_header(server: Server, bucket: str) -> None:
    resp = requests.get(f"{server.endpoint}/{bucket}", timeout=10, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=garbage", "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert resp.status_code == 400 and xml_code(resp) == "AuthorizationHeaderMalformed"


def test_signed_payload_hash_must_match(server: Server, bucket: str) -> None:
    body = b"payload"
    headers = signed_headers(server, "PUT", f"/{bucket}/h", body, payload_hash=hashlib.sha256(body).hexdigest())
    ok = requests.put(f"{server.endpoint}/{bucket}/h", data=body, headers=headers, timeout=10)
    assert ok.status_code == 200
    lie = requests.put(f"{server.endpoint}/{bucket}/h", data=b"paylox", headers=headers, timeout=10)
    assert lie.status_code == 400 and xml_code(lie) == "XAmzContentSHA256Mismatch"
    assert signed_request(server, "GET", f"/{bucket}/h").content == body


def test_presigned_get_and_put(server: Server, bucket: str) -> None:
    s3 = server.client(signature_version="s3v4")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    assert requests.put(put_url, data=b"presigned", timeout=10).status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    resp = requests.get(get_url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"presigned"
    tampered = get_url.replace("/p?", "/q?")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_presigned_expiry_enforced(server: Server, bucket: str) -> None:
    s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=server.access_key,
                      aws_secret_access_key=server.secret_key, config=Config(signature_version="s3v4"))
    s3.put_object(Bucket=bucket, Key="e", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "e"}, ExpiresIn=1)
    time.sleep(2.1)
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 403 and xml_code(resp) == "AccessDenied"
    assert "expired" in resp.text
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "e"}, ExpiresIn=604801)
    resp = requests.get(too_long, timeout=10)
    assert resp.status_code == 400 and xml_code(resp) == "AuthorizationQueryParametersError"


def test_boto3_error_codes_surface(s3, bucket: str, server: Server) -> None:
    bad = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=server.access_key,
                       aws_secret_access_key="nope", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as exc:
        bad.list_objects_v2(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
