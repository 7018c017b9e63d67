"""ListObjectsV2 and ListObjects (v1): prefix, delimiter, pagination, markers, encoding-type, owner."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, xml_code

KEYS = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/4.txt", "d/5.txt", "e f/6 7.txt", "z", "ü/ñ.txt"]


@pytest.fixture
def populated(s3, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_v2_lists_everything_sorted(s3, populated: str) -> None:
    resp = s3.list_objects_v2(Bucket=populated)
    assert [o["Key"] for o in resp["Contents"]] == sorted(KEYS, key=lambda k: k.encode())
    assert resp["KeyCount"] == len(KEYS) and resp["IsTruncated"] is False
    first = resp["Contents"][0]
    assert first["Size"] == len(first["Key"].encode()) and first["StorageClass"] == "STANDARD"
    assert "Owner" not in first


def test_v2_prefix_and_delimiter(s3, populated: str) -> None:
    top = s3.list_objects_v2(Bucket=populated, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "d/", "e f/", "ü/"]
    assert top["KeyCount"] == 6
    sub = s3.list_objects_v2(Bucket=populated, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in sub["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in sub["CommonPrefixes"]] == ["b/c/"]
    assert s3.list_objects_v2(Bucket=populated, Prefix="nothing")["KeyCount"] == 0


def test_v2_pagination_with_prefixes(s3, populated: str) -> None:
    seen: list[str] = []
    kwargs = {"Bucket": populated, "Delimiter": "/", "MaxKeys": 2}
    pages = 0
    while True:
        resp = s3.list_objects_v2(**kwargs)
        pages += 1
        seen += [o["Key"] for o in resp.get("Contents", [])] + [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert resp["KeyCount"] <= 2
        if not resp["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = resp["NextContinuationToken"]
        assert pages < 10
    assert sorted(seen) == sorted(["a.txt", "z", "b/", "d/", "e f/", "ü/"])
    assert len(seen) == len(set(seen)) and pages == 3


def test_v2_start_after_and_fetch_owner(s3, populated: str) -> None:
    resp = s3.list_objects_v2(Bucket=populated, StartAfter="b/c/4.txt", FetchOwner=True)
    assert [o["Key"] for o in resp["Contents"]] == ["d/5.txt", "e f/6 7.txt", "z", "ü/ñ.txt"]
    assert resp["Contents"][0]["Owner"]["DisplayName"] == "root"
    assert len(resp["Contents"][0]["Owner"]["ID"]) == 64


def test_paginator_over_many_keys(s3, bucket: str) -> None:
    for i in range(25):
        s3.put_object(Bucket=bucket, Key=f"k/{i:03d}", Body=b"")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7})
            for o in page.get("Contents", [])]
    assert keys == [f"k/{i:03d}" for i in range(25)]


def test_encoding_type_url(server: Server, populated: str) -> None:
    resp = signed_request(server, "GET", f"/{populated}", params={"list-type": "2", "encoding-type": "url",
                                                                  "prefix": "e f/"})
    assert resp.status_code == 200
    assert "<Key>e%20f/6%207.txt</Key>" in resp.text and "<EncodingType>url</EncodingType>" in resp.text
    assert "<Prefix>e%20f/</Prefix>" in resp.text


def test_encoding_type_url_through_boto3(s3, populated: str) -> None:
    # Asked for explicitly, the encoding is the caller's to undo; botocore's own default decodes.
    keys = [o["Key"] for o in s3.list_objects(Bucket=populated, EncodingType="url")["Contents"]]
    assert "e%20f/6%207.txt" in keys and "%C3%BC/%C3%B1.txt" in keys
    decoded = [o["Key"] for o in s3.list_objects(Bucket=populated)["Contents"]]
    assert "e f/6 7.txt" in decoded and "ü/ñ.txt" in decoded


def test_invalid_encoding_type_and_max_keys(server: Server, populated: str) -> None:
    resp = signed_request(server, "GET", f"/{populated}", params={"list-type": "2", "encoding-type": "base64"})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"
    resp = signed_request(server, "GET", f"/{populated}", params={"list-type": "2", "max-keys": "-1"})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"


def test_bad_continuation_token(s3, populated: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=populated, ContinuationToken="%%%not-a-token")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_v1_marker_and_next_marker(s3, populated: str) -> None:
    resp = s3.list_objects(Bucket=populated, Delimiter="/", MaxKeys=3)
    assert resp["IsTruncated"] is True
    assert [o["Key"] for o in resp["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["b/", "d/"]
    assert resp["NextMarker"] == "d/"
    rest = s3.list_objects(Bucket=populated, Delimiter="/", Marker=resp["NextMarker"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["e f/", "ü/"]
    assert [o["Key"] for o in rest["Contents"]] == ["z"]
    assert rest["IsTruncated"] is False
    assert resp["Contents"][0]["Owner"]["DisplayName"] == "root"


def test_v1_without_delimiter_pages_by_last_key(s3, populated: str) -> None:
    resp = s3.list_objects(Bucket=populated, MaxKeys=4)
    assert resp["IsTruncated"] is True and "NextMarker" not in resp
    rest = s3.list_objects(Bucket=populated, Marker=resp["Contents"][-1]["Key"])
    assert len(resp["Contents"]) + len(rest["Contents"]) == len(KEYS)


def test_max_keys_zero(s3, populated: str) -> None:
    resp = s3.list_objects_v2(Bucket=populated, MaxKeys=0)
    assert resp["KeyCount"] == 0 and "Contents" not in resp
