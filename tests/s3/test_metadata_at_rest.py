"""The metadata store does not undo the encryption (issue 13).

For SSE objects the ETag (MD5 of the plaintext), the CRC/SHA checksums, the user metadata and the
content headers are sealed under the object's data key: from the MD5 or CRC of a short object its
content can be found by brute force. The scan writes SSE objects of every kind (simple, every checksum
algorithm, multipart, an upload in progress, copies, a part copy), then searches every file of the
data directory — ``meta.sqlite3``, its ``-wal`` and ``-shm``, blob files — for each value in every form
(hex, raw bytes, base64): none is found, with the WAL as the server left it and after a checkpoint.
Everything a client asks for still gets the unsealed values.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import os
import shutil
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from sealbox.core.types import ObjectMetadata
from sealbox.crypto import envelope
from sealbox.crypto import metadata as fmt
from sealbox.crypto.keyring import load_keyring
from tests.faults.storage import scrub, sql
from sealbox.storage.meta.migrations import MIGRATIONS
from tests.support import Server, running_server, unique_bucket

PART = 5 * 1024 * 1024
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


# SQLite on every run: these tests read the bytes of meta.sqlite3 itself (PostgreSQL keeps no such file here).
@pytest.fixture
def private(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", workers=2, meta="sqlite") as srv:
        yield srv


def _marker(what: str) -> str:
    return f"{what}-{os.urandom(6).hex()}"


class Needles:
    """Values derived from plaintext (or chosen with it) that must not be found, by description."""

    def __init__(self) -> None:
        self.text: dict[str, bytes] = {}  # long enough to search blob files too
        self.raw: dict[str, bytes] = {}  # short raw digests: searched outside the ciphertext only

    def digest(self, what: str, raw: bytes) -> None:
        self.raw[f"{what} (raw)"] = raw
        self.text[f"{what} (hex)"] = raw.hex().encode()
        self.text[f"{what} (base64)"] = base64.b64encode(raw)

    def body(self, what: str, body: bytes) -> None:
        self.digest(f"MD5 of {what}", hashlib.md5(body).digest())
        self.digest(f"CRC32 of {what}", zlib.crc32(body).to_bytes(4, "big"))
        self.digest(f"CRC32C of {what}", crt.crc32c(body).to_bytes(4, "big"))
        self.digest(f"SHA-256 of {what}", hashlib.sha256(body).digest())

    def returned(self, what: str, response: dict[str, Any]) -> None:
        """The ETag and checksums the server answered with."""
        etag = response["ETag"].strip('"').split("-")[0]
        self.digest(f"ETag of {what}", bytes.fromhex(etag))
        for algorithm in ALGORITHMS:
            if f"Checksum{algorithm}" in response:
                self.digest(f"{algorithm} of {what}", base64.b64decode(response[f"Checksum{algorithm}"].split("-")[0]))

    def value(self, what: str, value: str) -> str:
        self.text[what] = value.encode()
        return value


def _found(data_dir: Path, needles: Needles) -> list[str]:
    hits = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # -shm/-wal removed by the last connection closing meanwhile
            continue
        ciphertext = "blobs" in path.relative_to(data_dir).parts
        hits += [f"{what} in {path.name}" for what, needle in needles.text.items() if needle in data]
        if not ciphertext:
            hits += [f"{what} in {path.name}" for what, needle in needles.raw.items() if needle in data]
    return hits


def _checkpoint(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / "meta.sqlite3")
    try:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        db.close()


def _write_everything(s3: Any, bucket: str, needles: Needles) -> None:
    sse = {"ServerSideEncryption": "AES256"}
    # Short bodies: the ones a brute force recovers from an MD5 or a CRC. One per checksum algorithm.
    for algorithm in ALGORITHMS:
        body = f"pin {os.urandom(2).hex()}".encode()
        needles.body(f"simple-{algorithm}", body)
        put = s3.put_object(Bucket=bucket, Key=f"simple-{algorithm}", Body=body, ChecksumAlgorithm=algorithm,
                            Metadata={"note": needles.value(f"metadata of simple-{algorithm}", _marker("note"))},
                            ContentType=needles.value("content type", f"text/{_marker('type')}"),
                            ContentDisposition=needles.value("disposition", f'attachment; filename="{_marker("f")}"'),
                            **sse)
        needles.returned(f"simple-{algorithm}", put)
    big = os.urandom(200_000)  # stored as a blob file, not inline
    needles.body("big", big)
    needles.returned("big", s3.put_object(Bucket=bucket, Key="big", Body=big, ChecksumAlgorithm="CRC32C",
                                          Metadata={"n": needles.value("metadata of big", _marker("big"))},
                                          Tagging=f"t={needles.value('tag of big', _marker('tag'))}", **sse))
    # Tags are user-chosen metadata too: set by PutObjectTagging as well as with the write.
    s3.put_object_tagging(Bucket=bucket, Key="simple-CRC32", Tagging={"TagSet": [
        {"Key": needles.value("tag key", _marker("tk")), "Value": needles.value("tag value", _marker("tv"))}]})
    # Multipart: one small part (its md5-of-md5 ETag is brute-forceable too), and two parts, composite SHA-256.
    for key, parts, algorithm in (("mp-one", [b"tiny part"], "CRC32"), ("mp-two", [os.urandom(PART), b"tail"], "SHA256")):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                            Metadata={"m": needles.value(f"metadata of {key}", _marker("mp"))},
                                            Tagging=f"t={needles.value(f'tag of {key}', _marker('mpt'))}", **sse)
        done = []
        for number, data in enumerate(parts, start=1):
            needles.body(f"{key} part {number}", data)
            out = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=data,
                                 ChecksumAlgorithm=algorithm)
            needles.returned(f"{key} part {number}", out)
            done.append({"PartNumber": number, "ETag": out["ETag"], f"Checksum{algorithm}": out[f"Checksum{algorithm}"]})
        result = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                              MultipartUpload={"Parts": done})
        needles.returned(key, result)
    # An upload still in progress: its metadata and parts (one uploaded, one copied from an SSE object).
    pending = s3.create_multipart_upload(Bucket=bucket, Key="pending", ChecksumAlgorithm="CRC32",
                                         Metadata={"p": needles.value("metadata of pending", _marker("pend"))},
                                         ContentType=needles.value("pending type", f"text/{_marker('pt')}"), **sse)
    data = b"pending part"
    needles.body("pending part 1", data)
    needles.returned("pending part 1", s3.upload_part(Bucket=bucket, Key="pending", UploadId=pending["UploadId"],
                                                      PartNumber=1, Body=data, ChecksumAlgorithm="CRC32"))
    copied_part = s3.upload_part_copy(Bucket=bucket, Key="pending", UploadId=pending["UploadId"], PartNumber=2,
                                      CopySource=f"{bucket}/simple-SHA256")["CopyPartResult"]
    needles.returned("pending part 2 (copied)", copied_part)
    # Copies: metadata copied, and replaced with a new checksum algorithm.
    needles.returned("copy", s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/simple-CRC32",
                                            **sse)["CopyObjectResult"])
    replaced = s3.copy_object(Bucket=bucket, Key="copy-replaced", CopySource=f"{bucket}/simple-CRC32C",
                              MetadataDirective="REPLACE", ChecksumAlgorithm="SHA256", TaggingDirective="REPLACE",
                              Tagging=f"t={needles.value('tag of copy-replaced', _marker('ct'))}",
                              Metadata={"r": needles.value("metadata of copy-replaced", _marker("rep"))}, **sse)
    needles.returned("copy-replaced", replaced["CopyObjectResult"])


def test_database_holds_no_value_derived_from_sse_plaintext(private: Server) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    needles = Needles()
    _write_everything(s3, bucket, needles)
    assert len(needles.text) > 100
    assert (private.data_dir / "meta.sqlite3-wal").stat().st_size > 0  # the WAL as the server left it
    assert _found(private.data_dir, needles) == []
    private.stop()
    _checkpoint(private.data_dir)  # the WAL's pages copied into the database file, the WAL emptied
    wal = private.data_dir / "meta.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert _found(private.data_dir, needles) == []
    # Sanity: the search finds what is there (object names stay in the clear, as on every S3 store).
    names = Needles()
    names.value("a key", "copy-replaced")
    assert _found(private.data_dir, names) == ["a key in meta.sqlite3"]


def test_plain_objects_keep_their_metadata_in_the_clear(private: Server) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    body = b"plain body"
    s3.put_object(Bucket=bucket, Key="plain", Body=body, Metadata={"colour": "plum"}, ChecksumAlgorithm="CRC32")
    needles = Needles()
    needles.text["md5"] = hashlib.md5(body).hexdigest().encode()
    needles.text["metadata"] = b"plum"
    private.stop()
    _checkpoint(private.data_dir)
    assert sorted(_found(private.data_dir, needles)) == ["md5 in meta.sqlite3", "metadata in meta.sqlite3"]


def test_sealed_values_answer_every_request(server: Server, s3: Any, bucket: str) -> None:
    """HEAD, GET, listings, ListParts and every ETag comparison see the values the client wrote."""
    body = b"short secret"
    md5 = f'"{hashlib.md5(body).hexdigest()}"'
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="AES256", ChecksumAlgorithm="SHA256",
                        Metadata={"colour": "plum"}, ContentType="text/x-plum", CacheControl="max-age=7")
    assert put["ETag"] == md5  # AWS: the MD5 of the plaintext for SSE-S3
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert (head["ETag"], head["Metadata"], head["ContentType"], head["CacheControl"]) == \
        (md5, {"colour": "plum"}, "text/x-plum", "max-age=7")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=md5)["Body"].read() == body
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=md5)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"], o.get("ChecksumAlgorithm")) for o in listed] == \
        [("k", md5, len(body), ["SHA256"])]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["ETag"]) for v in versions] == [("k", md5)]
    # Conditional PUT: If-Match is compared with the sealed ETag inside the write.
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"other", ServerSideEncryption="AES256", IfMatch='"0000"')
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"second", ServerSideEncryption="AES256", IfMatch=md5)
    assert second["ETag"] == f'"{hashlib.md5(b"second").hexdigest()}"'
    # Copy with x-amz-copy-source-if-match.
    with pytest.raises(ClientError):
        s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k", CopySourceIfMatch=md5)
    s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k", CopySourceIfMatch=second["ETag"],
                   ServerSideEncryption="AES256")
    assert s3.head_object(Bucket=bucket, Key="c")["ETag"] == second["ETag"]
    # Multipart: ListParts, the part ETag check of Complete, the composite ETag.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256",
                                        Metadata={"up": "loaded"}, ContentType="text/x-mp")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"part one")
    listed_parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload["UploadId"])["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed_parts] == [(1, part["ETag"], 8)]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5}]})
    assert exc.value.response["Error"]["Code"] == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    expected = hashlib.md5(hashlib.md5(b"part one").digest()).hexdigest() + "-1"
    assert done["ETag"] == f'"{expected}"'
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert (head["ETag"], head["Metadata"], head["ContentType"]) == (f'"{expected}"', {"up": "loaded"}, "text/x-mp")


# -- tampering ---------------------------------------------------------------------------------------------------


def test_tampered_or_swapped_sealed_metadata_is_never_served(private: Server) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), ServerSideEncryption="AES256")
    db = private.data_dir
    sql(db, "UPDATE versions SET sealed_meta = (SELECT sealed_meta FROM versions WHERE key='b') WHERE key='a'")
    conn = sqlite3.connect(db / "meta.sqlite3")
    try:
        (blob,) = conn.execute("SELECT sealed_meta FROM versions WHERE key='c'").fetchone()
    finally:
        conn.close()
    sql(db, "UPDATE versions SET sealed_meta=? WHERE key='c'", (blob[:20] + bytes([blob[20] ^ 1]) + blob[21:],))
    for key in ("a", "c"):
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key=key)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b"
    with pytest.raises(ClientError) as exc:  # a listing is not answered with values that did not authenticate
        s3.list_objects_v2(Bucket=bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "sealed metadata" in private.log()
    status, report = scrub(private.data_dir)
    assert status == 1
    assert sorted((p["kind"], p["key"]) for p in report["problems"]) == [("metadata", "a"), ("metadata", "c")]


# -- the migration of a data directory written before sealed metadata -------------------------------------------


def _unseal_to_old_format(data_dir: Path) -> None:
    """Turn a data directory into what the code before schema 4 wrote: every value in the clear columns,
    no sealed_meta column, schema version 3."""
    keyring = load_keyring(data_dir / "keys" / "master-keys.json")
    db = sqlite3.connect(data_dir / "meta.sqlite3", isolation_level=None)
    try:
        def fields(owner: tuple[str, str, bytes, str], kind: fmt.MetaKind, number: int, blob: bytes) -> ObjectMetadata:
            bucket, key, uid, sealed = owner
            context = envelope.object_context(bucket, key, uid)
            data_key = envelope.unseal(envelope.SealedKey.from_text(sealed), keyring, context)
            return fmt.open_metadata(data_key, blob, fmt.aad(kind, number, context))

        db.execute("BEGIN")
        for rid, bucket, key, uid, sealed, blob in db.execute(
                "SELECT id, bucket, key, object_uid, sealed_key, sealed_meta FROM versions"
                " WHERE sealed_meta IS NOT NULL").fetchall():
            f = fields((bucket, key, uid, sealed), fmt.MetaKind.VERSION, 0, blob)
            db.execute("UPDATE versions SET etag=?, checksums=?, user_meta=?, content_headers=?, sealed_meta=NULL"
                       " WHERE id=?", (f.etag, json.dumps(f.checksums), json.dumps(f.user_meta),
                                       json.dumps(f.content_headers), rid))
        for upload_id, bucket, key, uid, sealed, blob in db.execute(
                "SELECT upload_id, bucket, key, object_uid, sealed_key, sealed_meta FROM uploads"
                " WHERE sealed_meta IS NOT NULL").fetchall():
            f = fields((bucket, key, uid, sealed), fmt.MetaKind.UPLOAD, 0, blob)
            db.execute("UPDATE uploads SET user_meta=?, content_headers=?, sealed_meta=NULL WHERE upload_id=?",
                       (json.dumps(f.user_meta), json.dumps(f.content_headers), upload_id))
        for upload_id, number, bucket, key, uid, sealed, blob in db.execute(
                "SELECT p.upload_id, p.part_number, u.bucket, u.key, u.object_uid, u.sealed_key, p.sealed_meta"
                " FROM parts p JOIN uploads u USING (upload_id) WHERE p.sealed_meta IS NOT NULL").fetchall():
            f = fields((bucket, key, uid, sealed), fmt.MetaKind.PART, number, blob)
            db.execute("UPDATE parts SET etag=?, checksums=?, sealed_meta=NULL WHERE upload_id=? AND part_number=?",
                       (f.etag, json.dumps(f.checksums), upload_id, number))
        # Undo migration 4 and every later one, newest first, so that the start re-applies them all:
        # their statements are plain ADD COLUMN / CREATE TABLE / CREATE INDEX, reversed one by one.
        for migration in reversed(MIGRATIONS[3:]):
            for statement in reversed(migration):
                undo = _undo(statement)
                if undo:
                    db.execute(undo)
        db.execute("UPDATE schema_meta SET v=3 WHERE k='version'")
        db.execute("COMMIT")
        db.execute("VACUUM")  # a clean old-format file: no sealed blobs left in free pages either
    finally:
        db.close()


def _undo(statement: str) -> str | None:
    """The statement that reverses one schema statement of a migration (None: nothing to undo)."""
    text = " ".join(statement.split())
    if m := re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", text):
        return f"ALTER TABLE {m[1]} DROP COLUMN {m[2]}"
    if m := re.match(r"CREATE TABLE (\w+)", text):
        return f"DROP TABLE {m[1]}"
    if m := re.match(r"CREATE INDEX (\w+)", text):
        return f"DROP INDEX {m[1]}"
    if text.startswith("INSERT INTO "):
        return None  # rows of a table the migration creates: dropping the table undoes them
    raise AssertionError(f"the old-format helper cannot undo: {text[:80]}")


def test_migration_seals_an_old_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    needles = Needles()
    with running_server(data_dir, workers=1, meta="sqlite") as srv:
        s3: Any = srv.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        _write_everything(s3, bucket, needles)
        s3.put_object(Bucket=bucket, Key="plain", Body=b"plain", Metadata={"open": "as-ever"})
        before = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        heads = {k: s3.head_object(Bucket=bucket, Key=k, ChecksumMode="ENABLED") for k in before}
    _unseal_to_old_format(data_dir)
    old = _found(data_dir, needles)
    # The old format leaks (what the review found): ETags, checksums, metadata, parts, uploads.
    assert all(hit.endswith(" in meta.sqlite3") for hit in old)
    for leak in ("MD5 of simple-CRC32 (hex)", "CRC32C of simple-CRC32C (base64)", "metadata of simple-SHA1",
                 "SHA256 of simple-SHA256 (base64)", "ETag of mp-one (hex)", "MD5 of pending part 1 (hex)",
                 "metadata of pending", "CRC64NVME of simple-CRC64NVME (base64)"):
        assert f"{leak} in meta.sqlite3" in old, (leak, old)
    shutil.copytree(data_dir, tmp_path / "old-copy")

    with running_server(data_dir, workers=2, meta="sqlite") as srv:
        assert "sealed the ETags, checksums and metadata of encrypted objects" in srv.log()
        s3 = srv.client()
        assert {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == before
        for key, head in heads.items():
            again = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            for name in ("ETag", "Metadata", "ContentType", "ContentDisposition", "ChecksumCRC32", "ChecksumCRC32C",
                         "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"):
                assert again.get(name) == head.get(name), (key, name)
        (upload,) = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
        parts = s3.list_parts(Bucket=bucket, Key="pending", UploadId=upload["UploadId"])["Parts"]
        assert [p["PartNumber"] for p in parts] == [1, 2]
        # Complete checks each part's (migrated) ETag and checksum; part 1 is too small to come first.
        s3.complete_multipart_upload(Bucket=bucket, Key="pending", UploadId=upload["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": parts[1]["ETag"], "ChecksumCRC32": parts[1]["ChecksumCRC32"]}]})
        assert s3.head_object(Bucket=bucket, Key="pending")["Metadata"] == {"p": needles.text["metadata of pending"]
                                                                            .decode()}
        # Nothing left in the database file, its free pages or the WAL, while the server runs...
        assert _found(data_dir, needles) == []
    assert _found(data_dir, needles) == []  # ...and after it stopped
    # A second start has nothing left to seal.
    with running_server(data_dir, workers=1, meta="sqlite") as srv:
        assert "sealed the ETags" not in srv.log()
    status, report = scrub(data_dir)
    assert status == 0, report


def test_interrupted_migration_resumes(tmp_path: Path) -> None:
    """Each batch is its own transaction: a start killed half way leaves a store that reads correctly
    (rows still in the clear are read as before) and the next start seals the rest."""
    from sealbox.service.metadata import MetadataSealer, seal_existing
    from sealbox.service.sealing import Sealer
    from sealbox.storage.meta.sqlite import SqliteMetaStore

    data_dir = tmp_path / "data"
    needles = Needles()
    with running_server(data_dir, workers=1, meta="sqlite") as srv:
        s3: Any = srv.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        for i in range(7):
            body = f"body {i}".encode()
            needles.body(f"obj{i}", body)
            s3.put_object(Bucket=bucket, Key=f"obj{i}", Body=body, ServerSideEncryption="AES256",
                          Metadata={"i": needles.value(f"meta {i}", _marker("i"))})
    _unseal_to_old_format(data_dir)
    cipher = MetadataSealer(Sealer(load_keyring(data_dir / "keys" / "master-keys.json")))
    meta = SqliteMetaStore(data_dir / "meta.sqlite3", metadata=cipher)

    class Killed(Exception):
        pass

    def die_after_two(kind: str, done: int) -> None:
        raise Killed

    try:
        with pytest.raises(Killed):
            seal_existing(meta, cipher, batch=2, on_batch=die_after_two)
        conn = sqlite3.connect(data_dir / "meta.sqlite3")
        try:
            counts = conn.execute("SELECT COUNT(*) FILTER (WHERE sealed_meta IS NOT NULL), COUNT(*)"
                                  " FROM versions").fetchone()
        finally:
            conn.close()
        assert counts == (2, 7)
        # Half sealed, half clear: both read back right.
        assert [v.user_meta["i"] for v in meta.list_objects(bucket, "", "", "", 10).entries] == \
            [needles.text[f"meta {i}"].decode() for i in range(7)]
        assert seal_existing(meta, cipher, batch=2).sealed["version"] == 5
        assert seal_existing(meta, cipher, batch=2).total == 0  # idempotent
    finally:
        meta.close()
    assert _found(data_dir, needles) == []
