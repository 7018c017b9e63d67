"""What is on disk: no plaintext and no data key for SSE objects; tampering is detected, never served."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sealbox.crypto import envelope
from sealbox.crypto.keyring import load_keyring
from sealbox.storage.data.local import INLINE_MAX
from tests.faults.storage import StoredExtent, stored
from tests.support import Server, running_server, unique_bucket


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", meta="sqlite") as srv:  # it reads meta.sqlite3 itself
        yield srv


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _row(server: Server, bucket: str, key: str) -> tuple[bytes, str | None, list[list[object]]]:
    db = sqlite3.connect(server.data_dir / "meta.sqlite3")
    try:
        uid, sealed, extents = db.execute("SELECT object_uid, sealed_key, extents FROM versions"
                                          " WHERE bucket=? AND key=? AND is_latest=1", (bucket, key)).fetchone()
    finally:
        db.close()
    return uid, sealed, json.loads(extents)


def test_no_plaintext_or_data_key_on_disk(private: Server) -> None:
    s3 = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    secret_text = b"TOP-SECRET-MARKER-" + os.urandom(8).hex().encode()
    secret = secret_text * 5000  # 115 KB: several segments
    open_text = b"OPEN-MARKER-" + os.urandom(8).hex().encode()
    s3.put_object(Bucket=bucket, Key="secret", Body=secret, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="open", Body=open_text * 100)
    s3.put_object(Bucket=bucket, Key="small-secret", Body=secret_text, ServerSideEncryption="AES256")
    on_disk = _all_bytes(private.data_dir)
    assert secret_text not in on_disk
    assert open_text * 100 in on_disk  # an unencrypted object is stored as given
    keyring = load_keyring(private.data_dir / "keys" / "master-keys.json")
    for key in ("secret", "small-secret"):
        uid, sealed, _ = _row(private, bucket, key)
        assert sealed is not None
        data_key = envelope.unseal(envelope.SealedKey.from_text(sealed), keyring,
                                   envelope.object_context(bucket, key, uid))
        assert len(data_key) == 32 and data_key not in on_disk
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == secret


def _put_sealed(server: Server, size: int) -> tuple[str, bytes, StoredExtent]:
    s3 = server.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="obj", Body=body, ServerSideEncryption="AES256")
    blob = stored(server.data_dir, bucket, "obj")
    assert blob.extent.inline == (size < INLINE_MAX - 1000)  # small objects live in the metadata store
    return bucket, body, blob


def _get(server: Server, bucket: str, key: str = "obj", rng: str | None = None) -> tuple[int, bytes | None]:
    s3 = server.client(signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    try:
        resp = requests.get(url, headers={"Range": rng} if rng else {}, timeout=30)
        return resp.status_code, resp.content
    except requests.exceptions.RequestException:
        return -1, None  # connection aborted mid-body


@pytest.mark.parametrize("size", [5_000, 100_000, 300_000])  # inline / a file read whole / streamed in buffers
@pytest.mark.parametrize("where", ["header", "first-segment", "tag", "last-byte"])
def test_flipped_byte_is_a_500_not_data(private: Server, where: str, size: int) -> None:
    bucket, body, blob = _put_sealed(private, size)
    stored_size = len(blob.read())
    first_tag = 44 + min(size, 65536) + 3
    blob.flip({"header": 10, "first-segment": 100, "tag": first_tag, "last-byte": stored_size - 1}[where])
    status, content = _get(private, bucket)
    assert status == 500
    assert content is not None and b"InternalError" in content and body[:1000] not in content
    assert "integrity failure" in private.log()
    assert private.alive()


@pytest.mark.parametrize("size", [5_000, 70_000, 200_000])
def test_truncated_and_extended_files_are_detected(private: Server, size: int) -> None:
    bucket, body, blob = _put_sealed(private, size)
    original = blob.read()
    blob.write(original[:-16])
    assert _get(private, bucket)[0] == 500
    blob.write(original + b"\0" * 16)
    assert _get(private, bucket)[0] == 500
    blob.write(original)
    assert _get(private, bucket) == (200, body)


@pytest.mark.parametrize("size", [5_000, 70_000])  # inline, files
def test_swapped_blobs_between_objects_are_detected(private: Server, size: int) -> None:
    bucket_a, body_a, blob_a = _put_sealed(private, size)
    bucket_b, body_b, blob_b = _put_sealed(private, size)
    a, b = blob_a.read(), blob_b.read()
    blob_a.write(b)
    blob_b.write(a)
    assert _get(private, bucket_a)[0] == 500
    assert _get(private, bucket_b)[0] == 500


def test_tamper_late_in_large_object_aborts_mid_body(private: Server) -> None:
    bucket, body, blob = _put_sealed(private, 6 * 1024 * 1024)
    with open(blob.path, "r+b") as f:
        f.seek(5 * 1024 * 1024)
        byte = f.read(1)
        f.seek(5 * 1024 * 1024)
        f.write(bytes([byte[0] ^ 0xFF]))
    status, content = _get(private, bucket)
    # Either refused before the status line, or the connection dies: the full body is never delivered.
    assert content != body
    assert status in (-1, 500) or (content is not None and len(content) < len(body))
    # An untouched range still decrypts: range reads only authenticate the segments they touch.
    assert _get(private, bucket, rng="bytes=0-99") == (206, body[:100])
    assert private.alive()
