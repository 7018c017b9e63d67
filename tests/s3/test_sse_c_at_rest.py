"""SSE-C at rest: no plaintext and no customer key (raw, base64, hex) in the data directory or the logs; the
server cannot decrypt without the key; tampering is caught; `sealbox scrub` says what it can verify."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.faults.storage import kinds, scrub
from tests.meta_support import meta_sql
from tests.s3.test_sse_c import error, sse_c
from tests.support import Server, running_server, unique_bucket

CUSTOMER_KEY = os.urandom(32)
MARKER = b"SSE-C-PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
MiB = 1024 * 1024


def key_forms(key: bytes) -> list[bytes]:
    b64 = base64.b64encode(key)
    return [key, b64, base64.urlsafe_b64encode(key), key.hex().encode(), key.hex().upper().encode(), b64[:24]]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ssec-rest")
    with running_server(root / "data", "--allow-sse-c-over-http", "--log-level", "debug", "--access-log",
                        str(root / "access.log"), workers=2) as server:
        server.extra["access_log"] = root / "access.log"
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def s3(srv: Server) -> Any:
    return srv.client()


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def test_no_plaintext_and_no_key_in_the_data_directory_or_the_logs(srv: Server, s3: Any) -> None:
    name = unique_bucket("rest")
    s3.create_bucket(Bucket=name)
    small, large = MARKER * 10, MARKER * (6 * MiB // len(MARKER))
    s3.put_object(Bucket=name, Key="small", Body=small, Metadata={"note": MARKER.decode()}, **sse_c(CUSTOMER_KEY))
    s3.put_object(Bucket=name, Key="large", Body=large, **sse_c(CUSTOMER_KEY))
    uid = s3.create_multipart_upload(Bucket=name, Key="mp", **sse_c(CUSTOMER_KEY))["UploadId"]
    part = s3.upload_part(Bucket=name, Key="mp", UploadId=uid, PartNumber=1, Body=large, **sse_c(CUSTOMER_KEY))
    s3.complete_multipart_upload(Bucket=name, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "small"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=CUSTOMER_KEY,
                   **sse_c(CUSTOMER_KEY))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "small", **sse_c(CUSTOMER_KEY)})
    import requests

    assert requests.get(url, timeout=30).content == small  # the key in a URL's query: not logged either
    with pytest.raises(ClientError):  # errors are logged too
        s3.get_object(Bucket=name, Key="small", **sse_c(os.urandom(32)))
    assert s3.get_object(Bucket=name, Key="small", **sse_c(CUSTOMER_KEY))["Body"].read() == small
    # Commit the WAL into the database file too, so both are scanned as they would be on disk.
    meta_sql(srv.data_dir, "PRAGMA wal_checkpoint(PASSIVE)")
    secrets_ = [MARKER, *key_forms(CUSTOMER_KEY)]
    scanned = 0
    access_log = Path(str(srv.extra["access_log"]))
    for path in [*_files(srv.data_dir), srv.log_path, access_log]:
        content = path.read_bytes()
        scanned += len(content)
        for secret in secrets_:
            assert secret not in content, f"{secret[:12]!r} found in {path}"
    assert scanned > 12 * MiB  # the objects' ciphertext was there to scan
    assert b"GetObject" in access_log.read_bytes()  # the access log did log the requests


def test_without_the_key_the_stored_data_does_not_open(srv: Server, s3: Any) -> None:
    """The stored record holds a salt and a check value: the master keys and the share alone give no data key."""
    name = unique_bucket("rest")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x", **sse_c(CUSTOMER_KEY))
    ((sse, sealed),) = meta_sql(srv.data_dir, "SELECT sse, sealed_key FROM versions WHERE bucket=? AND key='k'",
                                (name,))
    share = meta_sql(srv.data_dir, "SELECT sealed FROM sse_c_shares")
    assert sse == "SSE-C" and sealed.startswith("ssec1:") and len(share) == 1
    assert share[0][0].startswith("v1:")  # the server share is sealed under the master keyring
    raw = base64.b64decode(sealed[len("ssec1:"):])
    assert raw[0] == 1 and len(raw) == 2 + raw[1] + 16 + 32  # version, share ref, salt, check: no key


def test_tampered_ciphertext_or_record_is_refused(srv: Server, s3: Any) -> None:
    name = unique_bucket("rest")
    s3.create_bucket(Bucket=name)
    body = os.urandom(3 * MiB)
    s3.put_object(Bucket=name, Key="big", Body=body, **sse_c(CUSTOMER_KEY))
    s3.put_object(Bucket=name, Key="rec", Body=b"r", **sse_c(CUSTOMER_KEY))
    ((extents,),) = meta_sql(srv.data_dir, "SELECT extents FROM versions WHERE bucket=? AND key='big'", (name,))
    import json

    blob_id = json.loads(extents)[0][0] if isinstance(json.loads(extents)[0], list) else json.loads(extents)[0]["b"]
    path = next(p for p in _files(srv.data_dir / "blobs") if blob_id in p.name)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    got = s3.get_object(Bucket=name, Key="big", **sse_c(CUSTOMER_KEY))
    with pytest.raises(Exception):  # noqa: B017 - the stream is cut before the tampered segment is sent
        assert got["Body"].read() == body
    # A check value flipped in the record: the right key no longer matches (403), nothing is returned.
    ((sealed,),) = meta_sql(srv.data_dir, "SELECT sealed_key FROM versions WHERE bucket=? AND key='rec'", (name,))
    raw = bytearray(base64.b64decode(sealed[6:]))
    raw[-1] ^= 1
    meta_sql(srv.data_dir, "UPDATE versions SET sealed_key=? WHERE bucket=? AND key='rec'",
             ("ssec1:" + base64.b64encode(bytes(raw)).decode(), name))
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=name, Key="rec", **sse_c(CUSTOMER_KEY))
    assert error(exc)[:2] == (403, "AccessDenied")
    # scrub cannot read SSE-C data without the key: it does not claim to have found (or cleared) the tampering
    _, report = scrub(srv.data_dir)
    assert "auth-failed" not in kinds(report) and report["sse_c_unverified"] >= 2


def test_scrub_reports_what_it_can_verify(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--allow-sse-c-over-http") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="small", Body=b"abc", **sse_c(CUSTOMER_KEY))
        s3.put_object(Bucket="bkt", Key="big", Body=os.urandom(2 * MiB), **sse_c(CUSTOMER_KEY))
        s3.put_object(Bucket="bkt", Key="plain", Body=b"p", ServerSideEncryption="AES256")
        status, report = scrub(server.data_dir)
        assert status == 0 and report["ok"], report
        assert report["sse_c_unverified"] == 2
        blob = next(p for p in _files(server.data_dir / "blobs"))
        blob.write_bytes(blob.read_bytes()[:-1])  # a truncated file is seen without the key
        status, report = scrub(server.data_dir)
        assert status != 0 and kinds(report) == ["size-mismatch"], report
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket="bkt", Key="small")
        assert error(exc)[:2] == (400, "InvalidRequest")


def test_master_key_rotation_reseals_the_share_and_objects_stay_readable(tmp_path: Path) -> None:
    from tests.faults.storage import sealbox

    data_dir = tmp_path / "data"
    with running_server(data_dir, "--allow-sse-c-over-http") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="rot")
        s3.put_object(Bucket="rot", Key="k", Body=b"before rotation", **sse_c(CUSTOMER_KEY))
        ((before,),) = meta_sql(data_dir, "SELECT sealed FROM sse_c_shares")
        old_key = before.split(":")[1]
        done = sealbox("keys", "rotate", "--data-dir", str(data_dir))
        assert done.returncode == 0, done.stderr
        ((after,),) = meta_sql(data_dir, "SELECT sealed FROM sse_c_shares")
        assert after.split(":")[1] != old_key  # re-sealed under the new active master key
        assert s3.get_object(Bucket="rot", Key="k", **sse_c(CUSTOMER_KEY))["Body"].read() == b"before rotation"
        s3.put_object(Bucket="rot", Key="new", Body=b"after rotation", **sse_c(CUSTOMER_KEY))
    done = sealbox("keys", "remove", old_key, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    with running_server(data_dir, "--allow-sse-c-over-http") as server:
        s3 = server.client()
        assert s3.get_object(Bucket="rot", Key="k", **sse_c(CUSTOMER_KEY))["Body"].read() == b"before rotation"
        assert s3.get_object(Bucket="rot", Key="new", **sse_c(CUSTOMER_KEY))["Body"].read() == b"after rotation"
