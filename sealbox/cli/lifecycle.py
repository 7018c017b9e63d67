"""``sealbox lifecycle run`` (a pass on demand) and ``sealbox lifecycle status`` (the last pass), issue 17.

Safe beside a running server: the pass takes the same file lock as the server's lifecycle workers
(one pass at a time), and every removal is one metadata transaction that Object Lock guards.
"""

from __future__ import annotations

import argparse
import json
import sys

from sealbox.cli.common import add_data_dir, data_settings, has_store, open_meta


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lifecycle", help="apply bucket lifecycle rules now, or show the last pass")
    cmds = p.add_subparsers(dest="lifecycle_command", required=True)
    run = cmds.add_parser("run", help="run one lifecycle pass now (waits for none: refused if one is running)")
    add_data_dir(run)
    run.add_argument("--lifecycle-day-seconds", type=float, default=86400.0, metavar="N",
                     help="FOR TESTING ONLY: a rule's day lasts N seconds (default 86400)")
    run.add_argument("--batch", type=int, default=500, metavar="N",
                     help="versions per listing page, after each of which the cursor is saved (default 500)")
    run.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                     help="sleep between pages, to spare a busy server (default 0)")
    run.set_defaults(func=_run)
    status = cmds.add_parser("status", help="the summary of the last lifecycle pass, and any pass under way")
    add_data_dir(status)
    status.set_defaults(func=_status)


def _stores(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sealbox.app import load_master_keys
    from sealbox.service import freed, sse_c
    from sealbox.service.metadata import MetadataSealer
    from sealbox.service.sealing import Sealer
    from sealbox.storage.data.local import LocalBlobStore

    settings = data_settings(args)
    if not has_store(settings):
        print(f"sealbox: no data directory at {settings.data_dir}", file=sys.stderr)
        return None
    # With the keys, SSE objects' sealed tags are opened (Tag filters, issue 16); without them the pass
    # still runs, and a Tag filter matches no encrypted object.
    try:
        cipher: MetadataSealer | None = MetadataSealer(Sealer(load_master_keys(settings)))
    except Exception as exc:  # noqa: BLE001 - no usable key file: a pass without them
        print(f"sealbox: the master keys did not load ({exc}): Tag filters match no encrypted object",
              file=sys.stderr)
        cipher = None
    meta = open_meta(settings, cipher)
    if cipher is not None:
        sse_c.attach(meta, cipher.sealer)  # SSE-C rows' metadata opens under the server share
    return settings, meta, freed.for_store(LocalBlobStore(settings.data_dir), meta, meta.shared)


def _run(args: argparse.Namespace) -> int:
    from sealbox.ops.metrics import command_progress
    from sealbox.service.lifecycle_worker import LifecyclePass
    from sealbox.storage.locks import run_once

    opened = _stores(args)
    if opened is None:
        return 2
    settings, meta, blobs = opened
    locks = run_once(settings.data_dir, settings.meta_url)
    result = LifecyclePass(meta, blobs, locks, day_seconds=args.lifecycle_day_seconds, pause=args.pause,
                           batch=args.batch, progress=command_progress(settings.data_dir, "lifecycle")).run()
    if result is None:
        print(f"sealbox: a lifecycle pass is already running on {locks.scope}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def _status(args: argparse.Namespace) -> int:
    from sealbox.service.lifecycle_worker import STATE_LAST, STATE_PASS

    opened = _stores(args)
    if opened is None:
        return 2
    _, meta, _ = opened
    last, running = meta.get_state(STATE_LAST), meta.get_state(STATE_PASS)
    print(json.dumps({"last": json.loads(last) if last else None,
                      "under_way": json.loads(running) if running else None}))
    return 0
