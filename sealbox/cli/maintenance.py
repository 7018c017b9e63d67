"""``sealbox scrub`` and ``sealbox gc``: integrity checks and orphan removal on a data directory.

Both are safe while the server runs on the same data directory (they read the metadata database
through SQLite's WAL snapshots and touch only files older than the grace period).

Scheduling a scrub: ``sealbox scrub --data-dir D --interval 86400 --rate 50`` keeps running and
scrubs once a day at 50 MB/s (run it beside the server, e.g. as a second systemd unit); or run a
single pass from cron: ``0 3 * * 0 sealbox scrub --data-dir D --rate 50 || mail -s scrub admin``.
The exit status is 0 when nothing is wrong, 1 when a problem was found, 2 when the data directory
cannot be used, 3 when another scrub (gc) of the deployment holds its run-once lock
(``sealbox.storage.locks``: one at a time across every gateway on one PostgreSQL, so each host may
schedule one).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

from sealbox.cli.common import add_data_dir, add_key_file, data_settings, has_store, open_meta
from sealbox.config import Settings
from sealbox.service import sse_c
from sealbox.storage.locks import run_once

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2
EXIT_BUSY = 3  # another scrub (gc) holds the deployment's run-once lock: nothing was done


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scrub = sub.add_parser("scrub", help="verify every stored object against its metadata",
                           description="Verify every object version (extent files, segment authentication, "
                           "ETags, checksums), parts of unfinished uploads, and find orphan files.")
    _common(scrub)
    add_key_file(scrub, help="the keyring (default <data-dir>/keys/master-keys.json; or $SEALBOX_MASTER_KEYS)")
    scrub.add_argument("--kms-endpoint", default=None,
                       help="the external key service the server uses (--kms-endpoint of serve), if any")
    scrub.add_argument("--rate", type=float, default=None, metavar="MB/S",
                       help="read at most this many megabytes (10^6 bytes) per second")
    scrub.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                       help="keep running: scrub again this many seconds after each pass ends")
    scrub.add_argument("--runs", type=int, default=None, help="with --interval: stop after this many passes")
    scrub.set_defaults(func=_scrub)

    gc = sub.add_parser("gc", help="remove orphan blob files and stale temp files",
                        description="Remove blob files that no object version or upload part references, and"
                        " temp files of interrupted writes, when older than the grace period.")
    _common(gc)
    gc.add_argument("--freed-grace", type=float, default=None, metavar="SECONDS",
                    help="several gateways (PostgreSQL): unlink blobs replaced or deleted at least this long ago"
                    " (default 86400, the servers' --freed-grace default)")
    gc.add_argument("--dry-run", action="store_true", help="report what would be removed, remove nothing")
    gc.set_defaults(func=_gc)


def _common(p: argparse.ArgumentParser) -> None:
    add_data_dir(p)
    p.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                   help="unreferenced files younger than this belong to writes in flight (default 3600;"
                   " 0 only with the server stopped)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")




def _open(settings: Settings) -> tuple[Any, Any] | None:
    """The metadata and blob stores of an existing data directory (never creates one)."""
    from sealbox.storage.data.local import LocalBlobStore
    if not has_store(settings) or not (settings.data_dir / "blobs").is_dir():
        print(f"sealbox: {settings.data_dir} is not a sealbox data directory", file=sys.stderr)
        return None
    return open_meta(settings), LocalBlobStore(settings.data_dir)


def _sealer(settings: Settings) -> Any:
    from sealbox.app import build_key_service, load_master_keys
    from sealbox.service.sealing import Sealer

    try:
        sealer = Sealer(load_master_keys(settings))
    except Exception as exc:  # noqa: BLE001 - reported, and every SSE object then counts as unverifiable
        print(f"sealbox: master keys unavailable ({exc}); encrypted objects cannot be verified", file=sys.stderr)
        return None
    try:
        kms, keys = build_key_service(settings, sealer)
    except Exception as exc:  # noqa: BLE001 - SSE-KMS objects then count as unverifiable
        print(f"sealbox: key service unavailable ({exc}); SSE-KMS objects cannot be verified", file=sys.stderr)
        return sealer
    if keys is not None:
        keys.destroy_due()  # keys past their deletion date are destroyed before the walk reports on them
    sealer.attach_kms(kms)
    return sealer


def _scrub(args: argparse.Namespace) -> int:
    from sealbox.ops.metrics import command_progress
    from sealbox.service.scrub import Problem, Scrubber

    settings = dataclasses.replace(data_settings(args), kms_endpoint=args.kms_endpoint)
    stores = _open(settings)
    if stores is None:
        return EXIT_UNUSABLE
    meta, blobs = stores
    sealer = _sealer(settings)
    if sealer is not None:
        sse_c.attach(meta, sealer)  # SSE-C rows' metadata opens under the server share
    progress = command_progress(settings.data_dir, "scrub")  # into the metrics of a server running on it
    locks = run_once(settings.data_dir, settings.meta_url)

    def show(problem: Problem) -> None:
        if not args.json:
            print(f"PROBLEM {problem.describe()}", flush=True)

    worst = EXIT_OK
    passes = 0
    try:
        while True:
            scrubber = Scrubber(meta, blobs, sealer, grace=args.grace,
                                rate=args.rate * 1e6 if args.rate else None, on_problem=show, progress=progress)
            with locks.hold("scrub") as held:  # one scrub at a time however many hosts schedule one
                report = scrubber.run() if held is not None else None
            if report is None:
                print(f"sealbox: a scrub is already running on {locks.scope}; skipped", file=sys.stderr, flush=True)
                if args.interval is None:
                    return EXIT_BUSY
                time.sleep(args.interval)
                continue
            passes += 1
            if args.json:
                print(json.dumps(report.as_dict()), flush=True)
            else:
                print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {report.summary()}", flush=True)
            if not report.ok:
                worst = EXIT_PROBLEMS
            if args.interval is None or (args.runs is not None and passes >= args.runs):
                return worst
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return worst
    finally:
        meta.close()


def _gc(args: argparse.Namespace) -> int:
    from sealbox.ops.metrics import command_progress
    from sealbox.service.freed import FREED_GRACE
    from sealbox.service.gc import Collector

    settings = data_settings(args)
    stores = _open(settings)
    if stores is None:
        return EXIT_UNUSABLE
    meta, blobs = stores
    locks = run_once(settings.data_dir, settings.meta_url)
    try:
        with locks.hold("gc") as held:
            freed_grace = FREED_GRACE if args.freed_grace is None else args.freed_grace
            report = Collector(meta, blobs, grace=args.grace, dry_run=args.dry_run, freed_grace=freed_grace,
                               progress=command_progress(settings.data_dir, "gc")).run() if held else None
    finally:
        meta.close()
    if report is None:
        print(f"sealbox: a gc is already running on {locks.scope}; skipped", file=sys.stderr)
        return EXIT_BUSY
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        verb = "would remove" if report.dry_run else "removed"
        for path in report.removed_blobs + report.removed_temp:
            print(f"{verb} {path}")
        for error in report.errors:
            print(f"error {error}", file=sys.stderr)
        print(report.summary())
    return EXIT_PROBLEMS if report.errors else EXIT_OK
