"""PutBucketCors / GetBucketCors / DeleteBucketCors, preflight OPTIONS, and CORS headers on actual responses.

Black-box against the real server with boto3, the AWS CLI and raw HTTP (``requests``: a browser's
preflight is unsigned). The expected answers are AWS's as recorded against S3 (LocalStack's
snapshot tests of S3 CORS, validated on AWS) and ceph/s3-tests' CORS cases; see sealbox.http.cors.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.s3.test_aws_cli import aws
from tests.s3.test_bucket_policy import add_user, client_of
from tests.support import Server, signed_request, unique_bucket, xml_code

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin,"
               " request method / Access-Control-Request-Method or Access-Control-Request-Headers are not"
               " whitelisted by the resource's CORS spec.")


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


def _cors(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def _options(server: Server, path: str, **headers: str) -> requests.Response:
    return requests.options(server.endpoint + path, headers=headers, timeout=30)


def _xml(response: requests.Response, name: str) -> str | None:
    m = re.search(rf"<{name}>([^<]*)</{name}>", response.text)
    return html.unescape(m.group(1)) if m else None


@pytest.fixture
def cors_bucket(s3: Any, bucket: str) -> Iterator[str]:
    """A bucket with an object ``obj`` and the rules of ceph/s3-tests' test_cors_origin_response, plus
    rules for headers."""
    s3.put_object(Bucket=bucket, Key="obj", Body=b"hello cors")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*suffix"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["start*end"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["prefix*"]},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*.put"]},
        {"ID": "headers", "AllowedMethods": ["PUT", "POST"], "AllowedOrigins": ["https://app.example"],
         "AllowedHeaders": ["x-amz-server-side-encryption", "Content-*", "X-AMZ-META-*"],
         "ExposeHeaders": ["ETag", "x-amz-server-side-encryption"], "MaxAgeSeconds": 3000},
    ]})
    yield bucket


# -- Put / Get / Delete ------------------------------------------------------------------------------------


def test_put_get_delete_bucket_cors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert _error(exc) == (404, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
    assert exc.value.response["Error"]["BucketName"] == bucket
    rules = [
        {"ID": "uploads", "AllowedHeaders": ["x-amz-expected-bucket-owner", "x-AMZ-server-SIDE-encryption"],
         "AllowedMethods": ["GET", "PUT", "HEAD"], "AllowedOrigins": ["https://test.com", "http://*.test.com"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]},
    ]
    put = s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules  # as put: order, casing, optional parts
    replaced = [{"AllowedMethods": ["DELETE"], "AllowedOrigins": [""]}]  # an empty origin is accepted, as on AWS
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": replaced})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == replaced
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert _error(exc)[:2] == (404, "NoSuchCORSConfiguration")
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204  # nothing to delete


def test_put_bucket_cors_refuses_what_aws_refuses(s3: Any, bucket: str) -> None:
    def refused(rules: list[dict[str, Any]]) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        return _error(exc)

    assert refused([{"AllowedOrigins": ["*", "https://test.com"], "AllowedMethods": ["GET", "MYMETHOD"]}]) == (
        400, "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD")
    assert refused([])[:2] == (400, "MalformedXML")
    assert refused([{"AllowedOrigins": ["http://*.*.com"], "AllowedMethods": ["GET"]}]) == (
        400, "InvalidRequest", 'AllowedOrigin "http://*.*.com" can not have more than one wildcard.')
    assert refused([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}]) == (
        400, "InvalidRequest", 'AllowedHeader "x-*-*" can not have more than one wildcard.')
    assert refused([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101)[:2] == (400, "MalformedXML")
    assert refused([{"ID": "x" * 256, "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}])[:2] == (
        400, "InvalidArgument")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert _error(exc)[:2] == (404, "NoSuchCORSConfiguration")  # nothing refused was stored


def test_put_bucket_cors_raw_xml_limits(server: Server, bucket: str) -> None:
    body = (b'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>'
            b"<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>")
    no_md5 = signed_request(server, "PUT", f"/{bucket}?cors", body=body)
    assert (no_md5.status_code, xml_code(no_md5)) == (400, "InvalidRequest")
    assert "Content-Md5" in no_md5.text
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert signed_request(server, "PUT", f"/{bucket}?cors", body=body, headers={"Content-MD5": md5}).status_code == 200
    missing_origin = body.replace(b"<AllowedOrigin>*</AllowedOrigin>", b"")
    md5 = base64.b64encode(hashlib.md5(missing_origin).digest()).decode()
    r = signed_request(server, "PUT", f"/{bucket}?cors", body=missing_origin, headers={"Content-MD5": md5})
    assert (r.status_code, xml_code(r)) == (400, "MalformedXML")
    big = body.replace(b"<CORSRule>", b"<CORSRule><AllowedHeader>" + b"h" * 70000 + b"</AllowedHeader>")
    md5 = base64.b64encode(hashlib.md5(big).digest()).decode()
    r = signed_request(server, "PUT", f"/{bucket}?cors", body=big, headers={"Content-MD5": md5})
    assert (r.status_code, xml_code(r)) == (400, "MalformedXML")


def test_bucket_cors_operations_are_the_owners(server: Server, s3: Any, bucket: str) -> None:
    _, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    rules = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    for call, kwargs in ((other.put_bucket_cors, {"CORSConfiguration": rules}), (other.get_bucket_cors, {}),
                         (other.delete_bucket_cors, {})):
        with pytest.raises(ClientError) as exc:
            call(Bucket=bucket, **kwargs)
        assert _error(exc)[:2] == (403, "AccessDenied")
    anonymous = requests.get(f"{server.endpoint}/{bucket}?cors", timeout=30)
    assert (anonymous.status_code, xml_code(anonymous)) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=unique_bucket())
    assert _error(exc)[:2] == (404, "NoSuchBucket")


def test_bucket_cors_with_the_aws_cli(server: Server, bucket: str, tmp_path: Path) -> None:
    config = {"CORSRules": [{"AllowedOrigins": ["https://www.example.com"], "AllowedMethods": ["PUT", "POST"],
                             "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]}
    path = tmp_path / "cors.json"
    path.write_text(json.dumps(config))
    aws(server, "s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", f"file://{path}")
    got = json.loads(aws(server, "s3api", "get-bucket-cors", "--bucket", bucket).stdout)
    assert got == config
    aws(server, "s3api", "delete-bucket-cors", "--bucket", bucket)
    missing = aws(server, "s3api", "get-bucket-cors", "--bucket", bucket, check=False)
    assert missing.returncode != 0 and "NoSuchCORSConfiguration" in missing.stderr


# -- preflight OPTIONS -------------------------------------------------------------------------------------


def test_preflight_without_origin_is_a_bad_request(server: Server, cors_bucket: str) -> None:
    for path in (f"/{cors_bucket}", f"/{cors_bucket}/obj", f"/{unique_bucket()}/obj"):
        r = _options(server, path, **{"Access-Control-Request-Method": "GET"})
        assert (r.status_code, xml_code(r)) == (400, "BadRequest")
        assert _xml(r, "Message") == "Insufficient information. Origin request header needed."
        assert not _cors(r)


def test_preflight_on_a_missing_bucket_or_one_without_cors(server: Server, bucket: str) -> None:
    r = _options(server, f"/{unique_bucket()}/k", Origin="https://a.example")
    assert (r.status_code, xml_code(r), _xml(r, "Message")) == (403, "AccessForbidden", "CORSResponse: Bucket not found")
    assert (_xml(r, "Method"), _xml(r, "ResourceType")) == ("OPTIONS", "BUCKET")
    r = _options(server, f"/{bucket}/k", Origin="https://a.example", **{"Access-Control-Request-Method": "PUT"})
    assert (r.status_code, xml_code(r)) == (403, "AccessForbidden")
    assert _xml(r, "Message") == "CORSResponse: CORS is not enabled for this bucket."
    assert (_xml(r, "Method"), _xml(r, "ResourceType")) == ("PUT", "BUCKET")
    assert not _cors(r)


def test_preflight_matches_origins_with_one_wildcard(server: Server, cors_bucket: str) -> None:
    """ceph/s3-tests test_cors_origin_response, the OPTIONS half."""
    url = f"/{cors_bucket}"
    expect = {"foo.bar": None, "foo.suffix.get": None, "startend": "startend", "start1end": "start1end",
              "start12end": "start12end", "0start12end": None, "prefix": "prefix", "prefix.suffix": "prefix.suffix",
              "bla.prefix": None, "foo.suffix": "foo.suffix"}
    for origin, allowed in expect.items():
        r = _options(server, url, Origin=origin, **{"Access-Control-Request-Method": "GET"})
        if allowed is None:
            assert (r.status_code, xml_code(r), _xml(r, "Message")) == (403, "AccessForbidden", NOT_ALLOWED), origin
            assert (_xml(r, "Method"), _xml(r, "ResourceType")) == ("GET", "BUCKET")
            assert not _cors(r)
        else:
            assert r.status_code == 200, (origin, r.text)
            assert _cors(r) == {"access-control-allow-origin": allowed, "access-control-allow-methods": "GET",
                                "access-control-allow-credentials": "true"}
            assert r.headers["Vary"] == VARY and r.content == b""
    r = _options(server, url + "/obj", Origin="foo.put", **{"Access-Control-Request-Method": "GET"})
    assert (r.status_code, _xml(r, "ResourceType")) == (403, "OBJECT")
    r = _options(server, url + "/obj", Origin="foo.put", **{"Access-Control-Request-Method": "PUT"})
    assert r.status_code == 200 and _cors(r)["access-control-allow-methods"] == "PUT"
    r = _options(server, url, Origin="foo.suffix")  # no Access-Control-Request-Method
    assert (r.status_code, xml_code(r)) == (400, "BadRequest")


def test_preflight_checks_requested_headers(server: Server, cors_bucket: str) -> None:
    path = f"/{cors_bucket}/new-object"
    r = _options(server, path, Origin="https://app.example", **{
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "X-Amz-Server-Side-Encryption,content-type, x-amz-meta-Colour"})
    assert r.status_code == 200, r.text
    assert _cors(r) == {
        "access-control-allow-origin": "https://app.example", "access-control-allow-credentials": "true",
        "access-control-allow-methods": "PUT, POST",
        "access-control-allow-headers": "x-amz-server-side-encryption, content-type, x-amz-meta-colour",
        "access-control-expose-headers": "ETag, x-amz-server-side-encryption", "access-control-max-age": "3000"}
    assert r.headers["Vary"] == VARY
    r = _options(server, path, Origin="https://app.example", **{
        "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-amz-server-side-encryption, x-amz-acl"})
    assert (r.status_code, xml_code(r), _xml(r, "Method"), _xml(r, "ResourceType")) == (
        403, "AccessForbidden", "PUT", "OBJECT")
    # A rule without AllowedHeader allows no requested header.
    r = _options(server, path, Origin="foo.suffix", **{"Access-Control-Request-Method": "GET",
                                                       "Access-Control-Request-Headers": "x-amz-meta-header2"})
    assert r.status_code == 403


def test_preflight_first_matching_rule_and_any_origin(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 3000,
         "ExposeHeaders": ["x-amz-id-2", "x-amz-request-id"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["http://random:1234"], "MaxAgeSeconds": 10},
    ]})
    r = _options(server, f"/{bucket}/k", Origin="http://random:1234", **{"Access-Control-Request-Method": "PUT"})
    assert r.status_code == 200
    assert _cors(r) == {"access-control-allow-origin": "*", "access-control-allow-methods": "GET, PUT",
                        "access-control-max-age": "3000",
                        "access-control-expose-headers": "x-amz-id-2, x-amz-request-id"}


def test_preflight_needs_no_credentials_not_even_on_a_presigned_url(server: Server, s3: Any, cors_bucket: str) -> None:
    """ceph/s3-tests test_cors_presigned_put_object: the OPTIONS of a presigned URL is a preflight."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket, "Key": "up"}, ExpiresIn=300)
    assert requests.options(url, timeout=30).status_code == 400
    r = requests.options(url, headers={"Origin": "foo.put", "Access-Control-Request-Method": "PUT"}, timeout=30)
    assert r.status_code == 200 and _cors(r)["access-control-allow-origin"] == "foo.put"
    # A preflight with a garbage signature is still a preflight (browsers never sign one).
    r = requests.options(url + "0", headers={"Origin": "foo.put", "Access-Control-Request-Method": "PUT"}, timeout=30)
    assert r.status_code == 200


