"""SSE-KMS and DSSE-KMS through the S3 API: PutObject, GetObject, HeadObject, CopyObject, POST Object,
multipart, bucket default encryption, bucket keys, key states and their errors (boto3, raw HTTP)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.kms_support import add_user, bump_tokens, error_of, kms_client, s3_client, sql
from tests.support import (
    Server,
    held_requests,
    running_server,
    signed_headers,
    signed_request,
    unique_bucket,
    xml_code,
)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own (2 workers): keys are disabled and destroyed here."""
    with running_server(tmp_path_factory.mktemp("kms") / "data", workers=2) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def s3(srv: Server) -> Any:
    return srv.client()


@pytest.fixture
def kms(srv: Server) -> Any:
    return kms_client(srv)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique_bucket("kms")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    meta: dict[str, Any] = kms.create_key(Description="test key")["KeyMetadata"]
    return meta


def _context(pairs: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(pairs).encode()).decode()


# -- PutObject / GetObject / HeadObject headers ------------------------------------------------------------


@pytest.mark.parametrize("ref", ["KeyId", "Arn", "alias", "alias-arn"])
def test_put_object_with_key_id_arn_or_alias(s3: Any, kms: Any, bucket: str, key: dict[str, Any], ref: str) -> None:
    alias = f"alias/t-{os.urandom(4).hex()}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    given = {"KeyId": key["KeyId"], "Arn": key["Arn"], "alias": alias,
             "alias-arn": key["Arn"].split(":key/")[0] + ":" + alias}[ref]
    body = os.urandom(3000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=given)
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key["Arn"]  # always the key ARN, whatever named it
    assert "BucketKeyEnabled" not in put
    get = s3.get_object(Bucket=bucket, Key="k")
    assert get["Body"].read() == body
    assert (get["ServerSideEncryption"], get["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])


def test_etag_is_not_the_md5_and_is_stable(s3: Any, bucket: str, key: dict[str, Any]) -> None:
    body = b"some bytes" * 100
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    etag = put["ETag"]
    assert etag.strip('"') != hashlib.md5(body).hexdigest()  # as on AWS: SSE-KMS ETags are not the MD5
    assert s3.head_object(Bucket=bucket, Key="k")["ETag"] == etag
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["ETag"] == etag
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == body
    # Content-MD5 is still checked against the plaintext.
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="k2", Body=body, ContentMD5=md5, ServerSideEncryption="aws:kms")


def test_without_key_id_the_aws_managed_key_is_made_on_first_use(s3: Any, kms: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert aliases["alias/aws/s3"]["TargetKeyId"] == managed["KeyId"]
    assert put["SSEKMSKeyId"] == managed["Arn"]
    assert managed["KeyManager"] == "AWS" and managed["KeyState"] == "Enabled"
    again = s3.put_object(Bucket=bucket, Key="k2", Body=b"y", ServerSideEncryption="aws:kms")
    assert again["SSEKMSKeyId"] == managed["Arn"]  # one managed key per data directory


def test_encryption_context_is_stored_bound_and_echoed(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    ctx = _context({"project": "apollo", "team": "ops"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"ctx", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"],
                        SSEKMSEncryptionContext=ctx)
    assert json.loads(base64.b64decode(put["SSEKMSEncryptionContext"])) == {"project": "apollo", "team": "ops"}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"ctx"
    # Bound into the key's sealing: a record whose stored context was changed does not open.
    record = sql(srv.data_dir, "SELECT sealed_key FROM versions WHERE bucket=? AND key='k'", bucket)[0][0]
    raw = bytearray(base64.b64decode(record[5:]))
    at = raw.find(b"apollo")
    raw[at:at + 6] = b"hermes"
    sql(srv.data_dir, "UPDATE versions SET sealed_key=? WHERE bucket=? AND key='k'",
        "kms1:" + base64.b64encode(bytes(raw)).decode(), bucket)
    bump_tokens(srv.data_dir)
    resp = signed_request(srv, "GET", f"/{bucket}/k")
    assert resp.status_code == 500 and b"ctx" != resp.content


@pytest.mark.parametrize("value", ["bm90IGpzb24=", "!!!", _context({"aws:s3:arn": "x"}), _context({"a": 1})])  # type: ignore[dict-item]
def test_malformed_encryption_context_is_400(srv: Server, bucket: str, value: str) -> None:
    resp = signed_request(srv, "PUT", f"/{bucket}/k", body=b"x", headers={
        "x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": value})
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    assert signed_request(srv, "HEAD", f"/{bucket}/k").status_code == 404


def test_bucket_key_enabled_on_put_is_said_on_every_read(s3: Any, bucket: str, key: dict[str, Any]) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"bk", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"],
                        BucketKeyEnabled=True)
    assert put["BucketKeyEnabled"] is True
    assert s3.head_object(Bucket=bucket, Key="k")["BucketKeyEnabled"] is True
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["BucketKeyEnabled"] is True and got["Body"].read() == b"bk"


# -- errors ---------------------------------------------------------------------------------------------------


def test_unknown_key_is_kms_not_found_and_nothing_is_stored(s3: Any, bucket: str) -> None:
    for ref in ("11111111-2222-3333-4444-555555555555", "alias/nope", "nonsense"):
        assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=ref) == (400, "KMS.NotFoundException")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_key_id_with_aes256_or_without_algorithm_is_invalid_argument(srv: Server, bucket: str,
                                                                      key: dict[str, Any]) -> None:
    for headers in ({"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"]},
                    {"x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"]},
                    {"x-amz-server-side-encryption-context": _context({"a": "b"})},
                    {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-bucket-key-enabled": "maybe"}):
        resp = signed_request(srv, "PUT", f"/{bucket}/k", body=b"x", headers=headers)
        assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument"), headers
    assert signed_request(srv, "HEAD", f"/{bucket}/k").status_code == 404


def test_sse_kms_headers_on_get_are_400(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    for headers in ({"x-amz-server-side-encryption": "aws:kms"},
                    {"x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"]}):
        assert signed_request(srv, "GET", f"/{bucket}/k", headers=headers).status_code == 400


def _raw_get(srv: Server, bucket: str, key: str) -> bytes:
    headers = signed_headers(srv, "GET", f"/{bucket}/{key}")
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n{lines}\r\n".encode()


def _statuses_on_every_worker(srv: Server, bucket: str, key: str) -> list[int]:
    socks, statuses = held_requests(srv, 8, _raw_get(srv, bucket, key))
    for s in socks:
        s.close()
    return statuses


def test_disabled_key_refuses_reads_and_writes_on_every_worker_at_once(srv: Server, s3: Any, kms: Any, bucket: str,
                                                                       key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"y" * 200_000, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="small", Body=b"y", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    assert _statuses_on_every_worker(srv, bucket, "small") == [200] * 8  # every worker has opened the key
    kms.disable_key(KeyId=key["KeyId"])
    assert _statuses_on_every_worker(srv, bucket, "small") == [400] * 8  # no waiting: the change token
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.DisabledException")
    assert error_of(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=key["KeyId"]) == (400, "KMS.DisabledException")
    assert error_of(s3.copy_object, Bucket=bucket, Key="copy", CopySource=f"{bucket}/k") == (400, "KMS.DisabledException")
    # Listings need no key (the ETag of an SSE-KMS object is a keyed digest, kept in the clear); HEAD
    # does, since the object's metadata is sealed under its data key.
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"] for o in listed} == {"k", "small"} and all(o["ETag"].strip('"') for o in listed)
    assert error_of(s3.head_object, Bucket=bucket, Key="k")[0] == 400
    kms.enable_key(KeyId=key["KeyId"])
    assert _statuses_on_every_worker(srv, bucket, "small") == [200] * 8
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y" * 200_000


def test_key_pending_deletion_is_invalid_state_and_cancel_restores_after_enable(
        s3: Any, kms: Any, bucket: str, key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"z", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.KMSInvalidStateException")
    assert error_of(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=key["KeyId"]) == (400, "KMS.KMSInvalidStateException")
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.DisabledException")  # AWS: Disabled after cancel
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"z"


def test_after_the_waiting_period_the_key_and_its_objects_are_gone(srv: Server, s3: Any, kms: Any, bucket: str,
                                                                   key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"shred me" * 5000, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="bk", Body=b"shred me too", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    # Seven days pass (the deletion date moved to the past, as time would move it).
    sql(srv.data_dir, "UPDATE kms_keys SET deletion_date=1 WHERE key_id=?", key["KeyId"])
    bump_tokens(srv.data_dir)
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.NotFoundException")
    assert error_of(s3.get_object, Bucket=bucket, Key="bk") == (400, "KMS.NotFoundException")
    assert error_of(kms.describe_key, KeyId=key["KeyId"]) == (400, "NotFoundException")
    assert sql(srv.data_dir, "SELECT COUNT(*) FROM kms_material WHERE key_id=?", key["KeyId"]) == [(0,)]
    assert sql(srv.data_dir, "SELECT COUNT(*) FROM kms_bucket_keys WHERE kms_key_arn=?", key["Arn"]) == [(0,)]
    # sealbox scrub (beside the running server) names both objects: gone for good.
    from tests.faults.storage import scrub

    status, report = scrub(srv.data_dir)
    gone = {p["key"] for p in report["problems"] if p["kind"] == "kms-key-gone" and p.get("bucket") == bucket}
    assert status == 1 and gone == {"k", "bk"}


# -- multipart ------------------------------------------------------------------------------------------------


def test_multipart_upload_echoes_and_reads_whole_ranged_and_by_part(s3: Any, bucket: str, key: dict[str, Any]) -> None:
    ctx = _context({"kind": "multipart"})
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"],
                                    SSEKMSEncryptionContext=ctx, BucketKeyEnabled=True)
    assert (up["ServerSideEncryption"], up["SSEKMSKeyId"], up["BucketKeyEnabled"]) == ("aws:kms", key["Arn"], True)
    assert up["SSEKMSEncryptionContext"] == ctx
    parts, body = [], b""
    for number in (1, 2, 3):
        data = os.urandom(5 * MiB if number < 3 else 123_457)
        part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=number, Body=data)
        assert (part["ServerSideEncryption"], part["SSEKMSKeyId"], part["BucketKeyEnabled"]) == \
            ("aws:kms", key["Arn"], True)
        assert part["ETag"].strip('"') != hashlib.md5(data).hexdigest()
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
        body += data
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert (done["ServerSideEncryption"], done["SSEKMSKeyId"], done["BucketKeyEnabled"]) == ("aws:kms", key["Arn"], True)
    assert done["ETag"].endswith('-3"')
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == body
    start, end = 5 * MiB - 100, 10 * MiB + 50
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={start}-{end}")
    assert ranged["Body"].read() == body[start:end + 1] and ranged["SSEKMSKeyId"] == key["Arn"]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)["Body"].read() == body[10 * MiB:]


def test_upload_part_copy_from_other_modes(s3: Any, bucket: str, key: dict[str, Any]) -> None:
    plain, sse_s3, sse_kms = os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="plain", Body=plain)
    s3.put_object(Bucket=bucket, Key="s3", Body=sse_s3, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="kms", Body=sse_kms, ServerSideEncryption="aws:kms:dsse")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    parts = []
    for number, source in ((1, "plain"), (2, "s3"), (3, "kms")):
        copied = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=number,
                                     CopySource=f"{bucket}/{source}")
        assert copied["SSEKMSKeyId"] == key["Arn"]
        parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == plain + sse_s3 + sse_kms


