"""The ``sealbox`` command."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from sealbox.cli.common import add_meta_url, data_dir_of, meta_url_of
from sealbox import config_file
from sealbox.config import Settings, env_default, env_flag
from sealbox.core.libc import forbid_core_dumps
from sealbox.ops.logs import LOG_FORMATS, LOG_LEVELS


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
        freed_grace=args.freed_grace,
        access_log=args.access_log, log_format=args.log_format,
        metrics_token=args.metrics_token or None, metrics_public=args.metrics_public,
        max_connections=args.max_connections,
        max_body_memory_mib=args.max_body_memory,
        kms_endpoint=args.kms_endpoint or None,
        meta_url=meta_url_of(args, data_dir_of(args)),
        public_endpoint=args.public_endpoint or None,
        allow_sse_c_over_http=args.allow_sse_c_over_http,
    )


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the S3 server")
    p.add_argument("--host", default=env_default("HOST", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1 or $SEALBOX_HOST; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=int(env_default("PORT", "9000") or 9000),
                   help="S3 port (default 9000 or $SEALBOX_PORT; 0 picks a free one)")
    p.add_argument("--data-dir", help="data directory (default ./data or $SEALBOX_DATA_DIR)")
    add_meta_url(p)
    p.add_argument("--workers", type=int, default=int(env_default("WORKERS", "0") or 0),
                   help="worker processes (default: number of cores)")
    p.add_argument("--domain", default=env_default("DOMAIN"),
                   help="enable virtual-hosted-style requests for <bucket>.<domain>")
    p.add_argument("--region", default=env_default("REGION", "us-east-1"),
                   help="the region sealbox answers for and signatures name (default us-east-1)")
    p.add_argument("--default-encryption", choices=["AES256"], default=env_default("DEFAULT_ENCRYPTION"),
                   help="encrypt every new object with SSE-S3 unless the bucket says otherwise")
    p.add_argument("--kms-endpoint", default=env_default("KMS_ENDPOINT"),
                   help="SSE-KMS through this AWS-KMS-API endpoint (credentials from AWS_ACCESS_KEY_ID,"
                        " AWS_SECRET_ACCESS_KEY); default: sealbox's own key service")
    p.add_argument("--public-endpoint", default=env_default("PUBLIC_ENDPOINT"), metavar="URL",
                   help="the S3 endpoint as clients reach it (scheme://host[:port]), for the console's presigned"
                        " links (default: the console's host name with the S3 port)")
    p.add_argument("--allow-sse-c-over-http", action="store_true", default=env_flag("ALLOW_SSE_C_OVER_HTTP"),
                   help="accept SSE-C (customer-provided keys) over plain HTTP, for local development only;"
                        " by default such requests get 400 InvalidRequest, as on AWS"
                        " ($SEALBOX_ALLOW_SSE_C_OVER_HTTP=1)")
    p.add_argument("--tls-cert", default=env_default("TLS_CERT"), help="TLS certificate chain (PEM)")
    p.add_argument("--tls-key", default=env_default("TLS_KEY"), help="TLS private key (PEM)")
    p.add_argument("--tls-port", type=int, default=None, help="serve HTTPS on this port beside plain HTTP")
    p.add_argument("--console-port", type=int, default=int(env_default("CONSOLE_PORT", "9001") or 0),
                   help="web console port (default 9001 or $SEALBOX_CONSOLE_PORT; 0 disables it)")
    p.add_argument("--no-console", action="store_true", help="do not serve the web console")
    p.add_argument("--master-key-file", default=env_default("MASTER_KEY_FILE"),
                   help="master key file (default <data dir>/keys/master-keys.json; keep it apart from data)")
    p.add_argument("--log-level", default=env_default("LOG_LEVEL", "info"), choices=LOG_LEVELS,
                   help="server messages at this level and above (default info; debug also logs every"
                        " request unless --access-log says otherwise)")
    p.add_argument("--log-format", default=env_default("LOG_FORMAT", "text"), choices=LOG_FORMATS,
                   help="server messages as text (default) or one JSON object per line")
    p.add_argument("--access-log", default=env_default("ACCESS_LOG"), metavar="-|PATH|off",
                   help="one JSON line per request: - (stderr), a file (reopened on SIGHUP) or off"
                        " (default off; - at --log-level debug)")
    p.add_argument("--metrics-token", default=env_default("METRICS_TOKEN"), metavar="TOKEN",
                   help="bearer token that opens /_sealbox/metrics to non-loopback clients")
    p.add_argument("--metrics-public", action="store_true", default=env_flag("METRICS_PUBLIC"),
                   help="serve /_sealbox/metrics to anyone (default: loopback clients and --metrics-token)")
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
    p.add_argument("--freed-grace", type=float, default=float(env_default("FREED_GRACE", "86400") or 86400),
                   metavar="SECONDS", help="with several gateways (PostgreSQL): keep replaced and deleted blob"
                   " files this long before unlinking them, so GETs streaming them on other gateways finish"
                   " (default 86400 or $SEALBOX_FREED_GRACE)")
    p.add_argument("--max-connections", type=int, default=int(env_default("MAX_CONNECTIONS", "1024") or 1024),
                   help="connections each worker serves at once; beyond, 503 SlowDown (default 1024; 0: no cap)")
    p.add_argument("--max-body-memory", type=int, default=int(env_default("MAX_BODY_MEMORY", "256") or 256),
                   metavar="MIB", help="MiB request bodies in progress may hold per worker; beyond, 503 SlowDown"
                   " (default 256; 0: no cap)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sealbox.bootstrap import initialize
    from sealbox.server import bound_settings, listeners, supervise

    from sealbox.ops import lock, metrics
    from sealbox.storage.meta.pgconn import is_postgres_url

    settings = _settings(args)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        print("sealbox: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if settings.public_endpoint:
        from sealbox.console.presign import check_endpoint

        try:
            settings = dataclasses.replace(settings, public_endpoint=check_endpoint(settings.public_endpoint))
        except ValueError as exc:
            print(f"sealbox: {exc}", file=sys.stderr)
            return 2
    try:
        # Before anything touches the directory; the workers inherit it. Gateways on PostgreSQL share it.
        shared = is_postgres_url(settings.meta_url)
        lock.hold(settings.data_dir, shared=shared)
        # Before anything imports prometheus_client; one directory per gateway when several share one.
        metrics.prepare(settings.data_dir, str(settings.port or os.getpid()) if shared else "")
        socks = listeners(settings)  # bound first: --port 0 picks a free port, reported in the banner
        settings = bound_settings(settings, socks)
        banner = initialize(settings)
    except Exception as exc:  # noqa: BLE001 - any start-up failure ends in one clear line
        print(f"sealbox: cannot start: {exc}", file=sys.stderr)
        return 1
    print(banner, flush=True)
    supervise(settings, socks)
    return 0


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("sealbox")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="sealbox", description="An S3-compatible object store that encrypts.")
    parser.add_argument("--version", action="version", version=f"sealbox {version()}")
    parser.add_argument("--config", metavar="FILE", help="TOML file with the same keys as the flags"
                        " (flags > SEALBOX_* environment > file; default $SEALBOX_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    # Each further command family lives in its own module with a register(subparsers) function.
    import importlib

    for name in ("keys", "users", "maintenance", "lifecycle", "backup", "kms", "migrate"):
        try:
            module = importlib.import_module(f"sealbox.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sealbox.cli.{name}":
                raise
            continue
        module.register(sub)
    every = config_file.leaves(parser)
    for section, leaf in every:
        leaf.set_defaults(_leaf=leaf, _section=section)
        if not any("--config" in a.option_strings for a in leaf._actions):
            leaf.add_argument("--config", metavar="FILE", help=argparse.SUPPRESS)
    # The file is read first: it only sets defaults, so the flags parsed after it win.
    path = config_file.config_path(argv)
    args = parser.parse_args(argv)
    if path is not None:
        try:
            config_file.apply(config_file.load(path), args._leaf, args._section, every, path)
        except config_file.ConfigError as exc:
            parser.error(str(exc))
        args = parser.parse_args(argv)
    for action in args._leaf._actions:  # defaults from SEALBOX_* or the file are checked too
        value = getattr(args, action.dest, None)
        if action.choices is not None and value is not None and value not in action.choices:
            parser.error(f"--{action.dest.replace('_', '-')} {value!r} (from the environment or the config"
                         f" file): choose from {', '.join(map(str, action.choices))}")
    # Every command reads or writes master keys, data keys or secrets (serve: the supervisor
    # bootstraps with the keyring and the workers inherit this; keys, users, scrub): none of it
    # may end up in a core file or be read by another process through ptrace or /proc.
    forbid_core_dumps()
    from sealbox.ops.logs import configure

    # Audit lines (sign-ins, policy, key and user changes) are kept whatever --log-level quiets.
    configure(str(getattr(args, "log_level", "info")), str(getattr(args, "log_format", "text")))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
