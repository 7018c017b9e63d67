"""SSE-KMS through an external key service (``--kms-endpoint``): a real KMS-API server process on loopback
(moto's server, ``moto_server``), never a mock object. sealbox signs its GenerateDataKey/Decrypt/DescribeKey
calls with SigV4 and the AWS environment credentials.

moto's KMS does not refuse Decrypt or GenerateDataKey for a disabled key (AWS KMS does); sealbox's own
DescribeKey check refuses writes with it either way, which is what these tests can show of key states.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.kms_support import error_of, sql
from tests.support import REGION, Server, free_port, running_server, signed_request, unique_bucket

MOTO = Path(sys.executable).parent / "moto_server"
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}

pytestmark = pytest.mark.skipif(not MOTO.exists() and shutil.which("moto_server") is None,
                                reason="moto[server] is not installed (pip install 'moto[server]')")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([str(MOTO) if MOTO.exists() else "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def external(moto: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("extkms") / "data", "--kms-endpoint", moto, workers=2,
                        env={**MOTO_CREDENTIALS, "SEALBOX_KMS_CACHE_SECONDS": "0.5"}) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def moto_kms(moto: str) -> Any:
    return boto3.client("kms", endpoint_url=moto, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_objects_are_sealed_by_the_external_service(external: Server, moto_kms: Any) -> None:
    key = moto_kms.create_key(Description="external")["KeyMetadata"]
    moto_kms.create_alias(AliasName="alias/ext", TargetKeyId=key["KeyId"])
    s3 = external.client()
    bucket = unique_bucket("ext")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(300_000)
    for ref in (key["KeyId"], key["Arn"], "alias/ext"):
        put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=ref)
        assert put["SSEKMSKeyId"] == key["Arn"]  # the ARN the external service answered with
        got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=1000-200000")
        assert got["Body"].read() == body[1000:200001] and got["SSEKMSKeyId"] == key["Arn"]
    dsse = s3.put_object(Bucket=bucket, Key="d", Body=body, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=ref)
    assert dsse["ServerSideEncryption"] == "aws:kms:dsse"
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == body
    # The record holds the external service's ciphertext blob, not a key of sealbox's own.
    record = sql(external.data_dir, "SELECT sealed_key FROM versions WHERE bucket=? AND key='k'", bucket)[0][0]
    assert record.startswith("kms1:")
    assert sql(external.data_dir, "SELECT COUNT(*) FROM kms_keys") == [(0,)]


def test_bucket_key_under_an_external_key(external: Server, moto_kms: Any) -> None:
    key = moto_kms.create_key()["KeyMetadata"]
    s3 = external.client()
    bucket = unique_bucket("extbk")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]},
        "BucketKeyEnabled": True}]})
    for n in range(20):
        assert s3.put_object(Bucket=bucket, Key=f"o{n}", Body=b"x" * n)["BucketKeyEnabled"] is True
    assert sql(external.data_dir, "SELECT COUNT(*) FROM kms_bucket_keys WHERE bucket=?", bucket)[0][0] <= 2
    assert all(s3.get_object(Bucket=bucket, Key=f"o{n}")["Body"].read() == b"x" * n for n in range(20))


def test_multipart_under_an_external_key(external: Server, moto_kms: Any) -> None:
    key = moto_kms.create_key()["KeyMetadata"]
    s3 = external.client()
    bucket = unique_bucket("extmp")
    s3.create_bucket(Bucket=bucket)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    first, second = os.urandom(5 * 1024 * 1024), os.urandom(1000)
    parts: list[Any] = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n,
                                                      Body=data)["ETag"]} for n, data in ((1, first), (2, second))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == first + second


def test_external_key_states_and_errors(external: Server, moto_kms: Any) -> None:
    key = moto_kms.create_key()["KeyMetadata"]
    s3 = external.client()
    bucket = unique_bucket("extst")
    s3.create_bucket(Bucket=bucket)
    assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId="alias/not-there") == (400, "KMS.NotFoundException")
    moto_kms.disable_key(KeyId=key["KeyId"])
    assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=key["KeyId"]) == (400, "KMS.DisabledException")
    moto_kms.enable_key(KeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="k", Body=b"fine", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"fine"


def test_kms_api_of_sealbox_is_off_with_an_external_service(external: Server) -> None:
    from tests.kms_support import kms_client

    assert error_of(kms_client(external).list_keys) == (400, "UnsupportedOperationException")


def test_tampered_external_blob_is_refused(external: Server, moto_kms: Any) -> None:
    import base64

    from sealbox.crypto import kms_format

    key = moto_kms.create_key()["KeyMetadata"]
    s3 = external.client()
    bucket = unique_bucket("exttp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"guarded", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    text = sql(external.data_dir, "SELECT sealed_key FROM versions WHERE bucket=? AND key='k'", bucket)[0][0]
    record = kms_format.KmsRecord.from_text(text)
    wrap = bytearray(record.layers[0].wrap)
    wrap[len(wrap) // 2] ^= 1
    bad = kms_format.KmsRecord(record.mode, record.key_arn, record.context,
                               (kms_format.LayerSeal(bytes(wrap), record.layers[0].nonce, record.layers[0].sealed_key),))
    sql(external.data_dir, "UPDATE versions SET sealed_key=? WHERE bucket=? AND key='k'", bad.to_text(), bucket)
    from tests.kms_support import bump_tokens

    bump_tokens(external.data_dir)
    time.sleep(0.6)  # past the cache time of opened keys
    resp = signed_request(external, "GET", f"/{bucket}/k")
    assert resp.status_code >= 400 and b"guarded" not in resp.content
    assert base64.b64encode(bytes(wrap))  # (the blob really changed)
