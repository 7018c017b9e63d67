"""Helpers for fault tests: run the maintenance commands, find and damage what a server stored."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from sealbox.core.types import ObjectVersion
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
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


def kinds(report: dict[str, Any]) -> list[str]:
    return sorted(p["kind"] for p in report["problems"])


def version_of(data_dir: Path, bucket: str, key: str, version_id: str | None = None) -> ObjectVersion:
    meta = SqliteMetaStore(data_dir / "meta.sqlite3")
    try:
        found = meta.get_version(bucket, key, version_id)
    finally:
        meta.close()
    assert found is not None, (bucket, key)
    return found


def blob_path(data_dir: Path, blob_id: str) -> Path:
    return LocalBlobStore(data_dir).path(blob_id)


def extent_path(data_dir: Path, bucket: str, key: str) -> Path:
    return blob_path(data_dir, version_of(data_dir, bucket, key).extents[0].blob_id)


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


def sql(data_dir: Path, statement: str, params: tuple[Any, ...] = ()) -> None:
    import sqlite3

    db = sqlite3.connect(data_dir / "meta.sqlite3")
    try:
        db.execute(statement, params)
        db.commit()
    finally:
        db.close()
