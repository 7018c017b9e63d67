"""Multipart upload: Create / UploadPart / Complete / Abort / ListParts / ListMultipartUploads, SSE-S3 included."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, start_server, unique_bucket, xml_code

MiB = 1024 * 1024
PART = 5 * MiB


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _multipart_etag(parts: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}"'


def _upload(s3, bucket: str, key: str, parts: list[bytes], **create: str) -> tuple[str, list[dict[str, object]]]:  # type: ignore[no-untyped-def]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        done.append({"PartNumber": number, "ETag": out["ETag"]})
    return upload_id, done


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A private server whose data directory only these tests write to (files are counted and scanned)."""
    # SQLite whatever $SEALBOX_TEST_META says: these count files unlinked at once, which a shared store
    # (PostgreSQL) defers by design (tests/cluster/test_freed_blobs.py checks that).
    srv = start_server(tmp_path_factory.mktemp("multipart-disk") / "data", meta="sqlite")
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def _blob_files(server: Server) -> set[Path]:
    return {p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()}


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# -- the round trip ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "plain"])
def test_three_parts_round_trip(s3, bucket: str, sse: bool) -> None:
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(1234)]
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    created = s3.create_multipart_upload(Bucket=bucket, Key="obj", ContentType="video/mp4",
                                         Metadata={"origin": "test"}, **extra)
    assert created.get("ServerSideEncryption") == ("AES256" if sse else None)
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=bucket, Key="obj", UploadId=created["UploadId"], PartNumber=number, Body=data)
        assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert out.get("ServerSideEncryption") == ("AES256" if sse else None)
        done.append({"PartNumber": number, "ETag": out["ETag"]})
    result = s3.complete_multipart_upload(Bucket=bucket, Key="obj", UploadId=created["UploadId"],
                                          MultipartUpload={"Parts": done})
    assert result["ETag"] == _multipart_etag(parts)
    assert result.get("ServerSideEncryption") == ("AES256" if sse else None)
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == _multipart_etag(parts)
    assert got["ContentType"] == "video/mp4"
    assert got["Metadata"] == {"origin": "test"}
    assert got.get("ServerSideEncryption") == ("AES256" if sse else None)
    assert s3.head_object(Bucket=bucket, Key="obj", PartNumber=1)["PartsCount"] == 3
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_file_with_transfer_config_and_sse(s3, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB + 5)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), bucket, "big.bin", ExtraArgs={"ServerSideEncryption": "AES256"}, Config=config)
    chunks = [data[i:i + PART] for i in range(0, len(data), PART)]
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"] == _multipart_etag(chunks)
    # boto3 asks for CRC32 by default: the object's checksum is the COMPOSITE checksum of the part CRCs.
    part_crcs = b"".join(zlib.crc32(c).to_bytes(4, "big") for c in chunks)
    assert head["ChecksumCRC32"] == f"{base64.b64encode(zlib.crc32(part_crcs).to_bytes(4, 'big')).decode()}-3"
    assert head["ChecksumType"] == "COMPOSITE"
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target), Config=config)
    assert target.read_bytes() == data


