"""First start and every start: data directory, master keys, root credentials, the banner."""

from __future__ import annotations

import os

from sealbox.config import Settings, env_default
from sealbox.crypto.keyring import Keyring, keyring_from_env, load_or_create_keyring
from sealbox.service.identity import ROOT, Identity
from sealbox.service.keys import KeyCheckError, describe_source, needed_key_ids, verify_keys
from sealbox.service.metadata import MetadataSealer, seal_existing
from sealbox.service.sealing import Sealer
from sealbox.storage.meta.base import MetaStore
from sealbox.storage.meta.stores import describe, open_meta_store, remember_meta_url


def initialize(settings: Settings) -> str:
    """Prepare ``settings.data_dir`` and return the start-up message (credentials shown once)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    meta = open_meta_store(settings.meta_url, settings.db_path)  # migrates the schema (SQLite or PostgreSQL)
    remember_meta_url(settings.data_dir, settings.meta_url)
    try:
        keyring, created_keys = _master_keys(settings, meta)
        # Never serve undecryptable data as if it were fine: every key id the stored values name
        # must be present, and each key must really open what was sealed under its id.
        verify_keys(meta, keyring, describe_source(settings))
        identity = Identity(meta, Sealer(keyring))
        lines = [f"sealbox: data in {settings.data_dir.resolve()}"]
        if settings.meta_url:
            lines.append(f"sealbox: metadata in {describe(settings.meta_url, settings.db_path)}")
        lines += _seal_clear_metadata(settings, keyring)
        if created_keys:
            lines.append(f"sealbox: created master key {keyring.active.key_id} in {settings.keyring_path}"
                         " (mode 0600) - back it up: without it encrypted objects cannot be read")
        access_key, secret = _root_credentials(meta, identity)
        scheme = "https" if settings.tls_cert and not settings.tls_port else "http"
        endpoint = f"{scheme}://{settings.host}:{settings.port}"
        lines.append(f"sealbox: S3 endpoint {endpoint}")
        if settings.tls_port:
            lines.append(f"sealbox: S3 TLS endpoint https://{settings.host}:{settings.tls_port}")
        if settings.console_port:
            from sealbox.console.app import prepare_console

            prepare_console(settings.data_dir, settings.meta_url)
            lines.append(f"sealbox: web console {scheme}://{settings.host}:{settings.console_port}/")
        if secret is not None:
            lines += ["sealbox: root credentials (shown once, store them now):",
                      f"  access key: {access_key}", f"  secret key: {secret}",
                      f"  try: AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} "
                      f"aws --endpoint-url {endpoint} s3 ls"]
        elif env_default("ACCESS_KEY") and env_default("SECRET_KEY"):
            lines.append(f"sealbox: root access key {access_key} (secret from $SEALBOX_SECRET_KEY)")
        else:
            lines.append(f"sealbox: root access key {access_key} (secret was shown on first start)")
        return "\n".join(lines)
    finally:
        meta.close()


def _seal_clear_metadata(settings: Settings, keyring: Keyring) -> list[str]:
    """Seal what a data directory written before sealed metadata holds in the clear (the ETags,
    checksums and metadata of SSE objects): resumable, and free once nothing is left."""
    cipher = MetadataSealer(Sealer(keyring))
    keyed = open_meta_store(settings.meta_url, settings.db_path, cipher)
    try:
        report = seal_existing(keyed, cipher)
    finally:
        keyed.close()
    lines = []
    if report.total:
        counts = ", ".join(f"{n} {kind}(s)" for kind, n in report.sealed.items() if n)
        lines.append(f"sealbox: sealed the ETags, checksums and metadata of encrypted objects: {counts}")
    if not report.erased:
        lines.append("sealbox: another process was reading the database, so its write-ahead log may keep the"
                     " values as they were before sealing until SQLite reuses it")
    if report.failed:
        lines.append(f"sealbox: {len(report.failed)} encrypted row(s) left with clear metadata (their data key"
                     " does not open; run `sealbox scrub`)")
    return lines


def _master_keys(settings: Settings, meta: MetaStore) -> tuple[Keyring, bool]:
    """The keyring (and whether it was just created): from SEALBOX_MASTER_KEYS, else the key file.

    A key file is created only for a store that holds nothing sealed yet: a missing file in front of
    encrypted data is lost keys, not a first start.
    """
    from_env = env_default("MASTER_KEYS")
    if from_env:
        return keyring_from_env(from_env), False
    path = settings.keyring_path
    if not os.path.lexists(path):
        needed = sorted(needed_key_ids(meta))
        if needed:
            raise KeyCheckError(f"the key file {path} is missing and stored data needs master key(s)"
                                f" {', '.join(needed)}; restore it from your backup"
                                " (or set SEALBOX_MASTER_KEYS)")
    return load_or_create_keyring(path)


def _root_credentials(meta: MetaStore, identity: Identity) -> tuple[str, str | None]:
    """Root keys from SEALBOX_ACCESS_KEY/SEALBOX_SECRET_KEY, or made once on first start."""
    wanted_key, wanted_secret = env_default("ACCESS_KEY"), env_default("SECRET_KEY")
    if wanted_key and wanted_secret:
        if identity.lookup(wanted_key) != (ROOT, wanted_secret):
            identity.add_key(ROOT, wanted_key, wanted_secret)
        return wanted_key, None
    existing = identity.keys_of(ROOT)
    if existing:
        return existing[0].access_key, None
    return identity.add_key(ROOT)