# -- CopyObject between modes -----------------------------------------------------------------------------------


MODES: dict[str, dict[str, Any]] = {
    "none": {}, "sse-s3": {"ServerSideEncryption": "AES256"}, "sse-kms": {"ServerSideEncryption": "aws:kms"},
    "dsse": {"ServerSideEncryption": "aws:kms:dsse"},
    "sse-kms-bucket-key": {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True},
}


@pytest.mark.parametrize("source", list(MODES))
@pytest.mark.parametrize("target", list(MODES))
def test_copy_object_between_modes_byte_for_byte(s3: Any, bucket: str, key: dict[str, Any], source: str,
                                                 target: str) -> None:
    body = os.urandom(150_000)
    with_key = lambda args: {**args, "SSEKMSKeyId": key["KeyId"]} if "aws:kms" in str(args) else args  # noqa: E731
    s3.put_object(Bucket=bucket, Key="src", Body=body, **with_key(MODES[source]))
    copy = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **with_key(MODES[target]))
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head.get("ServerSideEncryption") == MODES[target].get("ServerSideEncryption")
    assert copy.get("SSEKMSKeyId") == head.get("SSEKMSKeyId") == (key["Arn"] if "kms" in target or target == "dsse"
                                                                  else None)
    assert head.get("BucketKeyEnabled") == (True if target == "sse-kms-bucket-key" else None)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == body