def test_bucket_default_encryption_applies_to_uploads(s3, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    created = s3.create_multipart_upload(Bucket=bucket, Key="k")
    assert created["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=created["UploadId"], PartNumber=1, Body=b"default")
    assert part["ServerSideEncryption"] == "AES256"
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=created["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == b"default"


def test_versioned_bucket_keeps_each_completed_upload(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = []
    for body in (b"first upload", b"second upload"):
        upload_id, done = _upload(s3, bucket, "v", [body], ServerSideEncryption="AES256")
        ids.append(s3.complete_multipart_upload(Bucket=bucket, Key="v", UploadId=upload_id,
                                                MultipartUpload={"Parts": done})["VersionId"])
    assert ids[0] != ids[1]
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=ids[0])["Body"].read() == b"first upload"
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"second upload"


# -- Complete's checks --------------------------------------------------------------------------------------------


def test_complete_with_wrong_etag_or_missing_part_is_invalid_part(s3, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [os.urandom(PART), b"tail"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
            "Parts": [done[0], {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]})
    assert _error(exc) == (400, "InvalidPart")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
            "Parts": [*done, {"PartNumber": 3, "ETag": done[1]["ETag"]}]})
    assert _error(exc) == (400, "InvalidPart")
    # The upload survives a refused Complete.
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == PART + 4


def test_complete_parts_out_of_order(s3, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [os.urandom(PART), os.urandom(PART), b"end"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
            "Parts": [done[1], done[0], done[2]]})
    assert _error(exc) == (400, "InvalidPartOrder")


def test_complete_with_small_non_last_part(s3, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [b"tiny", b"tail"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert _error(exc) == (400, "EntityTooSmall")


def test_complete_with_a_subset_of_parts(s3, bucket: str) -> None:
    parts = [os.urandom(PART), b"unused part", os.urandom(100)]
    upload_id, done = _upload(s3, bucket, "k", parts, ServerSideEncryption="AES256")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [done[0], done[2]]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == parts[0] + parts[2]


def test_raw_sse_header_refused_on_upload_part_and_complete(server: Server, s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ServerSideEncryption="AES256")["UploadId"]
    sse = {"x-amz-server-side-encryption": "AES256"}
    resp = signed_request(server, "PUT", f"/{bucket}/k", params={"partNumber": "1", "uploadId": upload_id},
                          body=b"data", headers=sse)
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    resp = signed_request(server, "PUT", f"/{bucket}/k", params={"partNumber": "1", "uploadId": upload_id},
                          body=b"data")
    assert resp.status_code == 200
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"
    etag = resp.headers["etag"]
    xml = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
           f"</CompleteMultipartUpload>").encode()
    resp = signed_request(server, "POST", f"/{bucket}/k", params={"uploadId": upload_id}, body=xml, headers=sse)
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    resp = signed_request(server, "POST", f"/{bucket}/k", params={"uploadId": upload_id}, body=xml)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"
    assert f"<ETag>&quot;{hashlib.md5(hashlib.md5(b'data').digest()).hexdigest()}-1&quot;</ETag>" in resp.text
    assert f"<Location>{server.endpoint}/{bucket}/k</Location>" in resp.text


def test_raw_initiate_and_complete_xml_shape(server: Server, bucket: str) -> None:
    resp = signed_request(server, "POST", f"/{bucket}/shape", params={"uploads": ""},
                          headers={"x-amz-server-side-encryption": "AES256"})
    assert resp.status_code == 200
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"
    m = re.search(r"<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  rf"<Bucket>{bucket}</Bucket><Key>shape</Key><UploadId>([^<]+)</UploadId>", resp.text)
    assert m, resp.text
    resp = signed_request(server, "POST", f"/{bucket}/shape", params={"uploadId": m.group(1)},
                          body=b"<CompleteMultipartUpload></CompleteMultipartUpload>")
    assert (resp.status_code, xml_code(resp)) == (400, "MalformedXML")


# -- UploadPart's checks -----------------------------------------------------------------------------------------


def test_upload_part_number_bounds(server: Server, s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    for number in ("0", "10001", "x"):
        resp = signed_request(server, "PUT", f"/{bucket}/k", params={"partNumber": number, "uploadId": upload_id},
                              body=b"data")
        assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument"), number
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=10000, Body=b"last possible")


def test_upload_part_content_md5_and_checksum_verified(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"data", ContentMD5=wrong_md5)
    assert _error(exc) == (400, "BadDigest")
    wrong_sha = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"data",
                       ChecksumSHA256=wrong_sha)
    assert _error(exc) == (400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_unknown_or_foreign_upload_id_is_no_such_upload(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    calls = [
        lambda uid, key: s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"x"),
        lambda uid, key: s3.list_parts(Bucket=bucket, Key=key, UploadId=uid),
        lambda uid, key: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00"'}]}),
        lambda uid, key: s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid),
    ]
    for call in calls:
        for uid, key in (("no-such-upload-id", "mine"), (upload_id, "someone-else")):
            with pytest.raises(ClientError) as exc:
                call(uid, key)
            assert _error(exc) == (404, "NoSuchUpload")
    other = unique_bucket()
    s3.create_bucket(Bucket=other)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=other, Key="mine", UploadId=upload_id)
    assert _error(exc) == (404, "NoSuchUpload")


# -- checksums ------------------------------------------------------------------------------------------------------


def test_composite_sha256_checksum(s3, bucket: str) -> None:
    parts = [os.urandom(PART), b"sha tail"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=data,
                             ChecksumAlgorithm="SHA256")
        assert out["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        done.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumSHA256": out["ChecksumSHA256"]})
    with pytest.raises(ClientError) as exc:  # a composite checksum needs every part's checksum
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in done]})
    assert _error(exc) == (400, "InvalidRequest")
    result = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert result["ChecksumSHA256"] == f"{base64.b64encode(composite).decode()}-2"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == result["ChecksumSHA256"]
    assert head["ChecksumType"] == "COMPOSITE"


