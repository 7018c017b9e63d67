"""Conditional writes: PutObject, CompleteMultipartUpload and CopyObject with If-None-Match: * and If-Match.

Expectations are Amazon S3's (the AWS-recorded answers of localstack's TestS3ObjectWritePrecondition,
the S3 User Guide's "conditional writes"): 412 PreconditionFailed, 404 NoSuchKey for If-Match on no
object, 409 ConditionalRequestConflict when the key was written or deleted after the write began, 501
for values AWS does not accept. Raw HTTP for what SDKs cannot express: a conflict while a body is
still arriving, and a refusal before the body is sent.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_aws_cli import aws
from tests.support import Server, signed_headers


def error(call: Any, **kwargs: Any) -> tuple[int, str, dict[str, Any]]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]


# -- PutObject -----------------------------------------------------------------------------------------


def test_put_object_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"", IfNoneMatch="*")
    status, code, err = error(s3.put_object, Bucket=bucket, Key="k", Body=b"again", IfNoneMatch="*")
    assert (status, code, err["Condition"]) == (412, "PreconditionFailed", "If-None-Match")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b""
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"after delete", IfNoneMatch="*")


def test_put_object_if_none_match_versioned_bucket(s3: Any, bucket: str) -> None:
    """A current delete marker is no object: If-None-Match: * succeeds over it."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")[0] == 412
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfNoneMatch="*")
    versions = s3.list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1


def test_put_object_if_match(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    status, code, err = error(s3.put_object, Bucket=bucket, Key="k", Body=b"",
                              IfMatch="d41d8cd98f00b204e9800998ecf8427e")
    assert (status, code, err["Condition"]) == (412, "PreconditionFailed", "If-Match")
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"", IfMatch=etag)["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"unquoted", IfMatch=etag2.strip('"'))  # quotes are optional
    s3.delete_object(Bucket=bucket, Key="k")
    status, code, err = error(s3.put_object, Bucket=bucket, Key="k", Body=b"", IfMatch=etag)
    assert (status, code, err["Key"]) == (404, "NoSuchKey", "k")


def test_put_object_if_match_versioned_bucket(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    etag1 = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", IfMatch='"bad"')[0] == 412
    s3.delete_object(Bucket=bucket, Key="k")
    # Under a delete marker there is no object, whatever the older versions' ETags.
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", IfMatch=etag1)[:2] == (404, "NoSuchKey")
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"test-after-del")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"test-if-match", IfMatch=etag2)
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 3


@pytest.mark.parametrize(("headers", "header"), [
    ({"IfNoneMatch": '"d41d8cd98f00b204e9800998ecf8427e"'}, "If-None-Match"),  # only "*"
    ({"IfMatch": "*"}, "If-Match"),  # only an ETag
    ({"IfNoneMatch": "*", "IfMatch": '"abcdef"'}, "If-Match,If-None-Match"),  # not both
])
def test_put_object_refuses_conditions_aws_does_not_accept(s3: Any, bucket: str, headers: dict[str, str],
                                                           header: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    status, code, err = error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", **headers)
    assert (status, code, err["Header"]) == (501, "NotImplemented", header)


def _raw_put(server: Server, path: str, headers: dict[str, str], length: int) -> socket.socket:
    signed = signed_headers(server, "PUT", path, headers={**headers, "Content-Length": str(length)},
                            payload_hash="UNSIGNED-PAYLOAD")
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in signed.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket) -> int:
    reply = b""
    while b"\r\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    sock.close()
    return int(reply[9:12])