# -- CORS headers on actual responses ----------------------------------------------------------------------


def test_actual_responses_carry_the_matching_rules_headers(server: Server, s3: Any, cors_bucket: str) -> None:
    """ceph/s3-tests test_cors_origin_response, the GET/PUT half (status codes of errors included)."""
    get = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "obj"}, ExpiresIn=300)
    r = requests.get(get, timeout=30)
    assert r.status_code == 200 and not _cors(r) and "Vary" not in r.headers
    r = requests.get(get, headers={"Origin": "foo.suffix"}, timeout=30)
    assert r.status_code == 200 and r.content == b"hello cors"
    assert _cors(r) == {"access-control-allow-origin": "foo.suffix", "access-control-allow-methods": "GET",
                        "access-control-allow-credentials": "true"}
    assert r.headers["Vary"] == VARY
    for origin in ("foo.bar", "foo.suffix.get", "0start12end", "bla.prefix"):
        r = requests.get(get, headers={"Origin": origin}, timeout=30)
        assert r.status_code == 200 and not _cors(r) and "Vary" not in r.headers, origin
    # Errors too: a missing key (404), an anonymous PUT (403) from an allowed origin.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "bar"}, ExpiresIn=300)
    r = requests.get(missing, headers={"Origin": "foo.suffix"}, timeout=30)
    assert r.status_code == 404 and _cors(r)["access-control-allow-origin"] == "foo.suffix"
    anon = f"{server.endpoint}/{cors_bucket}/bar"
    r = requests.put(anon, headers={"Origin": "foo.put", "content-length": "0"}, timeout=30)
    assert r.status_code == 403 and _cors(r)["access-control-allow-methods"] == "PUT"
    r = requests.put(anon, headers={"Origin": "foo.suffix", "content-length": "0"}, timeout=30)
    assert r.status_code == 403 and not _cors(r)
    # As on AWS, Access-Control-Request-Method on an actual request is matched instead of its method.
    r = requests.put(anon, headers={"Origin": "foo.suffix", "Access-Control-Request-Method": "GET",
                                    "content-length": "0"}, timeout=30)
    assert r.status_code == 403 and _cors(r)["access-control-allow-methods"] == "GET"
    r = requests.get(get, headers={"Origin": "foo.suffix", "Access-Control-Request-Method": "PUT"}, timeout=30)
    assert r.status_code == 200 and not _cors(r)
    # ... and so are Access-Control-Request-Headers (not the headers the request actually has).
    r = requests.get(get, headers={"Origin": "foo.suffix", "Access-Control-Request-Headers": "x-amz-request-payer"},
                     timeout=30)
    assert r.status_code == 200 and not _cors(r)
    r = requests.get(get, headers={"Origin": "foo.suffix", "X-Requested-With": "test"}, timeout=30)
    assert r.status_code == 200 and _cors(r)["access-control-allow-origin"] == "foo.suffix"


