"""What the data-directory commands (keys, users, scrub, gc, kms, lifecycle, migrate) share: their
options and Settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from sealbox.config import Settings, env_default
from sealbox.storage.meta.base import MetadataCipher, MetaStore

KEY_FILE_HELP = "key file (default <data dir>/keys/master-keys.json)"


def data_dir_of(args: argparse.Namespace) -> Path:
    """--data-dir, else $SEALBOX_DATA_DIR, else ./data."""
    return Path(args.data_dir or env_default("DATA_DIR", "data") or "data")


META_URL_HELP = ("metadata in PostgreSQL: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (default $SEALBOX_META_URL;"
                 " without it, SQLite in the data directory)")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    """--data-dir and --meta-url: where a command finds the blobs and keys, and the metadata."""
    p.add_argument("--data-dir", help="data directory (default ./data or $SEALBOX_DATA_DIR)")
    add_meta_url(p)


def add_meta_url(p: argparse.ArgumentParser) -> None:
    p.add_argument("--meta-url", default=env_default("META_URL"), metavar="URL", help=META_URL_HELP)


def add_key_file(p: argparse.ArgumentParser, help: str = KEY_FILE_HELP) -> None:
    p.add_argument("--master-key-file", default=env_default("MASTER_KEY_FILE"), help=help)


def has_store(settings: Settings) -> bool:
    """Whether the metadata store exists: a PostgreSQL URL is taken as one (opening it says if not),
    else the data directory's SQLite file."""
    return bool(settings.meta_url) or settings.db_path.is_file()


def open_meta(settings: Settings, metadata: MetadataCipher | None = None) -> MetaStore:
    """The metadata store a command works on (--meta-url or SQLite in the data directory)."""
    from sealbox.storage.meta.stores import open_meta_store

    return open_meta_store(settings.meta_url, settings.db_path, metadata)


def data_settings(args: argparse.Namespace) -> Settings:
    """Settings of a command that works on an existing data directory (no listeners)."""
    key_file = getattr(args, "master_key_file", None)
    data_dir = data_dir_of(args)
    return Settings(data_dir=data_dir, master_key_file=Path(key_file) if key_file else None,
                    meta_url=meta_url_of(args, data_dir))


def meta_url_of(args: argparse.Namespace, data_dir: Path) -> str | None:
    """--meta-url (or $SEALBOX_META_URL, or the config file), else what the data directory recorded
    when it was served with one (storage.meta.stores.MARKER), else None: SQLite."""
    from sealbox.storage.meta.stores import recorded_meta_url

    return getattr(args, "meta_url", None) or recorded_meta_url(data_dir)
