"""SSE-S3 request/response semantics exactly as the spec states them."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support import Server, running_server, signed_request, unique_bucket, xml_code


def test_no_header_means_unencrypted(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in put
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")
    assert "ServerSideEncryption" not in s3.get_object(Bucket=bucket, Key="plain")


def test_aes256_is_confirmed_on_put_get_head(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="sealed", Body=b"x", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="sealed")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="sealed")["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("value", ["AES128", "aes256", "aws:kms:bogus", "AWS:KMS", ""])
def test_unsupported_value_is_refused_and_nothing_written(server: Server, bucket: str, value: str) -> None:
    resp = signed_request(server, "PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-server-side-encryption": value})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"
    assert "The encryption method specified is not supported" in resp.text
    assert "<ArgumentName>x-amz-server-side-encryption</ArgumentName>" in resp.text
    assert signed_request(server, "HEAD", f"/{bucket}/k").status_code == 404


def test_unknown_algorithm_through_boto3_is_refused(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:fsx")  # type: ignore[arg-type]
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_sse_c_over_plain_http_is_refused_not_ignored(s3, bucket: str) -> None:
    """SSE-C exists (tests/s3/test_sse_c*.py); over plain HTTP it is refused as AWS refuses it."""
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.parametrize("encrypted", [True, False])
def test_sse_header_on_get_and_head_is_400(server: Server, s3, bucket: str, encrypted: bool) -> None:
    extra = {"ServerSideEncryption": "AES256"} if encrypted else {}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **extra)
    get = signed_request(server, "GET", f"/{bucket}/k", headers={"x-amz-server-side-encryption": "AES256"})
    assert get.status_code == 400 and xml_code(get) == "InvalidArgument"
    head = signed_request(server, "HEAD", f"/{bucket}/k", headers={"x-amz-server-side-encryption": "AES256"})
    assert head.status_code == 400 and head.content == b""


def test_server_wide_default_encryption(tmp_path) -> None:
    with running_server(tmp_path / "data", "--default-encryption", "AES256") as srv:
        s3 = srv.client()
        name = unique_bucket()
        s3.create_bucket(Bucket=name)
        put = s3.put_object(Bucket=name, Key="k", Body=b"x")
        assert put["ServerSideEncryption"] == "AES256"
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_spec_mode_has_no_default_rule(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"


def test_presigned_put_with_sse(server: Server, bucket: str) -> None:
    s3 = server.client(signature_version="s3v4")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p", "ServerSideEncryption": "AES256"})
    resp = requests.put(url, data=b"x", headers={"x-amz-server-side-encryption": "AES256"}, timeout=10)
    assert resp.status_code == 200 and resp.headers["x-amz-server-side-encryption"] == "AES256"