def test_signed_requests_and_signature_errors_carry_them_too(server: Server, cors_bucket: str) -> None:
    r = signed_request(server, "PUT", f"/{cors_bucket}/signed", body=b"x",
                       headers={"Origin": "https://app.example", "x-amz-server-side-encryption": "AES256"})
    assert r.status_code == 200
    assert _cors(r)["access-control-expose-headers"] == "ETag, x-amz-server-side-encryption"
    r = signed_request(server, "PUT", f"/{cors_bucket}/signed", body=b"x", secret="wrong",
                       headers={"Origin": "https://app.example"})
    assert (r.status_code, xml_code(r)) == (403, "SignatureDoesNotMatch")
    assert _cors(r)["access-control-allow-origin"] == "https://app.example"
    r = requests.get(f"{server.endpoint}/{cors_bucket}/nope", headers={"Origin": "foo.suffix"}, timeout=30)
    assert r.status_code == 403 and _cors(r)["access-control-allow-origin"] == "foo.suffix"
    # No rule allows HEAD from that origin: no headers, whatever the status.
    r = requests.head(f"{server.endpoint}/{cors_bucket}/nope", headers={"Origin": "foo.suffix"}, timeout=30)
    assert r.status_code == 403 and not _cors(r)


def test_removing_the_configuration_removes_the_headers(server: Server, s3: Any, cors_bucket: str) -> None:
    get = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "obj"}, ExpiresIn=300)
    assert _cors(requests.get(get, headers={"Origin": "prefix.x"}, timeout=30))
    s3.delete_bucket_cors(Bucket=cors_bucket)
    # Every worker sees the change at once (two workers; several connections spread over both).
    for _ in range(4):
        with requests.Session() as session:
            assert not _cors(session.get(get, headers={"Origin": "prefix.x"}, timeout=30))
            r = session.options(f"{server.endpoint}/{cors_bucket}/obj", timeout=30,
                                headers={"Origin": "prefix.x", "Access-Control-Request-Method": "GET"})
            assert (r.status_code, _xml(r, "Message")) == (403, "CORSResponse: CORS is not enabled for this bucket.")
