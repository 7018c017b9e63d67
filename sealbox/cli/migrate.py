"""``sealbox migrate``: bring the metadata schema up to date now (every ``sealbox serve`` does it at start).

PostgreSQL (``--meta-url``): the numbered migrations of ``storage/meta/pg_migrations.py``, each in its own
transaction under an advisory lock, so it is safe while gateways run or start (they wait for the lock,
then find the schema current). SQLite: the migrations of ``storage/meta/migrations.py`` on the data
directory's ``meta.sqlite3`` (and the console's ``console.sqlite3``), under SQLite's write lock.
"""

from __future__ import annotations

import argparse
import sys

from sealbox.cli.common import add_data_dir, data_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="bring the metadata schema up to date (SQLite or --meta-url PostgreSQL)",
                       description="Apply the numbered schema migrations not applied yet; idempotent.")
    add_data_dir(p)
    p.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    settings = data_settings(args)
    try:
        if settings.meta_url:
            from sealbox.storage.meta.pg_migrations import PG_MIGRATIONS
            from sealbox.storage.meta.pgconn import PgDatabase, redact
            from sealbox.storage.meta.postgres import migrate_postgres, schema_version

            db = PgDatabase.shared(settings.meta_url)
            try:
                before = schema_version(db)
                applied = migrate_postgres(db)
            finally:
                db.close()
            where, latest = f"PostgreSQL {redact(settings.meta_url)}", len(PG_MIGRATIONS)
        else:
            from sealbox.console.app import prepare_console
            from sealbox.storage.meta.migrations import MIGRATIONS
            from sealbox.storage.meta.sqlite import SqliteMetaStore, sqlite_schema_version

            if not settings.db_path.is_file():
                print(f"sealbox: {settings.data_dir} is not a sealbox data directory", file=sys.stderr)
                return 2
            before = sqlite_schema_version(settings.db_path)
            SqliteMetaStore(settings.db_path).close()
            prepare_console(settings.data_dir)
            applied = list(range(before + 1, len(MIGRATIONS) + 1))
            where, latest = str(settings.db_path), len(MIGRATIONS)
    except Exception as exc:  # noqa: BLE001 - one clear line (never the URL's password: see redact)
        print(f"sealbox: migrate failed: {exc}", file=sys.stderr)
        return 1
    if applied:
        print(f"sealbox: {where}: schema {before} -> {latest} (applied {', '.join(map(str, applied))})")
    else:
        print(f"sealbox: {where}: schema {latest}, up to date")
    return 0
