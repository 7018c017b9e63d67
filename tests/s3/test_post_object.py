"""POST Object (browser form uploads): boto3's presigned POST sent with `requests`, raw forms for the edges.

Policies and signatures come from botocore's ``generate_presigned_post`` (SigV4, and SigV2 with
``signature_version="s3"``); the stored bytes and headers are read back through boto3.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support import REGION, Server, running_server, signed_request, unique_bucket, xml_code

BOUNDARY = "sealbox-test-boundary-3f1c"


def multipart(parts: list[tuple[str, bytes | str]], file_name: str = "file.bin") -> bytes:
    """A form body with the parts in the order given; the part named 'file' gets a file name."""
    out = []
    for name, value in parts:
        data = value.encode() if isinstance(value, str) else value
        filename = f'; filename="{file_name}"' if name == "file" else ""
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n\r\n'.encode()
                   + data + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def post_raw(url: str, body: bytes | Iterator[bytes], content_type: str | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
    all_headers = {"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}", **(headers or {})}
    return requests.post(url, data=body, headers=all_headers, allow_redirects=False, timeout=60)


def post_form(post: dict[str, Any], content: bytes, *, change: dict[str, str | None] | None = None,
              after: list[tuple[str, str]] | None = None, file_name: str = "file.bin") -> requests.Response:
    """Send a presigned POST: its fields (changed as asked; None removes one), the file, then ``after``."""
    fields = dict(post["fields"])
    for name, value in (change or {}).items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    parts: list[tuple[str, bytes | str]] = [*fields.items(), ("file", content), *(after or [])]
    return post_raw(post["url"], multipart(parts, file_name))


def v4(server: Server) -> Any:
    return server.client(signature_version="s3v4")


def error(response: requests.Response) -> dict[str, str]:
    root = ET.fromstring(response.content)
    return {child.tag: child.text or "" for child in root}


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def stored(server: Server) -> set[str]:
    """Every blob file of the server, committed or still temporary."""
    return {p.name for d in ("blobs", "tmp") for p in (server.data_dir / d).rglob("*") if p.is_file()}


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# -------------------------------------------------------------------------------------- uploads


@pytest.mark.parametrize("version", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
def test_presigned_post_with_sse_stores_encrypted(server: Server, bucket: str, version: str) -> None:
    s3 = server.client(signature_version=version)
    fields = {"x-amz-server-side-encryption": "AES256", "Content-Type": "text/plain", "x-amz-meta-colour": "blue",
              "Cache-Control": "max-age=60", "Content-Disposition": "inline", "x-amz-storage-class": "STANDARD_IA"}
    conditions = [{"x-amz-server-side-encryption": "AES256"}, ["starts-with", "$key", "uploads/"],
                  ["content-length-range", 1, 1024], {"Content-Type": "text/plain"}, {"x-amz-meta-colour": "blue"},
                  {"Cache-Control": "max-age=60"}, ["starts-with", "$Content-Disposition", ""],
                  {"x-amz-storage-class": "STANDARD_IA"}]
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", Fields=fields, Conditions=conditions)
    content = b"browser bytes \x00\xff" * 10
    response = post_form(post, content, file_name="notes.txt")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["etag"] == md5(content)
    assert response.headers["x-amz-server-side-encryption"] == "AES256"
    assert response.headers["location"] == f"{server.endpoint}/{bucket}/uploads%2Fnotes.txt"
    got = s3.get_object(Bucket=bucket, Key="uploads/notes.txt")
    assert got["Body"].read() == content
    assert got["ServerSideEncryption"] == "AES256"
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline"
    assert got["Metadata"] == {"colour": "blue"}
    assert got["StorageClass"] == "STANDARD_IA"
    assert got["ETag"] == md5(content)


def test_without_sse_field_the_object_is_plaintext(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "plain.txt")
    response = post_form(post, b"plain")
    assert response.status_code == 204, response.text
    assert "x-amz-server-side-encryption" not in response.headers
    head = s3.head_object(Bucket=bucket, Key="plain.txt")
    assert "ServerSideEncryption" not in head
    assert head["ContentType"] == "binary/octet-stream"  # the file part's own type is not used, as on S3


def test_bucket_default_encryption_applies_to_post(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    post = v4(server).generate_presigned_post(bucket, "by-default")
    response = post_form(post, b"encrypted by the bucket's rule")
    assert response.status_code == 204, response.text
    assert response.headers["x-amz-server-side-encryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="by-default")["ServerSideEncryption"] == "AES256"


def test_filename_substitution_uses_the_base_name(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "in/${filename}")
    response = post_form(post, b"win", file_name="C:\\Users\\me\\report 1.pdf")
    assert response.status_code == 204, response.text
    assert keys(s3, bucket) == ["in/report 1.pdf"]


def test_success_action_status_201_returns_post_response(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "a/b c.txt", Fields={"success_action_status": "201"},
                                              Conditions=[{"success_action_status": "201"}])
    response = post_form(post, b"created")
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/xml"
    assert b"<ETag>\"" in response.content  # the quotes of the ETag are written as AWS writes them
    doc = {child.tag: child.text for child in ET.fromstring(response.content)}
    location = f"{server.endpoint}/{bucket}/a%2Fb%20c.txt"
    assert doc == {"Location": location, "Bucket": bucket, "Key": "a/b c.txt", "ETag": md5(b"created")}
    assert response.headers["location"] == location
    assert s3.get_object(Bucket=bucket, Key="a/b c.txt")["Body"].read() == b"created"


@pytest.mark.parametrize("status, expected", [("200", 200), ("204", 204), ("404", 204), ("", 204)])
def test_success_action_status(server: Server, bucket: str, status: str, expected: int) -> None:
    post = v4(server).generate_presigned_post(bucket, "k", Fields={"success_action_status": status},
                                              Conditions=[{"success_action_status": status}])
    response = post_form(post, b"x")
    assert (response.status_code, response.content) == (expected, b"")
    assert response.headers["etag"] == md5(b"x")


@pytest.mark.parametrize("field", ["success_action_redirect", "redirect"])
def test_redirect_303_with_bucket_key_and_etag(server: Server, bucket: str, field: str) -> None:
    target = "https://example.com/done?from=form"
    post = v4(server).generate_presigned_post(bucket, "dir/up load", Fields={field: target},
                                              Conditions=[{field: target}])
    response = post_form(post, b"redirected")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(target + "&")
    assert parse_qsl(urlsplit(location).query) == [("from", "form"), ("bucket", bucket), ("key", "dir/up load"),
                                                   ("etag", md5(b"redirected"))]
    assert "%2F" in location and "%22" in location  # the key and the ETag's quotes are percent-encoded


def test_redirect_that_is_not_a_url_is_ignored(server: Server, bucket: str) -> None:
    fields = {"success_action_redirect": "not a url", "success_action_status": "201"}
    post = v4(server).generate_presigned_post(bucket, "k", Fields=fields,
                                              Conditions=[{n: v} for n, v in fields.items()])
    assert post_form(post, b"x").status_code == 201


def test_fields_after_the_file_are_ignored(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "first")
    after = [("key", "second"), ("x-amz-meta-late", "1"), ("submit", "Upload to Amazon S3")]
    assert post_form(post, b"body", after=after).status_code == 204
    assert keys(s3, bucket) == ["first"]
    assert s3.head_object(Bucket=bucket, Key="first")["Metadata"] == {}


def test_large_upload_streams_through(server: Server, s3: Any, bucket: str) -> None:
    """~20 MiB sent with chunked transfer encoding (no Content-Length), encrypted on the way in."""
    size = 20 * 1024 * 1024 + 12345
    post = v4(server).generate_presigned_post(bucket, "big.bin", Fields={"x-amz-server-side-encryption": "AES256"},
                                              Conditions=[{"x-amz-server-side-encryption": "AES256"},
                                                          ["content-length-range", 0, 32 * 1024 * 1024]])
    head = multipart([*post["fields"].items(), ("file", b"")])
    head = head[: head.rindex(b"\r\n--" + BOUNDARY.encode())]  # up to the (empty) file content
    block = os.urandom(1 << 20)
    digest = hashlib.md5()

    def body() -> Iterator[bytes]:
        yield head
        sent = 0
        while sent < size:
            piece = block[: min(len(block), size - sent)]
            digest.update(piece)
            sent += len(piece)
            yield piece
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    response = post_raw(post["url"], body())
    assert response.status_code == 204, response.text
    assert response.headers["etag"] == f'"{digest.hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ContentLength"] == size and got["ServerSideEncryption"] == "AES256"
    check = hashlib.md5()
    for chunk in got["Body"].iter_chunks(1 << 20):
        check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()


def test_content_md5_field_is_verified(server: Server, s3: Any, bucket: str) -> None:
    content = b"check my digest"
    good = base64.b64encode(hashlib.md5(content).digest()).decode()
    post = v4(server).generate_presigned_post(bucket, "md5", Fields={"Content-MD5": good},
                                              Conditions=[["starts-with", "$Content-MD5", ""]])
    assert post_form(post, content).status_code == 204
    before = stored(server)
    response = post_form(post, b"other bytes", change={"Content-MD5": good})
    assert (response.status_code, xml_code(response)) == (400, "BadDigest")
    assert stored(server) == before
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == content  # not overwritten


def test_request_signed_in_its_header_needs_no_form_credentials(server: Server, s3: Any, bucket: str) -> None:
    body = multipart([("key", "header-signed"), ("file", b"signed body")])
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    ok = signed_request(server, "POST", f"/{bucket}", body=body, headers={"content-type": content_type})
    assert ok.status_code == 204, ok.text
    assert s3.get_object(Bucket=bucket, Key="header-signed")["Body"].read() == b"signed body"
    # The signed body hash covers the whole form: a body swapped after signing is refused.
    request = AWSRequest(method="POST", url=f"{server.endpoint}/{bucket}", data=body,
                         headers={"content-type": content_type})
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", REGION).add_auth(request)
    signed = {k: v for k, v in request.prepare().headers.items() if k.lower() != "content-length"}
    assert signed["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    other = multipart([("key", "swapped"), ("file", b"signed body")])
    bad = requests.post(f"{server.endpoint}/{bucket}", data=other, headers=signed, timeout=30)
    assert (bad.status_code, xml_code(bad)) == (400, "XAmzContentSHA256Mismatch")
    assert keys(s3, bucket) == ["header-signed"]


# -------------------------------------------------------------------------------- policy refusals


POLICY_FAILED = "Invalid according to Policy: Policy Condition failed: "


@pytest.mark.parametrize("change, message", [
    ({"key": "elsewhere/x"}, POLICY_FAILED + '["starts-with", "$key", "uploads/"]'),
    ({"Content-Type": "text/html"}, POLICY_FAILED + '["starts-with", "$Content-Type", "image/"]'),
    ({"Content-Type": "image/png,text/html"}, POLICY_FAILED + '["starts-with", "$Content-Type", "image/"]'),
    ({"x-amz-server-side-encryption": None},
     POLICY_FAILED + '["eq", "$x-amz-server-side-encryption", "AES256"]'),
    ({"x-amz-meta-extra": "sneaky"}, "Invalid according to Policy: Extra input fields: x-amz-meta-extra"),
    ({"acl": "public-read"}, "Invalid according to Policy: Extra input fields: acl"),
])
def test_policy_violations_are_refused(server: Server, s3: Any, bucket: str, change: dict[str, str | None],
                                       message: str) -> None:
    post = v4(server).generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "image/png", "x-amz-server-side-encryption": "AES256"},
        Conditions=[["starts-with", "$Content-Type", "image/"], {"x-amz-server-side-encryption": "AES256"}])
    before = stored(server)
    response = post_form(post, b"refused", change=change)
    assert response.status_code == 403, response.text
    assert error(response)["Code"] == "AccessDenied"
    assert error(response)["Message"] == message
    assert keys(s3, bucket) == [] and stored(server) == before


def test_sse_field_must_be_allowed_by_the_policy(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    response = post_form(post, b"x", change={"x-amz-server-side-encryption": "AES256"})
    assert response.status_code == 403
    assert error(response)["Message"] == "Invalid according to Policy: Extra input fields: x-amz-server-side-encryption"
    assert keys(s3, bucket) == []


def test_unsupported_sse_value_allowed_by_policy_is_refused(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k", Fields={"x-amz-server-side-encryption": "aws:kms:x"},
                                              Conditions=[{"x-amz-server-side-encryption": "aws:kms:x"}])
    response = post_form(post, b"x")
    assert (response.status_code, xml_code(response)) == (400, "InvalidArgument")
    assert keys(s3, bucket) == []


def test_expired_policy(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k", ExpiresIn=-60)
    response = post_form(post, b"late")
    assert response.status_code == 403
    assert error(response) | {"RequestId": "", "HostId": ""} == {
        "Code": "AccessDenied", "Message": "Invalid according to Policy: Policy expired.",
        "Resource": f"/{bucket}", "RequestId": "", "HostId": ""}
    assert keys(s3, bucket) == []


@pytest.mark.parametrize("size, limit", [(1025, 1024), (3 * 1024 * 1024 + 17, 1024),
                                         # past the pipeline's 1 MiB buffers: aborted mid-write
                                         (3 * 1024 * 1024 + 17, 2 * 1024 * 1024 + 5)])
def test_oversize_file_is_rejected_and_nothing_stored(server: Server, s3: Any, bucket: str, size: int,
                                                       limit: int) -> None:
    post = v4(server).generate_presigned_post(bucket, "too-big", Conditions=[["content-length-range", 10, limit]])
    before = stored(server)
    response = post_form(post, os.urandom(size))
    assert response.status_code == 400, response.text
    assert error(response)["Code"] == "EntityTooLarge"
    assert error(response)["Message"] == "Your proposed upload exceeds the maximum allowed size"
    assert (error(response)["ProposedSize"], error(response)["MaxSizeAllowed"]) == (str(size), str(limit))
    assert keys(s3, bucket) == [] and stored(server) == before


def test_undersize_file_is_rejected(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "too-small", Conditions=[["content-length-range", 10, 1024]])
    before = stored(server)
    response = post_form(post, b"123456789")
    assert response.status_code == 400
    assert error(response)["Code"] == "EntityTooSmall"
    assert (error(response)["ProposedSize"], error(response)["MinSizeAllowed"]) == ("9", "10")
    assert keys(s3, bucket) == [] and stored(server) == before
    assert post_form(post, b"1234567890").status_code == 204  # the bounds are inclusive


# -------------------------------------------------------------------------------- authentication


def test_tampered_signature(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    signature = post["fields"]["x-amz-signature"]
    tampered = ("0" if signature[0] != "0" else "1") + signature[1:]
    response = post_form(post, b"x", change={"x-amz-signature": tampered})
    assert response.status_code == 403
    body = error(response)
    assert body["Code"] == "SignatureDoesNotMatch"
    assert (body["StringToSign"], body["SignatureProvided"]) == (post["fields"]["policy"], tampered)
    assert keys(s3, bucket) == []


def test_policy_changed_after_signing(server: Server, s3: Any, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    other = v4(server).generate_presigned_post(bucket, "k", Conditions=[["starts-with", "$x-amz-meta-a", ""]])
    response = post_form(post, b"x", change={"policy": other["fields"]["policy"]})
    assert (response.status_code, xml_code(response)) == (403, "SignatureDoesNotMatch")


def test_unknown_access_key(server: Server, bucket: str) -> None:
    stranger = Server(server.proc, server.port, server.data_dir, server.log_path,
                      access_key="SBNOSUCHKEY000000000", secret_key="whatever")
    post = v4(stranger).generate_presigned_post(bucket, "k")
    response = post_form(post, b"x")
    assert (response.status_code, xml_code(response)) == (403, "InvalidAccessKeyId")
    assert error(response)["AWSAccessKeyId"] == "SBNOSUCHKEY000000000"


def test_anonymous_post_without_policy_is_denied(server: Server, s3: Any, bucket: str) -> None:
    response = post_raw(f"{server.endpoint}/{bucket}", multipart([("key", "anon"), ("file", b"x")]))
    assert (response.status_code, xml_code(response)) == (403, "AccessDenied")
    assert keys(s3, bucket) == []


def test_policy_without_signature_is_denied(server: Server, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    response = post_form(post, b"x", change={n: None for n in ("x-amz-signature", "x-amz-algorithm",
                                                                "x-amz-credential", "x-amz-date")})
    assert error(response)["Code"] == "AccessDenied" and error(response)["Message"] == "Access Denied"


# ------------------------------------------------------------------------------------ form shape


ORDER = "If it is specified, please check the order of the fields."


def test_form_without_key(server: Server, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    for response in (post_form(post, b"x", change={"key": None}),
                     post_form(post, b"x", change={"key": None}, after=[("key", "k")])):
        assert response.status_code == 400
        assert error(response)["Code"] == "InvalidArgument"
        assert error(response)["Message"] == f"Bucket POST must contain a field named 'key'.  {ORDER}"
        assert (error(response)["ArgumentName"], error(response)["ArgumentValue"]) == ("key", "")


def test_form_without_file(server: Server, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    response = post_raw(post["url"], multipart(list(post["fields"].items())))
    assert response.status_code == 400
    assert error(response)["Message"] == "POST requires exactly one file upload per request."
    assert (error(response)["ArgumentName"], error(response)["ArgumentValue"]) == ("file", "0")


def test_form_without_v4_signature_field(server: Server, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    response = post_form(post, b"x", change={"x-amz-date": None})
    assert error(response)["Message"] == f"Bucket POST must contain a field named 'X-Amz-Date'.  {ORDER}"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/mixed; boundary=x",
                                          "text/plain"])
def test_not_form_data_is_precondition_failed(server: Server, bucket: str, content_type: str) -> None:
    response = post_raw(f"{server.endpoint}/{bucket}", b"key=k&file=x", content_type=content_type)
    assert response.status_code == 412
    body = error(response)
    assert body["Code"] == "PreconditionFailed"
    assert body["Condition"] == "Bucket POST must be of the enclosure-type multipart/form-data"


@pytest.mark.parametrize("shape", ["empty", "not-multipart", "unterminated-file"])
def test_malformed_form(server: Server, s3: Any, bucket: str, shape: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    signed_form = multipart([*post["fields"].items(), ("file", b"x" * 100_000)])
    body = {"empty": b"", "not-multipart": b"key=k&file=x", "unterminated-file": signed_form[:-12]}[shape]
    before = stored(server)
    response = post_raw(f"{server.endpoint}/{bucket}", body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedPOSTRequest")
    assert keys(s3, bucket) == [] and stored(server) == before


def test_fields_before_the_file_are_capped(server: Server, bucket: str) -> None:
    post = v4(server).generate_presigned_post(bucket, "k")
    response = post_form(post, b"x", change={"x-ignore-padding": "p" * 20 * 1024})
    assert (response.status_code, xml_code(response)) == (400, "MaxPostPreDataLengthExceededError")
    assert post_form(post, b"x", change={"x-ignore-padding": "p" * 10 * 1024}).status_code == 204


def test_object_url_is_not_a_post_target(server: Server, bucket: str) -> None:
    response = post_raw(f"{server.endpoint}/{bucket}/some-key", multipart([("key", "k"), ("file", b"x")]))
    assert (response.status_code, xml_code(response)) == (405, "MethodNotAllowed")


# ------------------------------------------------------------- bucket policies see the form, not the headers


def deny_unencrypted(bucket: str) -> str:
    """AWS's classic pair: deny PutObject with a wrong or without an x-amz-server-side-encryption."""
    resource = f"arn:aws:s3:::{bucket}/*"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": resource, "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}},
        {"Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": resource, "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]})


@pytest.mark.parametrize("version", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
def test_unsigned_sse_header_does_not_pass_a_deny_unencrypted_policy(server: Server, s3: Any, bucket: str,
                                                                     version: str) -> None:
    """Issue 13.2: the header, which the form's signature does not cover, used to satisfy the policy while
    the form (which decides what is stored) asked for no encryption: the object was stored in plaintext."""
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    signer: Any = server.client(signature_version=version)
    post = signer.generate_presigned_post(bucket, "sneaky")
    before = stored(server)
    response = post_raw(post["url"], multipart([*post["fields"].items(), ("file", b"plaintext?")]),
                        headers={"x-amz-server-side-encryption": "AES256"})
    assert (response.status_code, xml_code(response)) == (403, "AccessDenied"), response.text
    assert keys(s3, bucket) == [] and stored(server) == before
    # The form's own field is what counts: with it, the same upload is accepted, and stored encrypted.
    sealed = signer.generate_presigned_post(
        bucket, "sealed", Fields={"x-amz-server-side-encryption": "AES256"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}])
    response = post_form(sealed, b"ciphertext at rest")
    assert response.status_code == 204, response.text
    assert s3.head_object(Bucket=bucket, Key="sealed")["ServerSideEncryption"] == "AES256"


def test_form_fields_decide_the_conditions_of_a_header_signed_post(server: Server, s3: Any, bucket: str) -> None:
    """A POST signed in its header: x-amz-* headers are signed, but the stored object is still the form's."""
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    plain = multipart([("key", "plain"), ("file", b"x")])
    refused = signed_request(server, "POST", f"/{bucket}", body=plain, headers={
        "content-type": content_type, "x-amz-server-side-encryption": "AES256"})
    assert (refused.status_code, xml_code(refused)) == (403, "AccessDenied"), refused.text
    sealed = multipart([("key", "sealed"), ("x-amz-server-side-encryption", "AES256"), ("file", b"x")])
    ok = signed_request(server, "POST", f"/{bucket}", body=sealed, headers={"content-type": content_type})
    assert ok.status_code == 204, ok.text
    assert s3.head_object(Bucket=bucket, Key="sealed")["ServerSideEncryption"] == "AES256"


def test_form_acl_field_is_the_x_amz_acl_condition_key(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}}]}))
    post = v4(server).generate_presigned_post(bucket, "k", Fields={"acl": "public-read"},
                                              Conditions=[{"acl": "public-read"}])
    assert xml_code(post_form(post, b"x")) == "AccessDenied"
    post = v4(server).generate_presigned_post(bucket, "k")  # no acl field: a header of it changes nothing
    response = post_raw(post["url"], multipart([*post["fields"].items(), ("file", b"x")]),
                        headers={"x-amz-acl": "private"})
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("version, signature_version", [("s3v4", "AWS4-HMAC-SHA256"), ("s3", "AWS")])
def test_post_auth_type_and_signature_version(server: Server, s3: Any, bucket: str, version: str,
                                              signature_version: str) -> None:
    """s3:authType is POST for a signed form, s3:signatureversion the form's scheme (they were absent)."""
    for key, value in (("s3:authType", "POST"), ("s3:signatureversion", signature_version)):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"StringEquals": {key: value}}}]}))
        signer: Any = server.client(signature_version=version)
        response = post_form(signer.generate_presigned_post(bucket, "k"), b"x")
        assert (response.status_code, xml_code(response)) == (403, "AccessDenied"), (key, response.text)
    assert keys(s3, bucket) == []


# ----------------------------------------------------------------------------- virtual-hosted style


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("hosted") / "data", "--domain", "localhost") as srv:
        yield srv


def test_virtual_hosted_post(hosted: Server) -> None:
    s3 = hosted.client(signature_version="s3v4")
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(bucket, "v/${filename}", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    host = f"{bucket}.localhost:{hosted.port}"
    body = multipart([*post["fields"].items(), ("file", b"hosted")], file_name="h.txt")
    response = post_raw(f"{hosted.endpoint}/", body, headers={"host": host})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"http://{host}/v%2Fh.txt"
    assert s3.get_object(Bucket=bucket, Key="v/h.txt")["Body"].read() == b"hosted"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key=str(uuid.uuid4()))


def test_no_traceback_in_server_log(server: Server) -> None:
    assert "Traceback" not in Path(server.log_path).read_text(errors="replace")
