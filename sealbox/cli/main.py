"""The ``sealbox`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sealbox.cli.common import data_dir_of
from sealbox.config import Settings, env_default, env_flag
from sealbox.core.libc import forbid_core_dumps


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        data_dir=data_dir_of(args), host=args.host, port=args.port, workers=args.workers, domain=args.domain,
        region=args.region, default_encryption=args.default_encryption,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None, tls_port=args.tls_port,
        console_port=None if args.no_console else args.console_port or None,
        master_key_file=Path(args.master_key_file) if args.master_key_file else None,
        log_level=args.log_level,
        request_timeout=args.request_timeout,
        sigv2=not args.no_sigv2,
        default_object_ownership=args.default_object_ownership,
        lifecycle_day_seconds=args.lifecycle_day_seconds,
    )


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the S3 server")
    p.add_argument("--host", default=env_default("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env_default("PORT", "9000") or 9000))
    p.add_argument("--data-dir", help="data directory (default ./data or $SEALBOX_DATA_DIR)")
    p.add_argument("--workers", type=int, default=int(env_default("WORKERS", "0") or 0),
                   help="worker processes (default: number of cores)")
    p.add_argument("--domain", default=env_default("DOMAIN"),
                   help="enable virtual-hosted-style requests for <bucket>.<domain>")
    p.add_argument("--region", default=env_default("REGION", "us-east-1"))
    p.add_argument("--default-encryption", choices=["AES256"], default=env_default("DEFAULT_ENCRYPTION"),
                   help="encrypt every new object with SSE-S3 unless the bucket says otherwise")
    p.add_argument("--tls-cert", default=env_default("TLS_CERT"))
    p.add_argument("--tls-key", default=env_default("TLS_KEY"))
    p.add_argument("--tls-port", type=int, default=None, help="serve HTTPS on this port beside plain HTTP")
    p.add_argument("--console-port", type=int, default=int(env_default("CONSOLE_PORT", "9001") or 0),
                   help="web console port (default 9001 or $SEALBOX_CONSOLE_PORT; 0 disables it)")
    p.add_argument("--no-console", action="store_true", help="do not serve the web console")
    p.add_argument("--master-key-file", default=env_default("MASTER_KEY_FILE"))
    p.add_argument("--log-level", default=env_default("LOG_LEVEL", "info"))
    p.add_argument("--request-timeout", type=float, default=float(env_default("REQUEST_TIMEOUT", "30") or 30),
                   help="seconds a client may stall while sending a request before it is cut off (default 30)")
    p.add_argument("--no-sigv2", action="store_true", default=env_flag("NO_SIGV2"),
                   help="refuse AWS Signature Version 2 (headers, presigned URLs, POST forms) with 400"
                        " InvalidRequest, as AWS does ($SEALBOX_NO_SIGV2=1)")
    p.add_argument("--default-object-ownership", choices=["BucketOwnerEnforced", "BucketOwnerPreferred",
                                                           "ObjectWriter"],
                   default=env_default("DEFAULT_OBJECT_OWNERSHIP", "BucketOwnerEnforced"),
                   help="Object Ownership of new buckets that do not ask (default BucketOwnerEnforced: ACLs"
                        " disabled, as on AWS since 2023; ObjectWriter restores ACLs on new buckets)")
    p.add_argument("--lifecycle-day-seconds", type=float, default=86400.0, metavar="N",
                   help="FOR TESTING ONLY: a lifecycle rule's day lasts N seconds (default 86400)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sealbox.bootstrap import initialize
    from sealbox.server import bound_settings, listeners, supervise

    settings = _settings(args)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        print("sealbox: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        socks = listeners(settings)  # bound first: --port 0 picks a free port, reported in the banner
        settings = bound_settings(settings, socks)
        banner = initialize(settings)
    except Exception as exc:  # noqa: BLE001 - any start-up failure ends in one clear line
        print(f"sealbox: cannot start: {exc}", file=sys.stderr)
        return 1
    print(banner, flush=True)
    supervise(settings, socks)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sealbox", description="An S3-compatible object store that encrypts.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    # Each further command family lives in its own module with a register(subparsers) function.
    import importlib

    for name in ("keys", "users", "maintenance", "lifecycle"):
        try:
            module = importlib.import_module(f"sealbox.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sealbox.cli.{name}":
                raise
            continue
        module.register(sub)
    args = parser.parse_args(argv)
    # Every command reads or writes master keys, data keys or secrets (serve: the supervisor
    # bootstraps with the keyring and the workers inherit this; keys, users, scrub): none of it
    # may end up in a core file or be read by another process through ptrace or /proc.
    forbid_core_dumps()
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO) if hasattr(args, "log_level")
                        else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Audit lines (console sign-ins) are kept whatever --log-level quiets.
    logging.getLogger("sealbox.audit").setLevel(logging.INFO)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
