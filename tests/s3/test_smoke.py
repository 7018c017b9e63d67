"""Smoke: the basic object round trip through boto3, plain and SSE-S3."""

from __future__ import annotations


def test_put_get_roundtrip_plain_and_sse(s3, bucket: str) -> None:
    plain = s3.put_object(Bucket=bucket, Key="plain.txt", Body=b"hello")
    assert "ServerSideEncryption" not in plain
    sealed = s3.put_object(Bucket=bucket, Key="sealed.txt", Body=b"secret", ServerSideEncryption="AES256")
    assert sealed["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="plain.txt")["Body"].read() == b"hello"
    got = s3.get_object(Bucket=bucket, Key="sealed.txt")
    assert got["Body"].read() == b"secret"
    assert got["ServerSideEncryption"] == "AES256"