def test_put_object_refused_before_its_body_is_sent(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"exists")
    started = time.monotonic()
    sock = _raw_put(server, f"/{bucket}/k", {"If-None-Match": "*", "Expect": "100-continue"}, 64 * 1024 * 1024)
    assert _status(sock) == 412  # the 64 MiB body was never sent
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("rewrite", "expected"), [(b"same", 409), (b"different", 412), (None, 404)])
def test_put_object_if_match_raced_by_a_write_during_its_body(server: Server, s3: Any, bucket: str,
                                                              rewrite: bytes | None, expected: int) -> None:
    """The condition held when the request arrived; what changed while its body arrived decides: a
    rewrite with the same bytes (same ETag, another object) is 409, another ETag 412, a delete 404."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"same")["ETag"]
    body = b"new body"
    sock = _raw_put(server, f"/{bucket}/k", {"If-Match": etag}, len(body))
    sock.sendall(body[:3])
    time.sleep(0.3)  # the server has checked the condition and waits for the rest
    if rewrite is None:
        s3.delete_object(Bucket=bucket, Key="k")
    else:
        s3.put_object(Bucket=bucket, Key="k", Body=rewrite)
    sock.sendall(body[3:])
    assert _status(sock) == expected
    if rewrite is not None:
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == rewrite  # the refused write left no trace


def test_concurrent_if_none_match_puts_one_wins(server: Server, bucket: str) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def put(n: int) -> None:
        client = server.client()
        try:
            client.put_object(Bucket=bucket, Key="race", Body=f"writer {n}".encode(), IfNoneMatch="*")
            status = 200
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200] + [412] * 7


def test_put_object_conditions_with_the_aws_cli(server: Server, bucket: str, tmp_path: Any) -> None:
    import json

    src = tmp_path / "body.txt"
    src.write_text("hello")
    first = json.loads(aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(src),
                           "--if-none-match", "*").stdout)
    again = aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(src),
                "--if-none-match", "*", check=False)
    assert again.returncode != 0 and "PreconditionFailed" in again.stderr
    aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(src),
        "--if-match", first["ETag"])


# -- CompleteMultipartUpload ------------------------------------------------------------------------------


def _open_upload(s3: Any, bucket: str, key: str, body: bytes = b"test") -> tuple[str, list[dict[str, Any]]]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, Body=body, PartNumber=1)["ETag"]
    return upload, [{"ETag": etag, "PartNumber": 1}]


def _complete(s3: Any, bucket: str, key: str, upload: str, parts: list[dict[str, Any]], **kw: Any) -> Any:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts},
                                        **kw)


def test_complete_multipart_upload_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"", IfNoneMatch="*")
    upload, parts = _open_upload(s3, bucket, "k")
    status, code, err = error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts,
                              IfNoneMatch="*")
    assert (status, code, err["Condition"]) == (412, "PreconditionFailed", "If-None-Match")
    s3.delete_object(Bucket=bucket, Key="k")
    # The delete ran after the upload began: a conflict, and the upload must be restarted.
    status, code, err = error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts,
                              IfNoneMatch="*")
    assert (status, code, err["Condition"], err["Key"]) == (409, "ConditionalRequestConflict", "If-None-Match", "k")
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)["Parts"]  # a refused Complete keeps the upload
    upload, parts = _open_upload(s3, bucket, "k")
    done = _complete(s3, bucket, "k", upload, parts, IfNoneMatch="*")
    assert done["ETag"].endswith('-1"')


def test_complete_multipart_upload_if_none_match_with_put_during(s3: Any, bucket: str) -> None:
    upload, parts = _open_upload(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"", IfNoneMatch="*")
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfNoneMatch="*")[:2] == \
        (412, "PreconditionFailed")


def test_complete_multipart_upload_if_match(s3: Any, bucket: str) -> None:
    etag1 = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    upload, parts = _open_upload(s3, bucket, "k")
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"test2")["ETag"]
    # The old ETag no longer matches: 412; the new one matches an object written after the upload began: 409.
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag1)[:2] == \
        (412, "PreconditionFailed")
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag2)[:2] == \
        (409, "ConditionalRequestConflict")
    upload, parts = _open_upload(s3, bucket, "k")
    mp_etag = _complete(s3, bucket, "k", upload, parts, IfMatch=etag2)["ETag"]
    # A multipart object's ETag is its own: the next upload must name it.
    upload, parts = _open_upload(s3, bucket, "k")
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag2)[0] == 412
    _complete(s3, bucket, "k", upload, parts, IfMatch=mp_etag)


def test_complete_multipart_upload_if_match_with_identical_put_during(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    upload, parts = _open_upload(s3, bucket, "k")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"] == etag
    # Same bytes, same ETag, but written after the upload began: still a conflict.
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag)[:2] == \
        (409, "ConditionalRequestConflict")


def test_complete_multipart_upload_if_match_with_delete_during(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    upload, parts = _open_upload(s3, bucket, "k")
    s3.delete_object(Bucket=bucket, Key="k")
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag)[:2] == \
        (404, "NoSuchKey")
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["ETag"]
    assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, IfMatch=etag2)[:2] == \
        (409, "ConditionalRequestConflict")


def test_complete_multipart_upload_refuses_conditions_aws_does_not_accept(s3: Any, bucket: str) -> None:
    upload, parts = _open_upload(s3, bucket, "k")
    for kwargs in ({"IfNoneMatch": '"etag"'}, {"IfMatch": "*"}, {"IfNoneMatch": "*", "IfMatch": '"etag"'}):
        assert error(_complete, s3=s3, bucket=bucket, key="k", upload=upload, parts=parts, **kwargs)[:2] == \
            (501, "NotImplemented")


# -- CopyObject (conditions on the destination) --------------------------------------------------------------


def test_copy_object_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source content")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    status, code, err = error(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                              IfNoneMatch="*")
    assert (status, code, err["Condition"]) == (412, "PreconditionFailed", "If-None-Match")
    # in place, with a change that would otherwise make the copy legal
    assert error(s3.copy_object, Bucket=bucket, Key="src", CopySource=f"{bucket}/src", IfNoneMatch="*",
                 MetadataDirective="REPLACE")[0] == 412


def test_copy_object_if_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source content")
    dest_etag = s3.put_object(Bucket=bucket, Key="dst", Body=b"initial content")["ETag"]
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch=dest_etag)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source content"
    assert error(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch='"wrong"')[:2] == \
        (412, "PreconditionFailed")
    status, code, err = error(s3.copy_object, Bucket=bucket, Key="none", CopySource=f"{bucket}/src",
                              IfMatch=dest_etag)
    assert (status, code, err["Key"]) == (404, "NoSuchKey", "none")
    src_etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src", IfMatch=src_etag, MetadataDirective="REPLACE")


def test_copy_object_conditions_versioned_bucket(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="src", Body=b"source content")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    etag = s3.head_object(Bucket=bucket, Key="dst")["ETag"]
    s3.delete_object(Bucket=bucket, Key="dst")
    assert error(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch=etag)[:2] == \
        (404, "NoSuchKey")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")


def test_copy_object_refuses_conditions_aws_does_not_accept(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    for kwargs, header in [({"IfNoneMatch": etag}, "If-None-Match"), ({"IfMatch": "*"}, "If-Match"),
                           ({"IfMatch": "*", "IfNoneMatch": etag}, "If-Match,If-None-Match")]:
        status, code, err = error(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **kwargs)
        assert (status, code, err["Header"]) == (501, "NotImplemented", header)


def test_conditions_on_encrypted_objects(s3: Any, bucket: str) -> None:
    """An SSE object's ETag is sealed at rest; conditions still compare it inside the write."""
    sse = {"ServerSideEncryption": "AES256"}
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"secret", IfNoneMatch="*", **sse)["ETag"]
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", IfNoneMatch="*", **sse)[0] == 412
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", IfMatch='"0000"', **sse)[0] == 412
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"secret 2", IfMatch=etag, **sse)["ETag"]
    upload, parts = _open_upload(s3, bucket, "k")
    done = _complete(s3, bucket, "k", upload, parts, IfMatch=etag2)
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", IfMatch=done["ETag"], MetadataDirective="REPLACE",
                   **sse)
    current = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch=etag2)[:2] == (412, "PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=current)
