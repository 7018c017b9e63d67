"""``sealbox kms …``: the built-in key service from the command line, safe while the server runs.

    sealbox kms create-key [--description D] [--alias alias/NAME] [--policy-file F]
    sealbox kms list                                   keys with state, aliases and rotation
    sealbox kms describe KEY
    sealbox kms enable KEY | disable KEY
    sealbox kms schedule-deletion KEY [--days 7..30]   (default 30)
    sealbox kms cancel-deletion KEY
    sealbox kms alias create|update NAME KEY | alias delete NAME | alias list
    sealbox kms rotate KEY                             a new material version now (on demand)
    sealbox kms rotate KEY --automatic on|off [--period DAYS]

KEY is a key id, key ARN, alias name or alias ARN. Every command acts as root, takes ``--data-dir``
(and ``--master-key-file``) and ``--json``; changes reach running workers at once through the KMS
change token. Exit status: 0 done, 1 refused (the key service's error is printed), 2 unusable data
directory or keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sealbox.cli.common import add_data_dir, add_key_file, data_settings, has_store, open_meta
from sealbox.config import env_default
from sealbox.kms.model import KmsCode, KmsError, KmsKey

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kms = sub.add_parser("kms", help="KMS keys of the built-in key service (SSE-KMS)",
                         description="Create and manage the KMS keys that SSE-KMS objects are encrypted under.")
    actions = kms.add_subparsers(dest="kms_command", required=True)

    create = _command(actions, "create-key", "create a KMS key", _create)
    create.add_argument("--description", default="", help="a description of the key (DescribeKey shows it)")
    create.add_argument("--alias", help="also create this alias (alias/NAME) for it")
    create.add_argument("--policy-file", help="a key policy (JSON); default: the default key policy")
    _command(actions, "list", "the keys, with state, aliases and rotation", _list)
    for name, func, text in (("describe", _describe, "one key's metadata"), ("enable", _enable, "enable a key"),
                             ("disable", _disable, "disable a key: its objects are unreadable until enabled"),
                             ("cancel-deletion", _cancel, "cancel a scheduled deletion (the key stays disabled)")):
        _command(actions, name, text, func).add_argument("key", help="the KMS key: its id, key ARN, alias name (alias/...) or alias ARN")
    schedule = _command(actions, "schedule-deletion", "destroy the key after a waiting period", _schedule)
    schedule.add_argument("key", help="the KMS key: its id, key ARN, alias name (alias/...) or alias ARN")
    schedule.add_argument("--days", type=int, default=None, help="waiting period, 7 to 30 days (default 30)")
    alias = _command(actions, "alias", "create, update, delete or list aliases", _alias)
    alias.add_argument("action", choices=["create", "update", "delete", "list"], help="what to do with the alias")
    alias.add_argument("name", nargs="?", help="the alias name, alias/<name> (not for list)")
    alias.add_argument("key", nargs="?", help="the key the alias names (create, update)")
    rotate = _command(actions, "rotate", "rotate a key's material now, or switch automatic rotation", _rotate)
    rotate.add_argument("key", help="the KMS key: its id, key ARN, alias name (alias/...) or alias ARN")
    rotate.add_argument("--automatic", choices=["on", "off"], help="switch automatic rotation instead")
    rotate.add_argument("--period", type=int, default=None, help="days between automatic rotations (90-2560)")


def _command(actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str,
             func: Any) -> argparse.ArgumentParser:
    p = actions.add_parser(name, help=text)
    add_data_dir(p)
    add_key_file(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--region", default=env_default("REGION", "us-east-1"),
                   help="the region of the ARNs shown: the server's --region (default $SEALBOX_REGION or us-east-1)")
    p.set_defaults(func=lambda args: _run(args, func))
    return p


class _Context:
    def __init__(self, args: argparse.Namespace) -> None:
        from sealbox.kms.service import KeyService
        from sealbox.service.identity import ROOT, Principal
        from sealbox.service.keys import key_source
        from sealbox.service.sealing import Sealer
        from sealbox.storage.meta.stores import open_kms_store

        settings = data_settings(args)
        if not has_store(settings):
            raise FileNotFoundError(f"no sealbox data in {settings.data_dir} (start the server once first)")
        open_meta(settings).close()  # brings the schema up to date
        self.service = KeyService(open_kms_store(settings.meta_url, settings.db_path), Sealer(key_source(settings)),
                                  args.region)
        self.root = Principal(ROOT, "")
        self.json = bool(args.json)


def _run(args: argparse.Namespace, func: Any) -> int:
    try:
        ctx = _Context(args)
    except Exception as exc:  # noqa: BLE001 - one clear line
        print(f"sealbox kms: cannot open the data directory: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        result = func(ctx, args)
    except KmsError as exc:
        print(f"sealbox kms: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    if ctx.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print(result)
    return EXIT_OK


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def _doc(ctx: _Context, key: KmsKey) -> dict[str, Any]:
    from sealbox.http.kms_api import key_metadata

    meta = key_metadata(ctx.service, key)
    meta["Aliases"] = ctx.service.aliases_of(key.key_id)
    meta["KeyRotationEnabled"] = key.rotation_enabled
    meta["MaterialVersions"] = key.material_version
    if key.rotation_enabled:
        meta["NextRotationDate"] = key.next_rotation
    return meta


def _print(result: Any) -> None:
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        if "KeyId" in row and "KeyState" in row:
            rotation = f"rotation every {row.get('RotationPeriodInDays', 365)}d, next {_when(row.get('NextRotationDate'))}" \
                if row.get("KeyRotationEnabled") else "rotation off"
            deletion = f", deleted after {_when(row['DeletionDate'])}" if row.get("DeletionDate") else ""
            print(f"{row['KeyId']}  {row['KeyState']:<15} {','.join(row.get('Aliases', [])) or '-':<24}"
                  f" {row['KeyManager']:<8} versions {row.get('MaterialVersions', 1)}, {rotation}{deletion}")
            print(f"    {row['Arn']}  {row.get('Description', '')}")
        elif "AliasName" in row:
            print(f"{row['AliasName']:<32} -> {row['TargetKeyId']}")
        else:
            print(json.dumps(row, default=str))


def _create(ctx: _Context, args: argparse.Namespace) -> Any:
    policy = open(args.policy_file, encoding="utf-8").read() if args.policy_file else None
    key = ctx.service.create_key(ctx.root, args.description, policy)
    if args.alias:
        ctx.service.create_alias(ctx.root, args.alias, key.key_id)
    return _doc(ctx, ctx.service.describe(ctx.root, key.key_id))


def _list(ctx: _Context, args: argparse.Namespace) -> Any:
    return [_doc(ctx, k) for k in ctx.service.list_keys(ctx.root)]


def _describe(ctx: _Context, args: argparse.Namespace) -> Any:
    return _doc(ctx, ctx.service.describe(ctx.root, args.key))


def _enable(ctx: _Context, args: argparse.Namespace) -> Any:
    return _doc(ctx, ctx.service.set_enabled(ctx.root, args.key, True))


def _disable(ctx: _Context, args: argparse.Namespace) -> Any:
    return _doc(ctx, ctx.service.set_enabled(ctx.root, args.key, False))


def _schedule(ctx: _Context, args: argparse.Namespace) -> Any:
    return _doc(ctx, ctx.service.schedule_deletion(ctx.root, args.key, args.days))


def _cancel(ctx: _Context, args: argparse.Namespace) -> Any:
    return _doc(ctx, ctx.service.cancel_deletion(ctx.root, args.key))


def _alias(ctx: _Context, args: argparse.Namespace) -> Any:
    service = ctx.service
    if args.action == "list":
        return [{"AliasName": a.name, "AliasArn": service.alias_arn(a.name), "TargetKeyId": a.key_id}
                for a in service.list_aliases(ctx.root)]
    if not args.name or (args.action != "delete" and not args.key):
        raise KmsError(KmsCode.VALIDATION, f"alias {args.action} needs a name{'' if args.action == 'delete' else ' and a key'}")
    if args.action == "delete":
        service.delete_alias(ctx.root, args.name)
        return {"AliasName": args.name, "Deleted": True}
    change = service.create_alias if args.action == "create" else service.update_alias
    alias = change(ctx.root, args.name, args.key)
    return {"AliasName": alias.name, "AliasArn": service.alias_arn(alias.name), "TargetKeyId": alias.key_id}


def _rotate(ctx: _Context, args: argparse.Namespace) -> Any:
    if args.automatic:
        key = ctx.service.set_rotation(ctx.root, args.key, args.automatic == "on", args.period)
    else:
        key = ctx.service.rotate_now(ctx.root, args.key)
    doc = _doc(ctx, key)
    doc["RotationPeriodInDays"] = key.rotation_period_days
    return doc
