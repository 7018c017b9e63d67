"""Signature Version 2: the ``AWS key:sig`` header, ``?AWSAccessKeyId=&Expires=&Signature=`` URLs, v2 POST forms.

Requests are signed by botocore's own V2 signers (HmacV1Auth, HmacV1QueryAuth; boto3 with
``signature_version="s3"``); the few forms botocore cannot produce are built by hand from the
documented string to sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support import REGION, Server, running_server, unique_bucket, xml_code


def v2_client(server: Server, **config: Any) -> Any:
    return server.client(signature_version="s3", **config)


def v2_request(server: Server, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
               signer: HmacV1Auth | None = None, host: str | None = None, auth_path: str | None = None,
               after: dict[str, str] | None = None) -> requests.Response:
    """Sign with botocore's HmacV1Auth and send with requests; ``after`` adds headers once signed."""
    url_host = host or f"127.0.0.1:{server.port}"
    request = AWSRequest(method=method, url=f"http://{url_host}{path}", data=body, headers=dict(headers or {}))
    if auth_path is not None:
        request.auth_path = auth_path  # botocore's resource for virtual-hosted requests: /bucket/key
    (signer or HmacV1Auth(Credentials(server.access_key, server.secret_key))).add_auth(request)
    sent = {**dict(request.headers.items()), **(after or {}), "host": url_host}
    return requests.request(method, f"{server.endpoint}{path}", data=body, headers=sent, timeout=30)


def sign(secret: str, text: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), text.encode(), "sha1")).decode()


def error(response: requests.Response) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    return {child.tag: child.text or "" for child in ET.fromstring(response.content)}


class _DatedSigner(HmacV1Auth):
    """HmacV1Auth with a chosen Date header (botocore always uses the current time)."""

    def __init__(self, credentials: Credentials, date: str) -> None:
        super().__init__(credentials)
        self._date = date

    def _get_date(self) -> str:
        return self._date


# ------------------------------------------------------------------------------------ SDK round trip