def test_copy_re_encrypts_under_the_requested_key(s3: Any, kms: Any, bucket: str, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"rekey", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    moved = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=other["KeyId"])
    assert moved["SSEKMSKeyId"] == other["Arn"]
    kms.disable_key(KeyId=key["KeyId"])  # the old key no longer matters
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"rekey"
    kms.enable_key(KeyId=key["KeyId"])


# -- POST Object ------------------------------------------------------------------------------------------------


def test_post_object_with_sse_kms_fields(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    fields = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"]}
    post = s3.generate_presigned_post(bucket, "posted", Fields=fields, Conditions=[{k: v} for k, v in fields.items()])
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"posted bytes")}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-amz-server-side-encryption-aws-kms-key-id"] == key["Arn"]
    got = s3.get_object(Bucket=bucket, Key="posted")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"posted bytes", key["Arn"])


# -- bucket default encryption -------------------------------------------------------------------------------------


def test_bucket_default_kms_key_and_bucket_key(s3: Any, kms: Any, bucket: str, key: dict[str, Any]) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["KeyId"]},
        "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["KeyId"]},
                    "BucketKeyEnabled": True}
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"default")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == ("aws:kms", key["Arn"], True)
    # A request naming aws:kms without a key uses aws/s3 (AWS); its bucket key follows the bucket's setting.
    explicit = s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms")
    assert explicit["SSEKMSKeyId"] == kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    assert explicit["BucketKeyEnabled"] is True
    off = s3.put_object(Bucket=bucket, Key="k3", Body=b"x", ServerSideEncryption="aws:kms", BucketKeyEnabled=False)
    assert "BucketKeyEnabled" not in off
    # An SSE-S3 request still gets SSE-S3.
    assert s3.put_object(Bucket=bucket, Key="k4", Body=b"x", ServerSideEncryption="AES256")["ServerSideEncryption"] \
        == "AES256"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert (up["ServerSideEncryption"], up["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ServerSideEncryption="AES256")
    copy = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/src")
    assert (copy["ServerSideEncryption"], copy["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])


def test_bucket_default_dsse(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}, "BucketKeyEnabled": True}]})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"two layers")
    assert put["ServerSideEncryption"] == "aws:kms:dsse"
    assert "BucketKeyEnabled" not in put  # no bucket keys for DSSE-KMS (as on AWS)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two layers"