def test_full_object_crc32_checksum(s3, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(777)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=data,
                             ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    result = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    whole = base64.b64encode(zlib.crc32(b"".join(parts)).to_bytes(4, "big")).decode()
    assert result["ChecksumCRC32"] == whole
    assert result["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize("checksum_type", ["FULL_OBJECT", "COMPOSITE"])
def test_get_object_part_number_returns_the_part_checksum(s3, bucket: str, checksum_type: str) -> None:
    """GetObject/HeadObject ?partNumber=N with ChecksumMode ENABLED: the part's own checksum and the
    object's checksum type (as UploadPart answered it); without checksum mode, none."""
    parts = [os.urandom(PART), b"crc tail"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32",
                                           ChecksumType=checksum_type)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        out = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=data,
                             ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    for number, data in enumerate(parts, start=1):
        expected = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        got = s3.get_object(Bucket=bucket, Key="k", PartNumber=number, ChecksumMode="ENABLED")
        assert got["Body"].read() == data
        assert (got["ChecksumCRC32"], got["ChecksumType"]) == (expected, checksum_type)
        head = s3.head_object(Bucket=bucket, Key="k", PartNumber=number, ChecksumMode="ENABLED")
        assert (head["ChecksumCRC32"], head["ChecksumType"]) == (expected, checksum_type)
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="k", PartNumber=1)


# -- reading parts back -----------------------------------------------------------------------------------------------


def test_get_part_number_and_ranges_across_part_boundaries(s3, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(PART + 3), os.urandom(4096)]
    whole = b"".join(parts)
    upload_id, done = _upload(s3, bucket, "k", parts, ServerSideEncryption="AES256")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    for number, data in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="k", PartNumber=number)
        assert got["Body"].read() == data
        assert got["PartsCount"] == 3
        assert got["ContentLength"] == len(data)
        assert got["ServerSideEncryption"] == "AES256"
    start = PART - 100
    got = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={start}-{start + 199}")
    assert got["Body"].read() == whole[start:start + 200]
    assert got["ContentRange"] == f"bytes {start}-{start + 199}/{len(whole)}"
    spanning = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes=10-{len(whole) - 10}")["Body"].read()
    assert spanning == whole[10:len(whole) - 9]
    tail = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-5000")["Body"].read()
    assert tail == whole[-5000:]


# -- listings -------------------------------------------------------------------------------------------------------


def test_list_parts_pagination(s3, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [f"part {i}".encode() for i in range(1, 6)])
    seen: list[int] = []
    marker = 0
    pages = 0
    while pages < 10:
        page = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker)
        pages += 1
        seen += [p["PartNumber"] for p in page["Parts"]]
        assert all(p["Size"] == 6 for p in page["Parts"])
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
        assert marker == seen[-1]
    assert seen == [1, 2, 3, 4, 5]
    assert pages == 3
    full = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert [p["ETag"] for p in full["Parts"]] == [d["ETag"] for d in done]
    assert full["Initiator"]["DisplayName"] == "root"
    assert full["StorageClass"] == "STANDARD"


