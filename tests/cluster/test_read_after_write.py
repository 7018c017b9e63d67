"""Strong read-after-write across gateways: PutObject/DeleteObject acknowledged by A, then
GetObject, HeadObject and ListObjectsV2 on B, 1,000 rounds (new keys, overwrites, deletes)."""

from __future__ import annotations

import hashlib
import random

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, unique_bucket

ROUNDS = 1000


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "sse"])
def test_put_on_a_then_get_and_list_on_b(gateways: list[Server], encrypted: bool) -> None:
    a, b = gateways[0].client(), gateways[1].client()
    bucket = unique_bucket("raw")
    a.create_bucket(Bucket=bucket)
    b.head_bucket(Bucket=bucket)  # the bucket A made is there on B at once
    sse = {"ServerSideEncryption": "AES256"} if encrypted else {}
    rng = random.Random(19)
    live: dict[str, bytes] = {}
    rounds = ROUNDS if not encrypted else ROUNDS // 4  # the SSE run repeats the same path under encryption
    for i in range(rounds):
        key = f"k{rng.randrange(40):02d}"  # 40 keys: most rounds overwrite or delete one
        if key in live and rng.random() < 0.2:
            a.delete_object(Bucket=bucket, Key=key)
            del live[key]
            with pytest.raises(ClientError) as caught:
                b.get_object(Bucket=bucket, Key=key)
            assert caught.value.response["Error"]["Code"] == "NoSuchKey", (i, key)
        else:
            body = f"round {i} {rng.random()}".encode() * rng.randrange(1, 50)
            etag = a.put_object(Bucket=bucket, Key=key, Body=body, **sse)["ETag"]  # type: ignore[arg-type]
            live[key] = body
            got = b.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == body, (i, key)
            assert got["ETag"] == etag
            assert b.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
        listed = b.list_objects_v2(Bucket=bucket).get("Contents", [])
        assert {o["Key"]: o["Size"] for o in listed} == {k: len(v) for k, v in live.items()}, i
    for key, body in live.items():  # and A reads what it wrote, after all of B's reads
        assert hashlib.sha256(a.get_object(Bucket=bucket, Key=key)["Body"].read()).digest() == \
            hashlib.sha256(body).digest()


def test_bucket_changes_on_a_are_seen_by_b(gateways: list[Server]) -> None:
    a, b = gateways[0].client(), gateways[1].client()
    bucket = unique_bucket("cfg")
    a.create_bucket(Bucket=bucket)
    b.get_bucket_versioning(Bucket=bucket)  # B now keeps the bucket row
    a.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert b.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = b.put_object(Bucket=bucket, Key="v", Body=b"1")["VersionId"]  # B writes versioned at once
    assert first != "null"
    a.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert b.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "t", "Value": "1"}]
    a.delete_object(Bucket=bucket, Key="v", VersionId=first)
    a.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        b.head_bucket(Bucket=bucket)
    assert caught.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    with pytest.raises(ClientError) as caught:
        b.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"