@pytest.mark.parametrize("key", ["plain.txt", "with space/and+plus=eq", "ünï/日本.txt", "tilde~(paren)'*!"])
def test_boto3_v2_put_get_head_list_delete(server: Server, key: str) -> None:
    s3 = v2_client(server)
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    body = b"signed with v2 " * 100
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain",
                        Metadata={"colour": "green"}, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key=key, ResponseContentType="application/x-test",
                        ResponseContentDisposition="attachment; filename=\"a b.txt\"")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"  # response-* overrides are part of the resource
    assert got["ContentDisposition"] == "attachment; filename=\"a b.txt\""
    assert got["Metadata"] == {"colour": "green"}
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key[:3])["Contents"]] == [key]
    assert s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]  # ?acl is a sub-resource
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_boto3_v2_bucket_subresources(server: Server) -> None:
    """?encryption and ?versioning: the first is outside botocore's V2 sub-resource list, the second in it."""
    s3 = v2_client(server)
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_location(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_content_md5_is_signed_and_verified(server: Server, bucket: str, s3: Any) -> None:
    body = b"digest me"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    ok = v2_request(server, "PUT", f"/{bucket}/md5", body=body, headers={"Content-MD5": good})
    assert ok.status_code == 200, ok.text
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    bad = v2_request(server, "PUT", f"/{bucket}/md5-bad", body=body, headers={"Content-MD5": wrong})
    assert (bad.status_code, xml_code(bad)) == (400, "BadDigest")  # V2 signs the claim, the pipeline checks it
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["md5"]


# -------------------------------------------------------------------------------- header refusals


def test_tampered_header_signature(server: Server, bucket: str) -> None:
    response = v2_request(server, "GET", f"/{bucket}")
    assert response.status_code == 200
    signed = v2_request(server, "PUT", f"/{bucket}/k", body=b"x")
    assert signed.status_code == 200
    # An x-amz-* header added after signing is part of the string to sign: refused.
    added = v2_request(server, "PUT", f"/{bucket}/k", body=b"x", after={"x-amz-meta-added": "1"})
    assert (added.status_code, xml_code(added)) == (403, "SignatureDoesNotMatch")
    assert "x-amz-meta-added:1\n" in error(added)["StringToSign"]
    # So is a different resource, and a different method.
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/k")
    HmacV1Auth(Credentials(server.access_key, server.secret_key)).add_auth(request)
    moved = requests.get(f"{server.endpoint}/{bucket}/other", headers=dict(request.headers.items()), timeout=30)
    assert (moved.status_code, xml_code(moved)) == (403, "SignatureDoesNotMatch")
    deleting = requests.delete(f"{server.endpoint}/{bucket}/k", headers=dict(request.headers.items()), timeout=30)
    assert (deleting.status_code, xml_code(deleting)) == (403, "SignatureDoesNotMatch")


def test_wrong_secret_and_unknown_key(server: Server, bucket: str) -> None:
    wrong = HmacV1Auth(Credentials(server.access_key, "not-the-secret"))
    response = v2_request(server, "GET", f"/{bucket}", signer=wrong)
    assert (response.status_code, xml_code(response)) == (403, "SignatureDoesNotMatch")
    body = error(response)
    assert body["AWSAccessKeyId"] == server.access_key
    assert body["StringToSign"].startswith("GET\n\n\n") and body["StringToSign"].endswith(f"\n/{bucket}")
    unknown = HmacV1Auth(Credentials("SBUNKNOWNKEY00000000", "x"))
    response = v2_request(server, "GET", f"/{bucket}", signer=unknown)
    assert (response.status_code, xml_code(response)) == (403, "InvalidAccessKeyId")
    assert error(response)["AWSAccessKeyId"] == "SBUNKNOWNKEY00000000"


@pytest.mark.parametrize("authorization", ["AWS keyonly", "AWS :sig", "AWS key:", "AWS a:b:c"])
def test_malformed_v2_header(server: Server, bucket: str, authorization: str) -> None:
    response = requests.get(f"{server.endpoint}/{bucket}", headers={"authorization": authorization,
                                                                    "date": formatdate(usegmt=True)}, timeout=30)
    assert response.status_code == 400
    body = error(response)
    assert (body["Code"], body["ArgumentName"], body["ArgumentValue"]) == ("InvalidArgument", "Authorization",
                                                                           authorization)
    assert body["Message"] == "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"


@pytest.mark.parametrize("offset", [timedelta(minutes=-20), timedelta(minutes=16)])
def test_skewed_date_is_refused(server: Server, bucket: str, offset: timedelta) -> None:
    date = formatdate((datetime.now(UTC) + offset).timestamp(), usegmt=True)
    signer = _DatedSigner(Credentials(server.access_key, server.secret_key), date)
    response = v2_request(server, "GET", f"/{bucket}", signer=signer)
    assert (response.status_code, xml_code(response)) == (403, "RequestTimeTooSkewed")
    assert error(response)["RequestTime"] == date
    fine = _DatedSigner(Credentials(server.access_key, server.secret_key),
                        formatdate((datetime.now(UTC) + offset / 4).timestamp(), usegmt=True))
    assert v2_request(server, "GET", f"/{bucket}", signer=fine).status_code == 200


def test_x_amz_date_replaces_date(server: Server, bucket: str) -> None:
    """With x-amz-date, the documented string to sign has an empty Date line."""
    secret, path = server.secret_key, f"/{bucket}/dated"
    amz_date = formatdate(usegmt=True)
    signature = sign(secret, f"PUT\n\n\n\nx-amz-date:{amz_date}\n{path}")
    headers = {"x-amz-date": amz_date, "authorization": f"AWS {server.access_key}:{signature}"}
    assert requests.put(server.endpoint + path, data=b"d", headers=headers, timeout=30).status_code == 200
    # x-amz-date dates the request: a stale one is refused even with a fresh Date header.
    stale = formatdate(time.time() - 3600, usegmt=True)
    signature = sign(secret, f"PUT\n\n\n\nx-amz-date:{stale}\n{path}")
    headers = {"x-amz-date": stale, "date": formatdate(usegmt=True),
               "authorization": f"AWS {server.access_key}:{signature}"}
    response = requests.put(server.endpoint + path, data=b"d", headers=headers, timeout=30)
    assert (response.status_code, xml_code(response)) == (403, "RequestTimeTooSkewed")


def test_request_without_any_date(server: Server, bucket: str) -> None:
    signature = sign(server.secret_key, f"GET\n\n\n\n/{bucket}")
    response = requests.get(f"{server.endpoint}/{bucket}",
                            headers={"authorization": f"AWS {server.access_key}:{signature}"}, timeout=30)
    assert response.status_code == 403
    assert error(response)["Message"] == "AWS authentication requires a valid Date or x-amz-date header"


# -------------------------------------------------------------------------------------- presigned


def presigned(server: Server, method: str, params: dict[str, Any], expires: int = 300) -> str:
    url: str = v2_client(server).generate_presigned_url(method, Params=params, ExpiresIn=expires)
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "X-Amz-" not in url
    return url


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_presigned_get_and_put(server: Server, s3: Any, bucket: str) -> None:
    put_url = presigned(server, "put_object", {"Bucket": bucket, "Key": "pre signed/ü.txt"})
    assert requests.put(put_url, data=b"via a v2 URL", timeout=30).status_code == 200
    get_url = presigned(server, "get_object", {"Bucket": bucket, "Key": "pre signed/ü.txt",
                                               "ResponseContentType": "text/x-v2"})
    response = requests.get(get_url, timeout=30)
    assert (response.status_code, response.content) == (200, b"via a v2 URL")
    assert response.headers["content-type"] == "text/x-v2"
    # boto3's default presigner (no signature version configured) is V2 as well.
    default_url = server.client().generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                                               "Key": "pre signed/ü.txt"})
    assert "AWSAccessKeyId=" in default_url
    assert requests.get(default_url, timeout=30).content == b"via a v2 URL"


