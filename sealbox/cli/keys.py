"""``sealbox keys status|rotate|remove``: master keys of a data directory, safe while the server runs.

    sealbox keys status --data-dir D           keys, which is active, what each one seals
    sealbox keys rotate --data-dir D           new active key; re-seal every stored data key under it
    sealbox keys remove KEY_ID --data-dir D    drop a retired key once nothing depends on it

``rotate`` is resumable: run it again after an interruption and it finishes the same rotation (it
makes a new key only when everything is already sealed under the active one, or with --new-key).
With SEALBOX_MASTER_KEYS instead of a key file: put a new key first in the variable, restart the
server with it, then ``rotate`` re-seals everything under it; remove old keys from the variable after
``status`` shows they seal nothing.

Exit status: 0 done, 1 refused or incomplete (the message says why), 2 unusable data directory or keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sealbox.cli.common import add_data_dir, add_key_file, data_settings, has_store, open_meta
from sealbox.config import Settings
from sealbox.ops.logs import audit

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2
_KIND_TITLES = {"version": "objects", "upload": "uploads", "credential": "credentials", "kms-key": "KMS key material",
                "sse-c-share": "SSE-C server share"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="master keys: status, rotate, remove",
                          description="Inspect and rotate the master keys that seal every stored data key.")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    status = actions.add_parser("status", help="keys, the active one, and how many values each seals")
    _common(status)
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(func=_status)

    rotate = actions.add_parser("rotate", help="new active key; re-seal all stored data keys under it")
    _common(rotate)
    rotate.add_argument("--new-key", action="store_true",
                        help="make a new key even if an earlier rotation is unfinished")
    rotate.add_argument("--batch", type=int, default=500,
                        help="values re-sealed per transaction (default 500)")
    rotate.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="sleep between batches, to leave a busy server room (default 0)")
    rotate.set_defaults(func=_rotate)

    remove = actions.add_parser("remove", help="remove a retired key that nothing is sealed under")
    remove.add_argument("key_id", help="id of the retired master key to remove")
    _common(remove)
    remove.set_defaults(func=_remove)


def _common(p: argparse.ArgumentParser) -> None:
    add_data_dir(p)
    add_key_file(p)


def _open_meta(settings: Settings) -> Any:
    """The metadata store of an existing data directory (never creates one); None after a message."""
    if not has_store(settings):
        print(f"sealbox: {settings.data_dir} is not a sealbox data directory", file=sys.stderr)
        return None
    return open_meta(settings)


def _fail(message: object, code: int) -> int:
    print(f"sealbox: {message}", file=sys.stderr)
    return code


def _status(args: argparse.Namespace) -> int:
    from sealbox.crypto.errors import CryptoError
    from sealbox.service.keys import describe_source, key_source, key_status

    settings = data_settings(args)
    meta = _open_meta(settings)
    if meta is None:
        return EXIT_UNUSABLE
    try:
        keyring = key_source(settings).current()
        rows = key_status(meta, keyring)
    except CryptoError as exc:
        return _fail(exc, EXIT_UNUSABLE)
    finally:
        meta.close()
    if args.json:
        print(json.dumps({"source": describe_source(settings), "keys": [
            {"id": r.key_id, "active": r.active, "created": r.created or None, "in_keyring": r.in_keyring,
             **{_KIND_TITLES[k]: n for k, n in r.counts.items()}} for r in rows]}))
        return EXIT_OK
    print(f"master keys from {describe_source(settings)}")
    print(f"{'KEY ID':<32} {'ACTIVE':<7} {'CREATED':<26} {'OBJECTS':>8} {'UPLOADS':>8} {'CREDENTIALS':>12}")
    for r in rows:
        mark = "yes" if r.active else ("MISSING" if not r.in_keyring else "")
        print(f"{r.key_id:<32} {mark:<7} {r.created or '-':<26} {r.counts['version']:>8}"
              f" {r.counts['upload']:>8} {r.counts['credential']:>12}")
    missing = [r.key_id for r in rows if not r.in_keyring]
    if missing:
        return _fail(f"stored data needs master key(s) missing from the keyring: {', '.join(missing)}",
                     EXIT_REFUSED)
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    from sealbox.crypto.errors import CryptoError
    from sealbox.ops.metrics import command_progress
    from sealbox.service.keys import KeyCheckError, rotate

    if args.batch < 1:
        return _fail("--batch must be at least 1", EXIT_REFUSED)
    settings = data_settings(args)
    meta = _open_meta(settings)
    if meta is None:
        return EXIT_UNUSABLE
    try:
        report = rotate(meta, settings, new_key=args.new_key, batch=args.batch, pause=args.pause,
                        progress=command_progress(settings.data_dir, "key_rotation"))
    except KeyCheckError as exc:
        return _fail(exc, EXIT_REFUSED)
    except CryptoError as exc:
        return _fail(exc, EXIT_UNUSABLE)
    finally:
        meta.close()
    verb = "created" if report.created else "completing the rotation to"
    moved = ", ".join(f"{n} {_KIND_TITLES[k]}" for k, n in report.resealed.items())
    print(f"sealbox: {verb} active master key {report.active}; re-sealed {moved}")
    audit("keys.rotate", f"master keys rotated: active {report.active}", active=report.active, via="cli")
    for failure in report.failed:
        print(f"sealbox: could not re-seal {failure}", file=sys.stderr)
    if report.remaining:
        return _fail(f"{report.remaining} value(s) are still sealed under older keys; run"
                     " `sealbox keys rotate` again", EXIT_REFUSED)
    print("sealbox: everything is sealed under the active key; old keys can be removed with"
          " `sealbox keys remove KEY_ID` (keep a backup of the key file)")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from sealbox.crypto.errors import CryptoError
    from sealbox.service.keys import KeyCheckError, remove_key

    settings = data_settings(args)
    meta = _open_meta(settings)
    if meta is None:
        return EXIT_UNUSABLE
    try:
        keyring = remove_key(meta, settings, args.key_id)
    except KeyCheckError as exc:
        return _fail(exc, EXIT_REFUSED)
    except CryptoError as exc:
        return _fail(exc, EXIT_UNUSABLE)
    finally:
        meta.close()
    print(f"sealbox: removed master key {args.key_id}; keys now: {', '.join(keyring.ids())}")
    audit("keys.remove", f"master key {args.key_id} removed", key_id=args.key_id, via="cli")
    return EXIT_OK
