"""Path traversal against the data directory: keys and bucket names that look like paths write nothing outside.

Blob files are named by random ids, never by bucket or key, so no name can steer a path; this test
holds the whole server to it: after a barrage of traversal-shaped requests every file under the test
directory is one the store itself names, inside the data directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.hostile.raw import send_signed
from tests.support import Server, start_server

KEYS = ["../escape", "../../escape", "../../../../../../../../tmp/escape", "..\\..\\escape", "/../escape",
        "a/../../../escape", "blobs/../../escape", "tmp/escape", "meta.sqlite3", "keys/master-keys.json",
        "....//....//escape", "./././escape", "escape/..", "%2e%2e/escape"]
BUCKET_NAMES = ["..", ".", "...", "a..b", ".hidden", "-bad", "x" * 64, "UPPER", "a_b"]
STORE_DIR_NAMES = ["tmp", "blobs", "keys"]  # valid bucket names that match the data directory's own folders
OWN_FILE = re.compile(r"^(blobs/[0-9a-f]{2}/[0-9a-f]{32}|blobs/[0-9a-f]{2}|blobs|tmp|keys|keys/master-keys\.json"
                      r"|meta\.sqlite3(-wal|-shm|\.writelock|\.tokens)?"
                      # the serve lock (and, without /dev/shm, the metrics files) and the lifecycle lock
                      r"|run|run/serve\.lock|run/metrics(/[a-z0-9_.-]+)?|lifecycle\.lock)$")


@pytest.fixture
def nested(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    data_dir = tmp_path / "outer" / "inner" / "data"
    server = start_server(data_dir)
    s3: Any = server.client()
    s3.create_bucket(Bucket="trav")
    try:
        yield server, tmp_path
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()


def _everything_in_place(root: Path, data_dir: Path) -> None:
    for path in root.rglob("*"):
        if data_dir in path.parents:
            rel = path.relative_to(data_dir).as_posix()
            assert OWN_FILE.match(rel), f"unexpected file in the data directory: {rel}"
        else:
            assert path.name in ("outer", "inner", "data") or path.name.startswith("server-"), \
                f"file outside the data directory: {path}"
            assert "escape" not in path.name
    assert not Path("/tmp/escape").exists()


def test_object_keys_shaped_like_paths_stay_keys(nested: tuple[Server, Path]) -> None:
    server, root = nested
    s3: Any = server.client()
    for n, key in enumerate(KEYS):
        s3.put_object(Bucket="trav", Key=key, Body=f"body {n}".encode(), **({"ServerSideEncryption": "AES256"} if n % 2 else {}))
    for n, key in enumerate(KEYS):
        assert s3.get_object(Bucket="trav", Key=key)["Body"].read() == f"body {n}".encode()
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="trav")["Contents"])
    assert listed == sorted(KEYS)
    _everything_in_place(root, server.data_dir)


def test_percent_encoded_dot_segments_are_a_key(nested: tuple[Server, Path]) -> None:
    """%2e%2e/%2e%2e/escape is the key ../../escape (signed as such, sent encoded), stored like any key."""
    server, root = nested
    reply = send_signed(server, "PUT", "/trav/../../escape", b"dots", send_path="/trav/%2e%2e/%2e%2e/escape",
                        payload_hash="UNSIGNED-PAYLOAD")
    assert reply.status == 200, reply
    s3: Any = server.client()
    assert s3.get_object(Bucket="trav", Key="../../escape")["Body"].read() == b"dots"
    for path in ["/trav/%2e%2e%2f%2e%2e%2fescape2", "/trav/..%2f..%2fescape3", "/trav/%2E%2E/escape4"]:
        reply = send_signed(server, "PUT", path, b"x", payload_hash="UNSIGNED-PAYLOAD")
        assert reply.status in (200, 403), reply  # stored as a key, or refused: never a file elsewhere
    _everything_in_place(root, server.data_dir)


def test_bucket_names_shaped_like_paths_are_refused(nested: tuple[Server, Path]) -> None:
    server, root = nested
    s3: Any = server.client()
    for name in BUCKET_NAMES:
        reply = send_signed(server, "PUT", f"/{name}")
        assert reply.status in (400, 405), (name, reply)
        assert reply.code in ("InvalidBucketName", "MethodNotAllowed"), (name, reply)
    for name in ["%2e%2e", "a%2fb", "%2e"]:
        reply = send_signed(server, "PUT", f"/{name}/key", b"x", payload_hash="UNSIGNED-PAYLOAD")
        assert 400 <= reply.status < 500, (name, reply)
    # The path is decoded before it is split: an encoded slash after the bucket name starts the key.
    reply = send_signed(server, "PUT", "/trav%2f..%2f..%2fescape/key", b"x", payload_hash="UNSIGNED-PAYLOAD")
    assert reply.status == 200, reply
    assert s3.get_object(Bucket="trav", Key="../../escape/key")["Body"].read() == b"x"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["trav"]
    for name in STORE_DIR_NAMES:  # buckets are rows, not folders: these names are harmless
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="../escape", Body=b"in a bucket")
        assert s3.get_object(Bucket=name, Key="../escape")["Body"].read() == b"in a bucket"
    _everything_in_place(root, server.data_dir)


def test_copy_source_and_multipart_keys_shaped_like_paths(nested: tuple[Server, Path]) -> None:
    server, root = nested
    s3: Any = server.client()
    for source in ["../../etc/passwd", "trav/../../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd"]:
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket="trav", Key="copied", CopySource=source)
        assert caught.value.response["Error"]["Code"] in ("NoSuchBucket", "NoSuchKey", "InvalidArgument",
                                                           "InvalidBucketName"), caught.value.response
    upload = s3.create_multipart_upload(Bucket="trav", Key="../../../multipart-escape")["UploadId"]
    etag = s3.upload_part(Bucket="trav", Key="../../../multipart-escape", UploadId=upload, PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket="trav", Key="../../../multipart-escape", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="trav", Key="../../../multipart-escape")["Body"].read() == b"part"
    _everything_in_place(root, server.data_dir)
