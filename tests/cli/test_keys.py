"""``sealbox keys status|rotate|remove`` and the master-key checks at start.

Rotation runs against the data directory of a running server: objects written before stay readable,
the counts move to the new key, the old key can then be removed, and a restart still reads everything.
An interrupted rotation (SIGKILL) resumes. A key file with loose permissions, a missing key id and a
wrong key under the right id all stop the server from starting, with a message naming the key.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealbox.crypto import envelope
from sealbox.crypto.errors import IntegrityError, MissingMasterKey
from sealbox.crypto.keyring import Keyring, MasterKey, generate_master_key, keyring_to_env, load_keyring
from tests.support import ACCESS_KEY, SEALBOX, SECRET_KEY, Server, free_port, running_server, unique_bucket

POLL = 0.05
POLLS = 600  # bound on every wait (30 s)


def sealbox(*args: str, data_dir: Path, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "SEALBOX_MASTER_KEYS"}
    done = subprocess.run([str(SEALBOX), *args, "--data-dir", str(data_dir)], capture_output=True, text=True,
                          check=False, timeout=120, env={**full_env, **(env or {})})
    if check:
        assert done.returncode == 0, done.stderr
    return done


def status(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    out = sealbox("keys", "status", "--json", data_dir=data_dir, env=env)
    return {k["id"]: k for k in json.loads(out.stdout)["keys"]}


def active(keys: dict[str, dict[str, Any]]) -> str:
    [key_id] = [k for k, v in keys.items() if v["active"]]
    return key_id


def key_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "master-keys.json"


def serve_once(data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``sealbox serve`` expecting it to refuse to start (bounded by a timeout)."""
    full_env = {**os.environ, "SEALBOX_ACCESS_KEY": ACCESS_KEY, "SEALBOX_SECRET_KEY": SECRET_KEY,
                **(env or {})}
    return subprocess.run([str(SEALBOX), "serve", "--data-dir", str(data_dir), "--port", str(free_port()),
                           "--workers", "1", "--no-console"], capture_output=True, text=True, timeout=60,
                          check=False, env=full_env)


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", workers=2) as srv:
        yield srv


def fill(s3: Any, bucket: str, count: int, prefix: str = "obj") -> dict[str, bytes]:
    written = {}
    for i in range(count):
        body = os.urandom(100 + i)
        s3.put_object(Bucket=bucket, Key=f"{prefix}-{i:03d}", Body=body, ServerSideEncryption="AES256")
        written[f"{prefix}-{i:03d}"] = body
    return written


def read_all(s3: Any, bucket: str, written: dict[str, bytes]) -> None:
    for key, body in written.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key


# -- rotation while serving ----------------------------------------------------------------------------


def test_rotate_while_serving_then_remove_old_key_and_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir, workers=2) as srv:
        s3 = srv.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        written = fill(s3, bucket, 12)
        s3.put_object(Bucket=bucket, Key="plain", Body=b"not encrypted")
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
        part1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                               Body=b"a" * (5 * 1024 * 1024))
        before = status(data_dir)
        old = active(before)
        assert len(before) == 1
        assert (before[old]["objects"], before[old]["uploads"], before[old]["credentials"]) == (12, 1, 1)

        out = sealbox("keys", "rotate", data_dir=data_dir)
        assert "created active master key" in out.stdout
        after = status(data_dir)
        new = active(after)
        assert new != old and set(after) == {old, new}
        assert (after[old]["objects"], after[old]["uploads"], after[old]["credentials"]) == (0, 0, 0)
        assert (after[new]["objects"], after[new]["uploads"], after[new]["credentials"]) == (12, 1, 1)

        # The server kept serving and reads everything, in both workers (several requests each).
        for _ in range(2):
            read_all(s3, bucket, written)
        assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"not encrypted"
        # New writes are sealed under the new key at once: the workers picked up the new key file.
        written.update(fill(s3, bucket, 3, prefix="later"))
        assert (status(data_dir)[new]["objects"], status(data_dir)[old]["objects"]) == (15, 0)
        part2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=2,
                               Body=b"b" * 10)

        removed = sealbox("keys", "remove", old, data_dir=data_dir)
        assert old in removed.stdout
        assert set(status(data_dir)) == {new}
        assert set(load_keyring(key_file(data_dir)).ids()) == {new}
        read_all(s3, bucket, written)
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}, {"PartNumber": 2, "ETag": part2["ETag"]}]})

    with running_server(data_dir, workers=1) as again:  # the restart still reads everything
        s3 = again.client()
        read_all(s3, bucket, written)
        assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * (5 * 1024 * 1024) + b"b" * 10