def test_presigned_url_with_signed_amz_headers_in_its_query(server: Server, s3: Any, bucket: str) -> None:
    """HmacV1QueryAuth signs x-amz-* headers and moves them into the query: they still verify."""
    url = presigned(server, "put_object", {"Bucket": bucket, "Key": "meta", "Metadata": {"tag": "v2"}})
    assert "x-amz-meta-tag=v2" in url
    assert requests.put(url, data=b"m", timeout=30).status_code == 200
    changed = with_query(url, **{"x-amz-meta-tag": "other"})
    assert xml_code(requests.put(changed, data=b"m", timeout=30)) == "SignatureDoesNotMatch"


def test_presigned_url_is_bound_to_its_resource(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = presigned(server, "get_object", {"Bucket": bucket, "Key": "a"})
    other = url.replace(f"/{bucket}/a?", f"/{bucket}/b?")
    assert (requests.get(other, timeout=30).status_code, xml_code(requests.get(other, timeout=30))) == \
        (403, "SignatureDoesNotMatch")
    override = with_query(url, **{"response-content-type": "text/html"})  # a sub-resource: signed
    assert xml_code(requests.get(override, timeout=30)) == "SignatureDoesNotMatch"
    assert requests.delete(url, timeout=30).status_code == 403


def test_expired_presigned_url(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    url = presigned(server, "get_object", {"Bucket": bucket, "Key": "k"}, expires=-5)
    response = requests.get(url, timeout=30)
    assert response.status_code == 403
    body = error(response)
    assert (body["Code"], body["Message"]) == ("AccessDenied", "Request has expired")
    expires = int(dict(parse_qsl(urlsplit(url).query))["Expires"])
    assert body["Expires"] == datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "ServerTime" in body


@pytest.mark.parametrize("change, code, message", [
    ({"Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "SignatureDoesNotMatch", None),
    ({"AWSAccessKeyId": "SBUNKNOWNKEY00000000"}, "InvalidAccessKeyId", None),
    ({"Expires": None}, "AccessDenied",
     "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"),
    ({"Expires": "tomorrow"}, "AccessDenied", "Invalid date (should be seconds since epoch): tomorrow"),
    ({"Expires": str(int(time.time()) + 7200)}, "SignatureDoesNotMatch", None),  # Expires is signed
])
def test_presigned_refusals(server: Server, s3: Any, bucket: str, change: dict[str, str | None], code: str,
                            message: str | None) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    response = requests.get(with_query(presigned(server, "get_object", {"Bucket": bucket, "Key": "k"}), **change),
                            timeout=30)
    assert response.status_code == 403
    assert error(response)["Code"] == code
    if message is not None:
        assert error(response)["Message"] == message


@pytest.mark.parametrize("days, ok", [(6, True), (8, False), (3650, False)])
def test_presigned_url_lives_at_most_seven_days(server: Server, s3: Any, bucket: str, days: int, ok: bool) -> None:
    """Issue 13.7: a V2 URL with Expires years ahead used to open the object for years; SigV4's cap applies."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    response = requests.get(presigned(server, "get_object", {"Bucket": bucket, "Key": "k"},
                                      expires=days * 86400), timeout=30)
    if ok:
        assert (response.status_code, response.content) == (200, b"k")
    else:
        assert (response.status_code, error(response)["Code"]) == (400, "AuthorizationQueryParametersError")
        assert error(response)["Message"] == "Expires must be less than a week (in seconds) from now; 604800"


def test_header_and_query_signature_together(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    url = presigned(server, "get_object", {"Bucket": bucket, "Key": "k"})
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/k")
    HmacV1Auth(Credentials(server.access_key, server.secret_key)).add_auth(request)
    response = requests.get(url, headers=dict(request.headers.items()), timeout=30)
    assert (response.status_code, xml_code(response)) == (400, "InvalidArgument")


# --------------------------------------------------------------------------------------- POST form


def v2_form(server: Server, bucket: str, key: str, conditions: list[Any], secret: str | None = None,
            access_key: str | None = None, expiration: datetime | None = None) -> dict[str, str]:
    document = {"expiration": (expiration or datetime.now(UTC) + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"), "conditions": [{"bucket": bucket}, *conditions]}
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    return {"key": key, "AWSAccessKeyId": access_key or server.access_key, "policy": policy,
            "signature": sign(secret or server.secret_key, policy)}


def send_form(server: Server, bucket: str, fields: dict[str, str], content: bytes) -> requests.Response:
    return requests.post(f"{server.endpoint}/{bucket}", data=fields, files={"file": ("f.bin", content)},
                         allow_redirects=False, timeout=30)


def test_hand_built_v2_post_form(server: Server, s3: Any, bucket: str) -> None:
    fields = v2_form(server, bucket, "forms/v2.txt", [["starts-with", "$key", "forms/"],
                                                      {"x-amz-server-side-encryption": "AES256"},
                                                      ["content-length-range", 1, 100]])
    fields["x-amz-server-side-encryption"] = "AES256"
    response = send_form(server, bucket, fields, b"v2 form")
    assert response.status_code == 204, response.text
    assert response.headers["x-amz-server-side-encryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="forms/v2.txt")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (b"v2 form", "AES256")


@pytest.mark.parametrize("change, code", [
    ({"signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "SignatureDoesNotMatch"),
    ({"AWSAccessKeyId": "SBUNKNOWNKEY00000000"}, "InvalidAccessKeyId"),
    ({"signature": None}, "InvalidArgument"),
    ({"AWSAccessKeyId": None}, "InvalidArgument"),
    ({"key": "elsewhere/x"}, "AccessDenied"),
])
def test_v2_post_form_refusals(server: Server, s3: Any, bucket: str, change: dict[str, str | None],
                               code: str) -> None:
    fields = v2_form(server, bucket, "forms/x", [["starts-with", "$key", "forms/"]])
    for name, value in change.items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value
    response = send_form(server, bucket, fields, b"x")
    assert xml_code(response) == code, response.text
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_v2_post_form_expired(server: Server, bucket: str) -> None:
    fields = v2_form(server, bucket, "k", [["starts-with", "$key", ""]],
                     expiration=datetime.now(UTC) - timedelta(seconds=30))
    response = send_form(server, bucket, fields, b"x")
    assert error(response)["Message"] == "Invalid according to Policy: Policy expired."


# ----------------------------------------------------------------------------- virtual-hosted style


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("v2hosted") / "data", "--domain", "localhost") as srv:
        yield srv


def test_virtual_hosted_resource_includes_the_bucket(hosted: Server) -> None:
    bucket = unique_bucket()
    hosted.client().create_bucket(Bucket=bucket)
    host = f"{bucket}.localhost:{hosted.port}"
    put = v2_request(hosted, "PUT", "/dir/obj%20one", body=b"hosted", host=host,
                     auth_path=f"/{bucket}/dir/obj%20one")
    assert put.status_code == 200, put.text
    got = v2_request(hosted, "GET", "/dir/obj%20one", host=host, auth_path=f"/{bucket}/dir/obj%20one")
    assert (got.status_code, got.content) == (200, b"hosted")
    listing = v2_request(hosted, "GET", "/?prefix=dir", host=host, auth_path=f"/{bucket}/")
    assert listing.status_code == 200 and b"<Key>dir/obj one</Key>" in listing.content
    # Signed without the bucket (the path alone): another resource, refused.
    bare = v2_request(hosted, "GET", "/dir/obj%20one", host=host, auth_path="/dir/obj%20one")
    assert (bare.status_code, xml_code(bare)) == (403, "SignatureDoesNotMatch")
    assert error(bare)["StringToSign"].endswith(f"\n/{bucket}/dir/obj%20one")


def test_boto3_v2_virtual_hosted_client(hosted: Server) -> None:
    """boto3 itself in virtual-hosted mode; <bucket>.localhost is sent to loopback with its Host header kept."""
    bucket = unique_bucket()
    hosted.client().create_bucket(Bucket=bucket)
    s3 = boto3.client("s3", endpoint_url=f"http://localhost:{hosted.port}", region_name=REGION,
                      aws_access_key_id=hosted.access_key, aws_secret_access_key=hosted.secret_key,
                      config=Config(signature_version="s3", s3={"addressing_style": "virtual"},
                                    retries={"max_attempts": 1}))
    hosts: list[str] = []

    def to_loopback(request: Any, **_: Any) -> None:  # after signing: the resolver has no *.localhost
        parts = urlsplit(request.url)
        hosts.append(parts.netloc)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{hosted.port}"))

    s3.meta.events.register("before-send.s3", to_loopback)
    s3.put_object(Bucket=bucket, Key="boto/v2 key", Body=b"virtual v2")
    assert s3.get_object(Bucket=bucket, Key="boto/v2 key")["Body"].read() == b"virtual v2"
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ["boto/v2 key"]
    assert set(hosts) == {f"{bucket}.localhost:{hosted.port}"}


def test_v2_presigned_put_applies_sse_from_query(server) -> None:  # type: ignore[no-untyped-def]
    """x-amz-* parameters signed into a presigned URL act as headers: the object must be encrypted."""
    import requests

    from tests.support import unique_bucket

    s3 = server.client(signature_version="s3")
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "k", "ServerSideEncryption": "AES256"})
    assert "x-amz-server-side-encryption=AES256" in url
    resp = requests.put(url, data=b"sealed via query", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("x-amz-server-side-encryption") == "AES256"
    assert s3.head_object(Bucket=name, Key="k")["ServerSideEncryption"] == "AES256"


# ------------------------------------------------------------------------------ SigV2 turned off


NOT_SUPPORTED = ("InvalidRequest", "The authorization mechanism you have provided is not supported. "
                 "Please use AWS4-HMAC-SHA256.")


@pytest.fixture(scope="module", params=["flag", "env"])
def no_sigv2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """sealbox serve --no-sigv2, or SEALBOX_NO_SIGV2=1 in its environment."""
    data = tmp_path_factory.mktemp("nosigv2") / "data"
    if request.param == "flag":
        with running_server(data, "--no-sigv2") as srv:
            yield srv
    else:
        with running_server(data, env={"SEALBOX_NO_SIGV2": "1"}) as srv:
            yield srv


def test_sigv2_off_refuses_every_v2_form(no_sigv2: Server) -> None:
    """As AWS answers in regions without Signature Version 2: 400 InvalidRequest, for headers, URLs and forms."""
    bucket = unique_bucket()
    v4: Any = no_sigv2.client(signature_version="s3v4")
    v4.create_bucket(Bucket=bucket)
    v4.put_object(Bucket=bucket, Key="k", Body=b"v4 still works")
    header = v2_request(no_sigv2, "GET", f"/{bucket}/k")
    url = requests.get(presigned(no_sigv2, "get_object", {"Bucket": bucket, "Key": "k"}), timeout=30)
    form = send_form(no_sigv2, bucket, v2_form(no_sigv2, bucket, "f", [["starts-with", "$key", ""]]), b"x")
    for response in (header, url, form):
        assert (response.status_code, error(response)["Code"], error(response)["Message"]) == \
            (400, *NOT_SUPPORTED), response.text
    assert "Contents" not in v4.list_objects_v2(Bucket=bucket, Prefix="f")
    # Signature Version 4 in all its forms, and anonymous requests, are untouched.
    assert v4.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v4 still works"
    signed_url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert requests.get(signed_url, timeout=30).content == b"v4 still works"
    post = v4.generate_presigned_post(bucket, "f4")
    assert requests.post(post["url"], data=post["fields"], files={"file": ("f", b"v4 form")},
                         timeout=30).status_code == 204
    assert xml_code(requests.get(f"{no_sigv2.endpoint}/{bucket}/k", timeout=30)) == "AccessDenied"