def test_list_multipart_uploads_prefix_delimiter_markers(s3, bucket: str) -> None:
    keys = ["a/1", "a/2", "b/1", "c", "c", "d"]
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == list(zip(keys, ids, strict=True))
    assert listed["IsTruncated"] is False
    by_prefix = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in by_prefix["Uploads"]] == ["a/1", "a/2"]
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "b/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["c", "c", "d"]
    # Pages of two: (a/1, a/2) (b/1, c#0) (c#1, d), resumed with key-marker + upload-id-marker.
    pages: list[list[tuple[str, str]]] = []
    kwargs: dict[str, str] = {}
    for _ in range(10):
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kwargs)
        pages.append([(u["Key"], u["UploadId"]) for u in page["Uploads"]])
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert pages == [list(zip(keys[i:i + 2], ids[i:i + 2], strict=True)) for i in (0, 2, 4)]
    after_c = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="c")
    assert [u["Key"] for u in after_c["Uploads"]] == ["d"]
    grouped_page = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1)
    assert grouped_page["IsTruncated"] is True
    assert [p["Prefix"] for p in grouped_page["CommonPrefixes"]] == ["a/"]
    resumed = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", KeyMarker=grouped_page["NextKeyMarker"])
    assert [p["Prefix"] for p in resumed["CommonPrefixes"]] == ["b/"]


# -- what is on disk ----------------------------------------------------------------------------------------------------


def test_abort_removes_part_files(own: Server) -> None:
    s3: Any = own.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    before = _blob_files(own)
    upload_id, _ = _upload(s3, bucket, "k", [b"one", b"two", b"three"], ServerSideEncryption="AES256")
    assert len(_blob_files(own) - before) == 3
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert _blob_files(own) == before
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert _error(exc) == (404, "NoSuchUpload")
    assert list((own.data_dir / "tmp").iterdir()) == []


def test_raw_abort_answers_204(own: Server) -> None:
    s3: Any = own.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    resp = signed_request(own, "DELETE", f"/{bucket}/k", params={"uploadId": upload_id})
    assert resp.status_code == 204
    s3.delete_bucket(Bucket=bucket)  # no upload left behind to keep the bucket busy


def test_superseded_and_unused_parts_are_removed(own: Server) -> None:
    s3: Any = own.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    before = _blob_files(own)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"first try" * 1000)
    first = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=os.urandom(PART))
    assert len(_blob_files(own) - before) == 1  # the superseded part 1 is gone
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"never used")
    last = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=3, Body=b"last")
    assert len(_blob_files(own) - before) == 3
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 3, "ETag": last["ETag"]}]})
    assert len(_blob_files(own) - before) == 2
    s3.delete_object(Bucket=bucket, Key="k")
    assert _blob_files(own) == before


def test_sse_upload_never_stores_plaintext(own: Server) -> None:
    s3: Any = own.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    marker = b"PLAINTEXT-MARKER-7f3a9c"
    parts = [(marker + b"%08d|" % i) * (PART // 32 + 1) for i in range(2)] + [marker + b" tail"]
    upload_id, done = _upload(s3, bucket, "secret", parts, ServerSideEncryption="AES256")
    assert _files_containing(own.data_dir, marker) == []  # parts at rest, before Complete
    s3.complete_multipart_upload(Bucket=bucket, Key="secret", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert _files_containing(own.data_dir, marker) == []
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"".join(parts)
    # The scan does find plaintext when there is some: the same bytes uploaded without SSE.
    plain_id, plain_done = _upload(s3, bucket, "plain", parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=plain_id, MultipartUpload={"Parts": plain_done})
    assert len(_files_containing(own.data_dir / "blobs", marker)) == 3


def test_part_checksum_of_another_algorithm_is_refused(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA1")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x", ChecksumAlgorithm="CRC32")
    assert _error(exc) == (400, "InvalidRequest")
    out = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x", ChecksumAlgorithm="SHA1")
    assert out["ChecksumSHA1"] == base64.b64encode(hashlib.sha1(b"x").digest()).decode()