def test_remove_refused_while_a_key_is_in_use(private: Server) -> None:
    s3 = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, 2)
    only = active(status(private.data_dir))
    refused = sealbox("keys", "remove", only, data_dir=private.data_dir, check=False)
    assert refused.returncode == 1 and "active" in refused.stderr
    # A second key that still seals data cannot go either: make one by hand, seal under it, then check.
    keyring = load_keyring(key_file(private.data_dir))
    extra = generate_master_key()
    from sealbox.crypto.keyring import save_keyring

    save_keyring(key_file(private.data_dir), keyring.with_key(extra, make_active=True))
    s3.put_object(Bucket=bucket, Key="under-extra", Body=b"x", ServerSideEncryption="AES256")
    save_keyring(key_file(private.data_dir), load_keyring(key_file(private.data_dir)).with_key(
        generate_master_key(), make_active=True))
    refused = sealbox("keys", "remove", extra.key_id, data_dir=private.data_dir, check=False)
    assert refused.returncode == 1 and "still seals 1 stored value" in refused.stderr
    assert extra.key_id in load_keyring(key_file(private.data_dir))
    assert s3.get_object(Bucket=bucket, Key="under-extra")["Body"].read() == b"x"


def test_interrupted_rotation_resumes(private: Server) -> None:
    s3 = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    written = fill(s3, bucket, 40)
    old = active(status(private.data_dir))
    proc = subprocess.Popen([str(SEALBOX), "keys", "rotate", "--data-dir", str(private.data_dir),
                             "--batch", "2", "--pause", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    db = sqlite3.connect(private.data_dir / "meta.sqlite3")
    try:
        for _ in range(POLLS):  # wait until the rotation is under way, then kill it mid-flight
            under_old = db.execute("SELECT COUNT(*) FROM versions WHERE sealed_key LIKE ?",
                                   (f"v1:{old}:%",)).fetchone()
            if 0 < under_old[0] < 36:
                break
            assert proc.poll() is None, "rotation finished before it could be interrupted"
            time.sleep(POLL)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        db.close()
    midway = status(private.data_dir)
    new = active(midway)
    assert new != old
    assert midway[old]["objects"] > 0 and midway[new]["objects"] > 0  # really interrupted halfway
    read_all(s3, bucket, written)  # half-rotated data is all readable

    resumed = sealbox("keys", "rotate", data_dir=private.data_dir)
    assert f"completing the rotation to active master key {new}" in resumed.stdout
    done = status(private.data_dir)
    assert set(done) == {old, new}  # no third key: the same rotation was finished
    assert (done[old]["objects"], done[old]["credentials"]) == (0, 0)
    assert (done[new]["objects"], done[new]["credentials"]) == (40, 1)
    read_all(s3, bucket, written)
    # Once finished, rotate makes a new key again.
    again = sealbox("keys", "rotate", data_dir=private.data_dir)
    assert "created active master key" in again.stdout
    assert len(status(private.data_dir)) == 3


def test_one_keyring_writer_at_a_time(private: Server) -> None:
    """Two rotations saving their own keyring would drop a key: the second one is refused."""
    from sealbox.service.keys import keyring_lock

    before = status(private.data_dir)
    with keyring_lock(key_file(private.data_dir)):
        busy = sealbox("keys", "rotate", data_dir=private.data_dir, check=False)
        assert busy.returncode == 1 and "another `sealbox keys` command" in busy.stderr
        gone = sealbox("keys", "remove", "mk-00000000-00000000", data_dir=private.data_dir, check=False)
        assert gone.returncode == 1 and "another `sealbox keys` command" in gone.stderr
    assert status(private.data_dir) == before
    sealbox("keys", "rotate", data_dir=private.data_dir)  # free again
    assert len(status(private.data_dir)) == 2


def test_status_names_missing_keys(private: Server) -> None:
    s3 = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, 1)
    text = sealbox("keys", "status", data_dir=private.data_dir).stdout
    only = active(status(private.data_dir))
    assert only in text and "yes" in text
    stranger = generate_master_key()
    env = {"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([stranger], stranger.key_id))}
    missing = sealbox("keys", "status", data_dir=private.data_dir, env=env, check=False)
    assert missing.returncode == 1 and only in missing.stderr and "MISSING" in missing.stdout


# -- start-up checks -------------------------------------------------------------------------------------


def made_data_dir(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[Path, str]:
    """A data directory with one SSE object (server stopped), and the active key id."""
    data_dir = tmp_path / "data"
    with running_server(data_dir, env=env) as srv:
        s3 = srv.client()
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="k", Body=b"sealed", ServerSideEncryption="AES256")
    keys = status(data_dir, env)
    return data_dir, active(keys)


def test_loose_key_file_permissions_refused(tmp_path: Path) -> None:
    data_dir, _ = made_data_dir(tmp_path)
    os.chmod(key_file(data_dir), 0o644)
    done = serve_once(data_dir)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # one clear line, no traceback
    assert "mode 0644" in lines[0] and "chmod 600" in lines[0]
    os.chmod(key_file(data_dir), 0o600)
    with running_server(data_dir) as srv:
        assert srv.client().get_object(Bucket="kept", Key="k")["Body"].read() == b"sealed"


def test_missing_key_id_is_named(tmp_path: Path) -> None:
    data_dir, needed = made_data_dir(tmp_path)
    path = key_file(data_dir)
    original = path.read_bytes()
    other = generate_master_key()
    from sealbox.crypto.keyring import save_keyring

    save_keyring(path, Keyring([other], other.key_id))
    done = serve_once(data_dir)
    assert done.returncode != 0
    assert f"master key {needed} is needed" in done.stderr and "Traceback" not in done.stderr
    path.unlink()  # a lost key file is not a first start: refuse, and do not make a new key
    done = serve_once(data_dir)
    assert done.returncode != 0 and needed in done.stderr and "missing" in done.stderr
    assert not path.exists()
    path.write_bytes(original)
    os.chmod(path, 0o600)
    with running_server(data_dir) as srv:
        assert srv.client().get_object(Bucket="kept", Key="k")["Body"].read() == b"sealed"


def test_wrong_key_under_the_right_id_is_refused(tmp_path: Path) -> None:
    data_dir, needed = made_data_dir(tmp_path)
    from sealbox.crypto.keyring import save_keyring

    impostor = MasterKey(needed, os.urandom(32))
    save_keyring(key_file(data_dir), Keyring([impostor], needed))
    done = serve_once(data_dir)
    assert done.returncode != 0
    assert f"master key {needed}" in done.stderr and "does not decrypt" in done.stderr


def test_master_keys_from_the_environment(tmp_path: Path) -> None:
    key = generate_master_key()
    env = {"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([key], key.key_id))}
    data_dir, used = made_data_dir(tmp_path, env)
    assert used == key.key_id
    assert not key_file(data_dir).exists()  # nothing written to disk
    with running_server(data_dir, env=env) as srv:
        assert srv.client().get_object(Bucket="kept", Key="k")["Body"].read() == b"sealed"
    other = generate_master_key()
    done = serve_once(data_dir, {"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([other], other.key_id))})
    assert done.returncode != 0 and f"master key {key.key_id} is needed" in done.stderr
    assert "SEALBOX_MASTER_KEYS" in done.stderr
    malformed = serve_once(data_dir, {"SEALBOX_MASTER_KEYS": "not-a-key"})
    assert malformed.returncode != 0 and "keyring value" in malformed.stderr
    # Rotation with environment keys: the operator puts a new key first; rotate moves everything under it.
    newer = generate_master_key()
    both = {"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([newer, key], newer.key_id))}
    out = sealbox("keys", "rotate", data_dir=data_dir, env=both)
    assert f"active master key {newer.key_id}" in out.stdout
    keys = status(data_dir, both)
    assert (keys[newer.key_id]["objects"], keys[key.key_id]["objects"]) == (1, 0)
    only_newer = {"SEALBOX_MASTER_KEYS": keyring_to_env(Keyring([newer], newer.key_id))}
    with running_server(data_dir, env=only_newer) as srv:
        assert srv.client().get_object(Bucket="kept", Key="k")["Body"].read() == b"sealed"


# -- the metadata database alone -------------------------------------------------------------------------


def test_metadata_database_alone_reveals_no_data_key(private: Server) -> None:
    s3 = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, 5)
    s3.create_multipart_upload(Bucket=bucket, Key="pending", ServerSideEncryption="AES256")
    sealbox("keys", "rotate", data_dir=private.data_dir)  # old and new seals both in the file's history
    db = sqlite3.connect(private.data_dir / "meta.sqlite3")
    try:
        rows = db.execute("SELECT bucket, key, object_uid, sealed_key FROM versions"
                          " WHERE sealed_key IS NOT NULL UNION ALL"
                          " SELECT bucket, key, object_uid, sealed_key FROM uploads").fetchall()
    finally:
        db.close()
    assert len(rows) == 6
    keyring = load_keyring(key_file(private.data_dir))
    data_keys = [envelope.unseal(envelope.SealedKey.from_text(sealed), keyring,
                                 envelope.object_context(b, k, uid)) for b, k, uid, sealed in rows]
    stored = b"".join(p.read_bytes() for p in private.data_dir.glob("meta.sqlite3*"))  # db, WAL, shm
    assert len(set(data_keys)) == 6
    for data_key in data_keys:
        for form in (data_key, data_key.hex().encode(), base64.b64encode(data_key)):
            assert form not in stored
    assert SECRET_KEY.encode() not in stored  # credential secrets are sealed too
    # Without the master keys the sealed values do not open: unknown id, or the right id with other bytes.
    b, k, uid, sealed = rows[0]
    parsed = envelope.SealedKey.from_text(sealed)
    context = envelope.object_context(b, k, uid)
    with pytest.raises(MissingMasterKey):
        envelope.unseal(parsed, Keyring([other := generate_master_key()], other.key_id), context)
    with pytest.raises(IntegrityError):
        envelope.unseal(parsed, Keyring([MasterKey(parsed.key_id, os.urandom(32))], parsed.key_id), context)


# -- sealed metadata across a rotation (issue 13) ----------------------------------------------------------


def test_sealed_metadata_opens_after_rotation_and_removal_of_the_old_key(tmp_path: Path) -> None:
    """ETags, checksums and metadata are sealed under the data key, which rotation re-seals but never
    changes: the sealed blobs stay as they are and keep opening, also once the old master key is gone."""
    data_dir = tmp_path / "data"
    with running_server(data_dir, workers=2) as srv:
        s3: Any = srv.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"short", ServerSideEncryption="AES256", ChecksumAlgorithm="CRC32",
                      Metadata={"colour": "plum"}, ContentType="text/x-plum")
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256",
                                            Metadata={"up": "loaded"})
        part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"p1")
        before = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")

        def blobs() -> list[bytes]:
            db = sqlite3.connect(data_dir / "meta.sqlite3")
            try:
                return [r[0] for r in db.execute("SELECT sealed_meta FROM versions UNION ALL SELECT sealed_meta"
                                                 " FROM uploads UNION ALL SELECT sealed_meta FROM parts")]
            finally:
                db.close()

        sealed_before = blobs()
        assert len(sealed_before) == 3 and all(sealed_before)
        old = active(status(data_dir))
        sealbox("keys", "rotate", data_dir=data_dir)
        sealbox("keys", "remove", old, data_dir=data_dir)
        assert blobs() == sealed_before  # no metadata rewritten
        after = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        for name in ("ETag", "ChecksumCRC32", "Metadata", "ContentType"):
            assert after[name] == before[name], name
    with running_server(data_dir, workers=1) as again:  # fresh workers: nothing cached from before
        s3 = again.client()
        after = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        for name in ("ETag", "ChecksumCRC32", "Metadata", "ContentType"):
            assert after[name] == before[name], name
        assert [p["ETag"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload["UploadId"])["Parts"]] == \
            [part["ETag"]]
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        assert s3.head_object(Bucket=bucket, Key="mp")["Metadata"] == {"up": "loaded"}