def test_bucket_default_with_unknown_key_refuses_writes(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/never-made"}}]})
    assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x") == (400, "KMS.NotFoundException")


# -- DSSE-KMS ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65_536, 300_001])
def test_dsse_round_trip_and_ranges(s3: Any, bucket: str, key: dict[str, Any], size: int) -> None:
    body = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="d", Body=body, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=key["KeyId"])
    got = s3.get_object(Bucket=bucket, Key="d")
    assert got["Body"].read() == body and got["ServerSideEncryption"] == "aws:kms:dsse"
    if size > 10:
        assert s3.get_object(Bucket=bucket, Key="d", Range=f"bytes=3-{size - 3}")["Body"].read() == body[3:size - 2]


# -- bucket keys: few KMS calls --------------------------------------------------------------------------------


def test_bucket_key_is_one_per_bucket_and_key(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    for n in range(40):
        s3.put_object(Bucket=bucket, Key=f"o{n}", Body=b"b" * n, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    rows = sql(srv.data_dir, "SELECT COUNT(*) FROM kms_bucket_keys WHERE bucket=?", bucket)
    assert rows[0][0] <= 2  # 40 objects, one KMS call (two if both workers raced to make the first)
    for n in range(40):
        assert s3.get_object(Bucket=bucket, Key=f"o{n}")["Body"].read() == b"b" * n


# -- who may use a key -------------------------------------------------------------------------------------------


def test_users_use_their_own_keys_and_aws_s3_but_not_others(srv: Server, s3: Any, key: dict[str, Any]) -> None:
    name = f"u{os.urandom(3).hex()}"
    access, secret = add_user(srv.data_dir, name)
    user_s3, user_kms = s3_client(srv, access, secret), kms_client(srv, access, secret)
    bucket = unique_bucket("user")
    user_s3.create_bucket(Bucket=bucket)
    assert error_of(user_s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=key["KeyId"]) == (403, "AccessDenied")
    user_s3.put_object(Bucket=bucket, Key="managed", Body=b"m", ServerSideEncryption="aws:kms")  # aws/s3: anyone
    own = user_kms.create_key(Description="mine")["KeyMetadata"]
    user_s3.put_object(Bucket=bucket, Key="own", Body=b"o", ServerSideEncryption="aws:kms", SSEKMSKeyId=own["KeyId"])
    assert user_s3.get_object(Bucket=bucket, Key="own")["Body"].read() == b"o"
    # root reads anything; the user manages only their key
    assert s3.get_object(Bucket=bucket, Key="own")["Body"].read() == b"o"
    assert error_of(user_kms.disable_key, KeyId=key["KeyId"]) == (400, "AccessDeniedException")
    # A key policy grants the user the key: now it works.
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{name}"},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]}
    kms_client(srv).put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    user_s3.put_object(Bucket=bucket, Key="granted", Body=b"g", ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=key["KeyId"])
    assert user_s3.get_object(Bucket=bucket, Key="granted")["Body"].read() == b"g"
    assert error_of(user_kms.disable_key, KeyId=key["KeyId"]) == (400, "AccessDeniedException")


def test_reading_needs_decrypt_permission_on_the_key(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    name = f"r{os.urandom(3).hex()}"
    access, secret = add_user(srv.data_dir, name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="m", Body=b"managed", ServerSideEncryption="aws:kms")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": name}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    reader = s3_client(srv, access, secret)
    assert error_of(reader.get_object, Bucket=bucket, Key="k") == (403, "AccessDenied")
    assert reader.get_object(Bucket=bucket, Key="m")["Body"].read() == b"managed"


# -- bucket policies: "only this KMS key" --------------------------------------------------------------------------


def test_bucket_policy_requiring_one_kms_key(srv: Server, s3: Any, kms: Any, bucket: str, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]
    alias = f"alias/only-{os.urandom(3).hex()}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key["Arn"]}}}]}))
    for ref in (key["KeyId"], key["Arn"], alias):  # the condition sees the key ARN, whichever form was sent
        s3.put_object(Bucket=bucket, Key="ok", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=ref)
    assert error_of(s3.put_object, Bucket=bucket, Key="no", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=other["KeyId"]) == (403, "AccessDenied")
    assert error_of(s3.put_object, Bucket=bucket, Key="no", Body=b"x", ServerSideEncryption="AES256") == \
        (403, "AccessDenied")
    assert error_of(s3.put_object, Bucket=bucket, Key="no", Body=b"x") == (403, "AccessDenied")
    # Multipart: the upload's key counts for its parts and Complete.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.delete_bucket_policy(Bucket=bucket)


# -- at rest ----------------------------------------------------------------------------------------------------


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_plaintext_and_no_key_material_at_rest(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    marker = b"KMS-SECRET-MARKER-" + os.urandom(8).hex().encode()
    for mode in ("aws:kms", "aws:kms:dsse"):
        for size in (1, 200, 5000):
            s3.put_object(Bucket=bucket, Key=f"{mode}-{size}", Body=marker * size, ServerSideEncryption=mode,
                          SSEKMSKeyId=key["KeyId"])
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=marker * 1000)
    sql(srv.data_dir, "PRAGMA wal_checkpoint(PASSIVE)")
    on_disk = _all_bytes(srv.data_dir)
    assert marker not in on_disk
    # Key material is only stored sealed: the unsealed material of this key appears nowhere.
    from sealbox.crypto import kms_format
    from sealbox.kms.service import KeyService
    from sealbox.service.sealing import Sealer
    from sealbox.storage.meta.stores import open_kms_store
    from sealbox.crypto.keyring import load_keyring
    from tests.meta_support import meta_url

    url = meta_url(srv.data_dir)
    if url is not None:  # PostgreSQL's own files are "at rest" too (the session's server, tests/pg_support.py)
        from tests import pg_support

        on_disk += _all_bytes(pg_support.shared_server().data)
    store = open_kms_store(url, srv.data_dir / "meta.sqlite3")
    service = KeyService(store, Sealer(load_keyring(srv.data_dir / "keys" / "master-keys.json")), "us-east-1")
    row = store.get_material(key["KeyId"], 1)
    assert row is not None and row.sealed.startswith("v1:")
    material = service.sealer.open_value(row.sealed, kms_format.material_context(key["KeyId"], 1))
    assert len(material) == 32 and material not in on_disk
    store.close()


def test_dsse_extent_has_two_layers_on_disk(srv: Server, s3: Any, bucket: str, key: dict[str, Any]) -> None:
    from tests.faults.storage import stored

    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="d", Body=body, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=key["KeyId"])
    blob = stored(srv.data_dir, bucket, "d").read()
    assert blob[:4] == b"SBX\x02"  # stream format 2: two layers
    assert len(blob) == 44 + len(body) + 4 * 32  # four segments, two 16-byte tags each


@pytest.mark.parametrize("mode", ["aws:kms", "aws:kms:dsse"])
@pytest.mark.parametrize("where", [50, -1])
def test_tampered_kms_object_is_a_500(srv: Server, s3: Any, bucket: str, key: dict[str, Any], mode: str,
                                      where: int) -> None:
    from tests.faults.storage import stored

    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="t", Body=body, ServerSideEncryption=mode, SSEKMSKeyId=key["KeyId"])
    blob = stored(srv.data_dir, bucket, "t")
    blob.flip(where if where >= 0 else len(blob.read()) - 1)
    resp = signed_request(srv, "GET", f"/{bucket}/t")
    assert resp.status_code == 500 and body[:100] not in resp.content


def test_key_record_moved_to_another_object_does_not_open(srv: Server, s3: Any, bucket: str,
                                                          key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"A" * 1000, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="b", Body=b"B" * 1000, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    record_a = sql(srv.data_dir, "SELECT sealed_key FROM versions WHERE bucket=? AND key='a'", bucket)[0][0]
    sql(srv.data_dir, "UPDATE versions SET sealed_key=? WHERE bucket=? AND key='b'", record_a, bucket)
    bump_tokens(srv.data_dir)
    resp = signed_request(srv, "GET", f"/{bucket}/b")
    assert resp.status_code == 500 and b"A" * 100 not in resp.content
