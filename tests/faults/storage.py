"""Helpers for fault tests: run the maintenance commands, find and damage what a server stored."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sealbox.core.types import Extent, ObjectVersion
from sealbox.storage.data.local import LocalBlobStore
from tests.meta_support import meta_sql, open_store
from tests.support import SEALBOX

HOUR = 3600


def sealbox(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEALBOX), *args], check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def scrub(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run ``sealbox scrub --json``; (exit status, report)."""
    done = sealbox("scrub", "--data-dir", str(data_dir), "--json", *extra, env=env)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def gc(data_dir: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = sealbox("gc", "--data-dir", str(data_dir), "--json", *extra)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


@contextmanager
def small_tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``16m``) mounted at ``mount_point`` for the block: a disk that fills up.
    Needs root (mount); skips the test with the reason otherwise."""
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs (needs root/CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def storage_full(exc: ClientError) -> None:
    """The S3 error of a write that ran out of space: 503 ServiceUnavailable, saying so."""
    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503, exc.response
    assert exc.response["Error"]["Code"] == "ServiceUnavailable"
    assert "space" in exc.response["Error"]["Message"]


def temp_files(data_dir: Path) -> list[str]:
    return os.listdir(data_dir / "tmp")


def fill_with_uploads(s3: Any, bucket: str, prefix: str, sse: bool, limit: int = 64) -> tuple[int, ClientError]:
    """PUT 1 MiB objects until one fails; how many succeeded and the failure. ``limit`` MiB must be more
    than the disk holds: the loop must end in a failure."""
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    for n in range(limit):
        try:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{n}", Body=os.urandom(1024 * 1024), **extra)
        except ClientError as exc:
            return n, exc
    raise AssertionError(f"the disk took {limit} MiB")


def kinds(report: dict[str, Any]) -> list[str]:
    return sorted(p["kind"] for p in report["problems"])


def version_of(data_dir: Path, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
    meta = open_store(data_dir)
    try:
        found = meta.get_version(bucket, key, version_id)
    finally:
        meta.close()
    assert found is not None, (bucket, key)
    return found


def blob_path(data_dir: Path, blob_id: str) -> Path:
    return LocalBlobStore(data_dir).path(blob_id)


def extent_path(data_dir: Path, bucket: str, key: str) -> Path:
    """The blob file of an object stored as a file (too big to be inline)."""
    return stored(data_dir, bucket, key).path


@dataclass(frozen=True)
class StoredExtent:
    """Where an extent's stored bytes are: its blob file, or (small objects) its ``inline_blobs`` row.
    Tests read and damage them through this, the same way for both."""

    data_dir: Path
    extent: Extent

    @property
    def path(self) -> Path:
        assert not self.extent.inline, f"{self.extent} is inline, not a file"
        return blob_path(self.data_dir, self.extent.blob_id)

    def read(self) -> bytes:
        if not self.extent.inline:
            return self.path.read_bytes()
        ((data,),) = meta_sql(self.data_dir, "SELECT data FROM inline_blobs WHERE blob_id=?", (self.extent.blob_id,))
        return bytes(data)

    def write(self, data: bytes) -> None:
        if not self.extent.inline:
            self.path.write_bytes(data)
        else:
            sql(self.data_dir, "UPDATE inline_blobs SET data=? WHERE blob_id=?", (data, self.extent.blob_id))

    def flip(self, offset: int) -> None:
        data = bytearray(self.read())
        data[offset] ^= 0x01
        self.write(bytes(data))

    def remove(self) -> None:
        if not self.extent.inline:
            self.path.unlink()
        else:
            sql(self.data_dir, "DELETE FROM inline_blobs WHERE blob_id=?", (self.extent.blob_id,))


def stored(data_dir: Path, bucket: str, key: str, version_id: str | None = None) -> StoredExtent:
    """The first extent of an object (the only one unless it is multipart)."""
    return StoredExtent(data_dir, version_of(data_dir, bucket, key, version_id).extents[0])


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def age(path: Path, seconds: float) -> None:
    """Make a file look ``seconds`` old (the grace period is judged by mtime)."""
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def reseal_metadata(data_dir: Path, bucket: str, key: str, **changes: Any) -> None:
    """Change what an SSE version's sealed metadata says (etag=, checksums=, …) and seal it again with
    the right key and identity: metadata that authenticates but is wrong, as a bug could write it."""
    import dataclasses

    from sealbox.crypto import envelope
    from sealbox.crypto import metadata as fmt
    from sealbox.crypto.keyring import load_keyring

    ((rid, uid, sealed, blob),) = meta_sql(data_dir, "SELECT id, object_uid, sealed_key, sealed_meta FROM versions"
                                           " WHERE bucket=? AND key=? AND is_latest=1", (bucket, key))
    context = envelope.object_context(bucket, key, uid)
    data_key = envelope.unseal(envelope.SealedKey.from_text(sealed), load_keyring(data_dir / "keys" /
                               "master-keys.json"), context)
    aad = fmt.aad(fmt.MetaKind.VERSION, 0, context)
    fields = dataclasses.replace(fmt.open_metadata(data_key, blob, aad), **changes)
    sql(data_dir, "UPDATE versions SET sealed_meta=? WHERE id=?", (fmt.seal_metadata(data_key, fields, aad), rid))


def sql(data_dir: Path, statement: str, params: tuple[Any, ...] = ()) -> None:
    meta_sql(data_dir, statement, params)
