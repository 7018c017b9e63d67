"""What the data-directory commands (keys, users, scrub, gc) share: their options and Settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from sealbox.config import Settings, env_default

KEY_FILE_HELP = "key file (default <data dir>/keys/master-keys.json)"


def data_dir_of(args: argparse.Namespace) -> Path:
    """--data-dir, else $SEALBOX_DATA_DIR, else ./data."""
    return Path(args.data_dir or env_default("DATA_DIR", "data") or "data")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory (default ./data or $SEALBOX_DATA_DIR)")


def add_key_file(p: argparse.ArgumentParser, help: str = KEY_FILE_HELP) -> None:
    p.add_argument("--master-key-file", default=env_default("MASTER_KEY_FILE"), help=help)


def data_settings(args: argparse.Namespace) -> Settings:
    """Settings of a command that works on an existing data directory (no listeners)."""
    key_file = getattr(args, "master_key_file", None)
    return Settings(data_dir=data_dir_of(args), master_key_file=Path(key_file) if key_file else None)
