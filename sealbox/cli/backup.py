"""``sealbox backup`` and ``sealbox restore`` (the method is in sealbox.ops.backup)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sealbox.cli.common import add_data_dir, add_key_file, data_settings
from sealbox.ops.logs import audit

EXIT_OK, EXIT_INCOMPLETE, EXIT_UNUSABLE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("backup", help="consistent copy of a data directory, also of a running server",
                       description="Copy the metadata (SQLite online backup) and the blob files (hard links"
                       " when on the same filesystem, else copies) into a new directory.")
    add_data_dir(b)
    b.add_argument("--to", required=True, metavar="DIR", help="new or empty directory to write the backup into")
    b.add_argument("--include-keys", action="store_true",
                   help="also copy the master key file (store keys apart from data: off by default)")
    add_key_file(b, help="the key file --include-keys copies (default <data dir>/keys/master-keys.json)")
    b.add_argument("--copy", action="store_true", help="copy blob files even where hard links would do")
    b.set_defaults(func=_backup)
    r = sub.add_parser("restore", help="restore a backup into an empty data directory",
                       description="Restore a directory written by `sealbox backup`; then run `sealbox scrub`.")
    r.add_argument("--from", dest="source", required=True, metavar="DIR", help="the backup directory")
    add_data_dir(r)
    r.add_argument("--copy", action="store_true", help="copy blob files even where hard links would do")
    r.set_defaults(func=_restore)


PG_BACKUP = ("sealbox backup copies SQLite metadata; with --meta-url the metadata is in PostgreSQL and is"
             " backed up with PostgreSQL's own tools (pg_dump, or base backups with WAL archiving), the blob"
             " files and keys with the file system's: take the database dump first, then the blobs"
             " (a blob no dump names is an orphan that `sealbox gc` removes)")


def _backup(args: argparse.Namespace) -> int:
    from sealbox.ops.backup import BackupError, backup, console_progress

    settings = data_settings(args)
    if settings.meta_url:
        print(f"sealbox: {PG_BACKUP}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        report = backup(settings.data_dir, Path(args.to),
                        key_file=settings.keyring_path if args.include_keys else None, copy=args.copy,
                        progress=console_progress())
    except (BackupError, OSError) as exc:
        print(f"sealbox: backup failed: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(report.summary(f"backed up to {args.to}:"))
    audit("backup", f"backup of {settings.data_dir} to {args.to}", to=str(args.to), blobs=report.blobs,
          keys_included=report.keys, via="cli")
    if report.missing:
        print(f"sealbox: {len(report.missing)} object(s) overwritten during the backup have no data in it",
              file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from sealbox.ops.backup import BackupError, console_progress, restore

    settings = data_settings(args)
    if settings.meta_url:
        print(f"sealbox: {PG_BACKUP.replace('backup copies', 'restore writes')}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        report = restore(Path(args.source), settings.data_dir, copy=args.copy, progress=console_progress())
    except (BackupError, OSError) as exc:
        print(f"sealbox: restore failed: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(report.summary(f"restored into {settings.data_dir}:"))
    if not report.keys:
        print("sealbox: the backup holds no master keys: put the key file at"
              f" {settings.keyring_path} (or use --master-key-file / $SEALBOX_MASTER_KEYS)")
    print(f"sealbox: check it with: sealbox scrub --data-dir {settings.data_dir}")
    audit("restore", f"restore of {args.source} into {settings.data_dir}", source=str(args.source), via="cli")
    return EXIT_OK
