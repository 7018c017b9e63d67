"""``sealbox scrub``: every kind of damage to stored data is found, located and makes it exit non-zero."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sealbox.crypto import stream as aead
from sealbox.crypto.keyring import Keyring, generate_master_key, keyring_to_env
from sealbox.service.scrub import Throttle
from tests.faults.storage import (
    HOUR,
    age,
    blob_path,
    extent_path,
    flip_byte,
    kinds,
    reseal_metadata,
    scrub,
    sealbox,
    sql,
    stored,
    version_of,
)
from tests.meta_support import meta_sql
from tests.support import Server, running_server, start_server, sse_args

BUCKET = "scrubbed"
VERSIONED = "scrubbed-versions"
BIG = secrets.token_bytes(300_000)  # several 64 KiB segments


@dataclass
class Store:
    data_dir: Path
    bodies: dict[str, bytes]


def _fill(server: Server) -> dict[str, bytes]:
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    bodies = {"plain.txt": b"plain text", "sealed.bin": BIG, "empty-sealed": b"", "plain-big": BIG[:200_000],
              "crc.bin": b"checksummed" * 100}
    s3.put_object(Bucket=BUCKET, Key="plain.txt", Body=bodies["plain.txt"])
    s3.put_object(Bucket=BUCKET, Key="sealed.bin", Body=BIG, ServerSideEncryption="AES256")
    s3.put_object(Bucket=BUCKET, Key="empty-sealed", Body=b"", ServerSideEncryption="AES256")
    s3.put_object(Bucket=BUCKET, Key="plain-big", Body=bodies["plain-big"])
    s3.put_object(Bucket=BUCKET, Key="crc.bin", Body=bodies["crc.bin"], ServerSideEncryption="AES256",
                  ChecksumAlgorithm="CRC32C")
    s3.create_bucket(Bucket=VERSIONED)
    s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=VERSIONED, Key="k", Body=b"one", ServerSideEncryption="AES256")
    s3.put_object(Bucket=VERSIONED, Key="k", Body=b"two")
    s3.delete_object(Bucket=VERSIONED, Key="k")
    return bodies


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    """A data directory with plain, SSE, empty, checksummed and versioned objects; server stopped."""
    with running_server(data_dir) as server:
        bodies = _fill(server)
    yield Store(data_dir, bodies)


def _only(report: dict[str, object], kind: str, key: str, *also: str) -> dict[str, str]:
    problems = report["problems"]
    assert isinstance(problems, list)
    assert [p["kind"] for p in problems] == [kind, *also], problems
    problem = problems[0]
    assert problem["bucket"] == BUCKET and problem["key"] == key, problem
    assert problem["version_id"] == "null"
    return problem


def test_scrub_clean_store_exits_zero_and_counts_everything(store: Store) -> None:
    status, report = scrub(store.data_dir, "--grace", "0")
    assert status == 0, report
    assert report["problems"] == []
    assert report["versions"] == 8 and report["delete_markers"] == 1
    assert report["extents"] == 7
    assert report["bytes_verified"] == sum(map(len, store.bodies.values())) + len(b"one") + len(b"two")
    assert report["blob_files"] == 2  # sealed.bin and plain-big; the small bodies are inline
    assert [stored(store.data_dir, BUCKET, key).extent.inline for key in store.bodies] == [
        True, False, True, False, True]


def test_scrub_text_output_has_summary(store: Store) -> None:
    done = sealbox("scrub", "--data-dir", str(store.data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "problems: 0" in done.stdout and "8 versions" in done.stdout


def test_scrub_finds_flipped_bit_in_encrypted_segment(store: Store) -> None:
    path = extent_path(store.data_dir, BUCKET, "sealed.bin")
    flip_byte(path, aead.HEADER_SIZE + 3 * (aead.SEGMENT_SIZE + aead.TAG_SIZE) + 10)  # inside segment 3
    status, report = scrub(store.data_dir)
    assert status == 1
    problem = _only(report, "auth-failed", "sealed.bin")
    assert "segment 3" in problem["detail"]


def test_scrub_finds_tampered_empty_encrypted_extent(store: Store) -> None:
    stored(store.data_dir, BUCKET, "empty-sealed").flip(aead.HEADER_SIZE + 2)  # the lone tag (inline)
    status, report = scrub(store.data_dir)
    assert status == 1
    _only(report, "auth-failed", "empty-sealed")


def test_scrub_finds_tampered_extent_header(store: Store) -> None:
    flip_byte(extent_path(store.data_dir, BUCKET, "sealed.bin"), 10)  # inside the object uid
    status, report = scrub(store.data_dir)
    assert status == 1
    assert "header" in _only(report, "auth-failed", "sealed.bin")["detail"]


def test_scrub_finds_changed_plaintext_by_its_etag(store: Store) -> None:
    flip_byte(extent_path(store.data_dir, BUCKET, "plain-big"), 150_000)
    status, report = scrub(store.data_dir)
    assert status == 1
    # boto3 sends a CRC32 by default, so the stored checksum disagrees too.
    _only(report, "etag-mismatch", "plain-big", "checksum-mismatch")


@pytest.mark.parametrize("key", ["sealed.bin", "plain.txt", "crc.bin"])  # a file; inline plain and sealed
def test_scrub_finds_truncated_extent(store: Store, key: str) -> None:
    extent = stored(store.data_dir, BUCKET, key)
    extent.write(extent.read()[:-1])
    status, report = scrub(store.data_dir)
    assert status == 1
    _only(report, "size-mismatch", key)


def test_scrub_finds_extended_extent(store: Store) -> None:
    with open(extent_path(store.data_dir, BUCKET, "sealed.bin"), "ab") as f:
        f.write(b"\0" * 16)
    status, report = scrub(store.data_dir)
    assert status == 1
    _only(report, "size-mismatch", "sealed.bin")


@pytest.mark.parametrize("key", ["plain.txt", "plain-big"])  # inline, file
def test_scrub_finds_metadata_row_without_data(store: Store, key: str) -> None:
    extent = stored(store.data_dir, BUCKET, key)
    extent.remove()
    status, report = scrub(store.data_dir)
    assert status == 1
    assert extent.extent.blob_id in _only(report, "missing-data", key)["detail"]


def test_scrub_finds_missing_data_of_encrypted_object_in_versioned_bucket(store: Store) -> None:
    versions = [v for v in _versions(store.data_dir, VERSIONED) if not v[1]]
    sealed_vid = versions[0][0]
    stored(store.data_dir, VERSIONED, "k", sealed_vid).remove()
    status, report = scrub(store.data_dir)
    assert status == 1
    assert [(p["kind"], p["bucket"], p["key"], p["version_id"]) for p in report["problems"]] == [
        ("missing-data", VERSIONED, "k", sealed_vid)]


def _versions(data_dir: Path, bucket: str) -> list[tuple[str, bool]]:
    return [(r[0], bool(r[1])) for r in meta_sql(
        data_dir, "SELECT version_id, is_delete_marker FROM versions WHERE bucket=? ORDER BY id", (bucket,))]


def test_scrub_finds_wrong_checksum_in_metadata(store: Store) -> None:
    wrong = base64.b64encode(b"\0\0\0\0").decode()
    reseal_metadata(store.data_dir, BUCKET, "crc.bin", checksums={"CRC32C": wrong})  # sealed, as SSE metadata is
    status, report = scrub(store.data_dir)
    assert status == 1
    assert "CRC32C" in _only(report, "checksum-mismatch", "crc.bin")["detail"]


def test_scrub_finds_wrong_etag_in_metadata(store: Store) -> None:
    reseal_metadata(store.data_dir, BUCKET, "sealed.bin", etag="0" * 32)
    sql(store.data_dir, "UPDATE versions SET etag=? WHERE key='plain.txt'", ("0" * 32,))  # clear, as plain metadata is
    status, report = scrub(store.data_dir)
    assert status == 1
    assert sorted((p["kind"], p["key"]) for p in report["problems"]) == [("etag-mismatch", "plain.txt"),
                                                                          ("etag-mismatch", "sealed.bin")]


def test_scrub_finds_sealed_metadata_that_does_not_open(store: Store) -> None:
    """Tampered, or copied from another object: reported, and the data itself is still verified."""
    sql(store.data_dir, "UPDATE versions SET sealed_meta=(SELECT sealed_meta FROM versions WHERE key='crc.bin')"
        " WHERE key='sealed.bin'")
    status, report = scrub(store.data_dir)
    assert status == 1
    problem = _only(report, "metadata", "sealed.bin")
    assert "does not open" in problem["detail"]
    assert report["bytes_verified"] == sum(map(len, store.bodies.values())) + len(b"one") + len(b"two")


def test_scrub_finds_sealed_key_swapped_between_objects(store: Store) -> None:
    """A data key copied onto another row must not open: it is bound to bucket, key and uid."""
    donor = version_of(store.data_dir, BUCKET, "crc.bin").sealed_key
    sql(store.data_dir, "UPDATE versions SET sealed_key=? WHERE key='sealed.bin'", (donor,))
    status, report = scrub(store.data_dir)
    assert status == 1
    _only(report, "data-key", "sealed.bin")


def test_scrub_with_wrong_master_keys_reports_every_encrypted_version(store: Store) -> None:
    other = generate_master_key()
    status, report = scrub(store.data_dir, env={"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([other], other.key_id))})
    assert status == 1
    problems = report["problems"]
    assert {p["kind"] for p in problems} == {"data-key"}
    assert sorted(p["key"] for p in problems) == ["crc.bin", "empty-sealed", "k", "sealed.bin"]
    # The message names the master key the data needs (ids are not secret).
    needed = version_of(store.data_dir, BUCKET, "sealed.bin").sealed_key
    assert needed is not None and needed.split(":")[1] in problems[0]["detail"]


def test_scrub_orphans_and_stale_temp_files_respect_the_grace_period(store: Store) -> None:
    source = extent_path(store.data_dir, BUCKET, "plain-big")
    orphan = blob_path(store.data_dir, secrets.token_hex(16))
    shutil.copy(source, orphan)
    temp = store.data_dir / "tmp" / secrets.token_hex(16)
    temp.write_bytes(b"half an upload")
    status, report = scrub(store.data_dir)  # default grace: both could be writes in flight
    assert status == 0 and report["in_flight"] == 2, report
    age(orphan, 2 * HOUR)
    age(temp, 2 * HOUR)
    status, report = scrub(store.data_dir)
    assert status == 1
    assert kinds(report) == ["orphan-blob", "stale-temp"]
    assert {p["path"] for p in report["problems"]} == {str(orphan), str(temp)}


def test_scrub_without_data_dir_exits_2(tmp_path: Path) -> None:
    done = sealbox("scrub", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2
    assert "not a sealbox data directory" in done.stderr
    assert not (tmp_path / "nothing").exists()  # scrub never creates a data directory


def test_scrub_interval_runs_repeatedly(store: Store) -> None:
    done = sealbox("scrub", "--data-dir", str(store.data_dir), "--interval", "0.01", "--runs", "3")
    assert done.returncode == 0
    assert done.stdout.count("problems: 0") == 3


def test_scrub_rate_limit_is_accepted(store: Store) -> None:
    status, report = scrub(store.data_dir, "--rate", "100")
    assert status == 0 and report["bytes_verified"] > 0


def test_throttle_sleeps_to_hold_the_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(1000.0, clock=lambda: now[0], sleep=sleep)
    throttle.consume(500)  # 0.5 s worth at once: must wait that long
    assert slept == [0.5]
    now[0] += 2.0  # time passed without reads: credit, no sleep
    throttle.consume(1000)
    assert slept == [0.5]
    Throttle(None, clock=lambda: 0.0, sleep=sleep).consume(10**9)
    assert slept == [0.5]


def test_scrub_while_server_serves_concurrent_overwrites_and_deletes(data_dir: Path) -> None:
    """Safe while the server runs: rows changing under the scrub are not reported as damage."""
    server = start_server(data_dir, workers=2)
    try:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        stop = threading.Event()
        errors: list[BaseException] = []

        def churn(worker: int) -> None:
            n = 0
            try:
                while not stop.is_set() and n < 2000:
                    key = f"k{(n * 7 + worker) % 20}"
                    if n % 3 == 2:
                        s3.delete_object(Bucket=BUCKET, Key=key)
                    else:
                        s3.put_object(Bucket=BUCKET, Key=key, Body=secrets.token_bytes(70_000 + n),
                                      **sse_args(n % 2 == 1))
                    n += 1
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        try:
            for _ in range(5):
                status, report = scrub(data_dir)
                assert status == 0, report
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not errors, errors
    finally:
        server.stop()


def test_scrub_checks_parts_of_unfinished_uploads_and_multipart_etags(data_dir: Path) -> None:
    part = secrets.token_bytes(5 * 1024 * 1024)
    with running_server(data_dir) as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket=BUCKET)
        done = s3.create_multipart_upload(Bucket=BUCKET, Key="done", ServerSideEncryption="AES256")["UploadId"]
        parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=BUCKET, Key="done", UploadId=done, PartNumber=n,
                                                          Body=body)["ETag"]}
                 for n, body in ((1, part), (2, b"tail"))]
        s3.complete_multipart_upload(Bucket=BUCKET, Key="done", UploadId=done, MultipartUpload={"Parts": parts})
        pending = {}
        for key in ("open-a", "open-b"):
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"pending part")
            pending[key] = upload
    status, report = scrub(data_dir)
    assert status == 0 and report["parts"] == 2, report  # the multipart ETag (md5 of part md5s) checks out
    part_files = _part_files(data_dir)
    part_files[pending["open-a"]].unlink()
    os.truncate(part_files[pending["open-b"]], 3)
    status, report = scrub(data_dir)
    assert status == 1
    found = sorted((p["kind"], p["key"], p["upload_id"]) for p in report["problems"])
    assert found == [("missing-data", "open-a", pending["open-a"]), ("size-mismatch", "open-b", pending["open-b"])]


def _part_files(data_dir: Path) -> dict[str, Path]:
    rows = meta_sql(data_dir, "SELECT upload_id, blob_id FROM parts")
    return {upload_id: blob_path(data_dir, blob_id) for upload_id, blob_id in rows}
