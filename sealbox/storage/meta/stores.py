"""Which metadata store a process opens: PostgreSQL when ``--meta-url`` / ``SEALBOX_META_URL`` / the
config file's ``meta_url`` names one (``postgresql://…``), else SQLite in the data directory, as
always. Every command goes through here, so each takes the same option; a data directory served with
``--meta-url`` records the URL (without password), and commands given no URL use it (``MARKER``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sealbox.kms.store import KmsStore
from sealbox.storage.meta.base import MetadataCipher, MetaStore
from sealbox.storage.meta.pgconn import UnsupportedMetaUrl, check_url, redact


def check_meta_url(url: str | None) -> str | None:
    """``url`` if it names a store this sealbox can open (None: the SQLite default); raises otherwise."""
    return check_url(url) if url else None


def open_meta_store(meta_url: str | None, db_path: Path, metadata: MetadataCipher | None = None,
                    observe_commit: Callable[[float], None] | None = None) -> MetaStore:
    """The metadata store (its schema brought up to date). ``observe_commit`` (the seconds each SQLite
    group COMMIT took) has no PostgreSQL counterpart: there a write is one transaction."""
    url = check_meta_url(meta_url)
    if url is not None:
        from sealbox.storage.meta.postgres import PostgresMetaStore

        return PostgresMetaStore(url, metadata)
    from sealbox.storage.meta.sqlite import SqliteMetaStore

    return SqliteMetaStore(db_path, metadata=metadata, observe_commit=observe_commit)


def open_kms_store(meta_url: str | None, db_path: Path) -> KmsStore:
    """The key service's store, in the same database (already migrated by ``open_meta_store``)."""
    url = check_meta_url(meta_url)
    if url is not None:
        from sealbox.storage.meta.kms_postgres import PostgresKmsStore

        return PostgresKmsStore(url)
    from sealbox.storage.meta.kms_sqlite import SqliteKmsStore

    return SqliteKmsStore(db_path)


# A data directory whose metadata is in PostgreSQL says so in this file (format version 1, then the URL
# without its password): the blob files of one directory belong to one metadata store, and a command
# run on the directory without --meta-url (``sealbox gc`` above all, which deletes blobs no metadata
# names) must use that store, never an empty or stale SQLite file beside them.
MARKER = "metadata-store"
_MARKER_VERSION = "sealbox-metadata-store 1"


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{host}"))


def remember_meta_url(data_dir: Path, meta_url: str | None) -> None:
    """Record (or, for SQLite, clear) where this data directory's metadata lives."""
    path = data_dir / MARKER
    if not meta_url:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{MARKER}.tmp")
    tmp.write_text(f"{_MARKER_VERSION}\n{without_password(meta_url)}\n")
    os.replace(tmp, path)


def recorded_meta_url(data_dir: Path) -> str | None:
    """The PostgreSQL URL (without password: libpq then takes it from PGPASSWORD or ~/.pgpass) that
    ``sealbox serve --meta-url`` recorded in this data directory; None for SQLite."""
    try:
        lines = (data_dir / MARKER).read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 2 or lines[0] != _MARKER_VERSION:
        raise UnsupportedMetaUrl(f"{data_dir / MARKER} is not a metadata-store record this sealbox reads")
    return lines[1].strip() or None


def describe(meta_url: str | None, db_path: Path) -> str:
    """Where the metadata lives, for messages (never a password)."""
    return f"PostgreSQL {redact(meta_url)}" if meta_url else str(db_path)
