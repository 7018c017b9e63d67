"""``sealbox users add|list|remove|keys``: principals and their access keys, safe while the server runs.

    sealbox users add NAME --data-dir D              a user with one access key (secret shown once)
    sealbox users list --data-dir D
    sealbox users remove NAME --data-dir D           the user and all their access keys
    sealbox users keys NAME --data-dir D             the user's access keys
    sealbox users keys NAME --create --data-dir D    one more access key (secret shown once)
    sealbox users keys NAME --delete AK --data-dir D

Secrets are stored sealed under the master key. A running server trusts a cached secret for at
most 5 seconds, so a removed key or user stops working within that time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from sealbox.cli.common import add_data_dir, add_key_file, data_settings, has_store, open_meta
from sealbox.config import Settings
from sealbox.ops.logs import audit

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users and access keys: add, list, remove, keys",
                           description="Manage the principals that may sign requests, and their access keys.")
    actions = users.add_subparsers(dest="users_command", required=True)

    add = actions.add_parser("add", help="add a user (with one access key unless --no-key)")
    add.add_argument("name", help="the new user's name")
    add.add_argument("--no-key", action="store_true", help="create the user without an access key")
    _common(add)
    add.set_defaults(func=_add)

    listing = actions.add_parser("list", help="users and how many access keys each has")
    _common(listing)
    listing.set_defaults(func=_list)

    remove = actions.add_parser("remove", help="remove a user and their access keys")
    remove.add_argument("name", help="the user to remove")
    _common(remove)
    remove.set_defaults(func=_remove)

    keys = actions.add_parser("keys", help="list, create or delete a user's access keys")
    keys.add_argument("name", help="whose access keys")
    group = keys.add_mutually_exclusive_group()
    group.add_argument("--create", action="store_true", help="make a new access key (secret shown once)")
    group.add_argument("--delete", metavar="ACCESS_KEY", help="delete this access key")
    _common(keys)
    keys.set_defaults(func=_keys)


def _common(p: argparse.ArgumentParser) -> None:
    add_data_dir(p)
    add_key_file(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")


class _Unusable(Exception):
    pass


def _identity(settings: Settings) -> tuple[Any, Any]:
    """(Identity, meta store) of an existing data directory; never creates one."""
    from sealbox.service.identity import Identity
    from sealbox.service.keys import key_source
    from sealbox.service.sealing import Sealer
    if not has_store(settings):
        raise _Unusable(f"{settings.data_dir} is not a sealbox data directory (start the server once first)")
    try:
        sealer = Sealer(key_source(settings))
    except Exception as exc:  # noqa: BLE001 - any key problem is reported as one line
        raise _Unusable(f"master keys unavailable: {exc}") from None
    meta = open_meta(settings)
    return Identity(meta, sealer), meta


def _run(args: argparse.Namespace, action: Any) -> int:
    from sealbox.core.errors import SealboxError

    try:
        identity, meta = _identity(data_settings(args))
    except _Unusable as exc:
        print(f"sealbox: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        return int(action(identity))
    except SealboxError as exc:
        print(f"sealbox: {exc.message or exc.code.value}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        meta.close()


def _show_key(args: argparse.Namespace, name: str, access_key: str, secret: str) -> None:
    if args.json:
        print(json.dumps({"user": name, "access_key": access_key, "secret_key": secret}))
        return
    print(f"user:       {name}\naccess key: {access_key}\nsecret key: {secret}\n"
          "(the secret is shown only now: store it safely)")


def _add(args: argparse.Namespace) -> int:
    def action(identity: Any) -> int:
        identity.add_user(args.name)
        audit("user.add", f"user {args.name} added", user=args.name, via="cli")
        if args.no_key:
            print(json.dumps({"user": args.name}) if args.json else f"sealbox: added user {args.name}")
            return EXIT_OK
        access_key, secret = identity.create_key(args.name)
        audit("access_key.create", f"access key {access_key} created", user=args.name, access_key=access_key,
              via="cli")
        _show_key(args, args.name, access_key, secret)
        return EXIT_OK
    return _run(args, action)


def _list(args: argparse.Namespace) -> int:
    def action(identity: Any) -> int:
        from sealbox.service.identity import ROOT

        names = [(ROOT, None)] + [(u.name, u.created) for u in identity.users()]
        rows = [(name, created, len(identity.keys_of(name))) for name, created in names]
        if args.json:
            print(json.dumps([{"user": n, "created": c, "access_keys": k} for n, c, k in rows]))
            return EXIT_OK
        print(f"{'USER':<32} {'CREATED':<20} {'ACCESS KEYS':>11}")
        for name, created, count in rows:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)) if created else "(built in)"
            print(f"{name:<32} {when:<20} {count:>11}")
        return EXIT_OK
    return _run(args, action)


def _remove(args: argparse.Namespace) -> int:
    def action(identity: Any) -> int:
        removed = identity.remove_user(args.name)
        audit("user.remove", f"user {args.name} removed", user=args.name, removed_access_keys=removed, via="cli")
        if args.json:
            print(json.dumps({"user": args.name, "removed_access_keys": removed}))
        else:
            print(f"sealbox: removed user {args.name} and {len(removed)} access key(s)")
        return EXIT_OK
    return _run(args, action)


def _keys(args: argparse.Namespace) -> int:
    def action(identity: Any) -> int:
        if not identity.exists(args.name):
            print(f"sealbox: no such user: {args.name}", file=sys.stderr)
            return EXIT_REFUSED
        if args.create:
            access_key, secret = identity.create_key(args.name)
            audit("access_key.create", f"access key {access_key} created", user=args.name, access_key=access_key,
                  via="cli")
            _show_key(args, args.name, access_key, secret)
            return EXIT_OK
        if args.delete:
            identity.delete_key(args.name, args.delete)
            audit("access_key.delete", f"access key {args.delete} deleted", user=args.name,
                  access_key=args.delete, via="cli")
            print(json.dumps({"deleted": args.delete}) if args.json
                  else f"sealbox: deleted access key {args.delete}")
            return EXIT_OK
        creds = identity.keys_of(args.name)
        if args.json:
            print(json.dumps([{"access_key": c.access_key, "created": c.created} for c in creds]))
            return EXIT_OK
        print(f"{'ACCESS KEY':<24} CREATED")
        for c in creds:
            print(f"{c.access_key:<24} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(c.created))}")
        return EXIT_OK
    return _run(args, action)
