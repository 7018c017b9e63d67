"""Composition root: builds the stores, the keyring and the services of one worker process, once,
and the handlers that share them (the S3 API and, when it listens, the web console)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sealbox.core.acl import Ownership
from sealbox.config import Settings, env_default
from sealbox.crypto.keyring import Keyring, keyring_from_env, load_keyring
from sealbox.http.app import S3App
from sealbox.http.connection import Handler
from sealbox.http.handlers import Services
from sealbox.kms.backend import EXTERNAL_TTL, BuiltinBackend, ExternalBackend
from sealbox.kms.external import Credentials, KmsClient
from sealbox.kms.service import KeyService
from sealbox.service import freed, sse_c
from sealbox.service.buckets import BucketService
from sealbox.service.cors import CorsService
from sealbox.service.identity import Identity
from sealbox.service.keys import key_source
from sealbox.service.metadata import MetadataSealer
from sealbox.service.kms_sse import KmsEncryption
from sealbox.service.objects import ObjectService
from sealbox.service.sealing import Sealer
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.stores import open_kms_store, open_meta_store

IO_THREADS = 16  # fsync and hashing wait on the disk and release the GIL: more threads than cores pay off


def load_master_keys(settings: Settings) -> Keyring:
    """Master keys from SEALBOX_MASTER_KEYS when set, else from the key file (which must be 0600)."""
    from_env = env_default("MASTER_KEYS")
    if from_env:
        return keyring_from_env(from_env)
    return load_keyring(settings.keyring_path)


def build_key_service(settings: Settings, sealer: Sealer) -> tuple[KmsEncryption, KeyService | None]:
    """SSE-KMS through sealbox's own key service (which also answers the KMS API), or an external one."""
    store = open_kms_store(settings.meta_url, settings.db_path)
    if settings.kms_endpoint:
        client = KmsClient(settings.kms_endpoint, Credentials.from_environment(),
                           os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings.region)
        ttl = float(env_default("KMS_CACHE_SECONDS", str(EXTERNAL_TTL)) or EXTERNAL_TTL)
        return KmsEncryption(ExternalBackend(client, ttl), store), None
    keys = KeyService(store, sealer, settings.region)
    return KmsEncryption(BuiltinBackend(keys), store), keys


def build_services(settings: Settings, observe_commit: Callable[[float], None] | None = None) -> Services:
    # A key source, not a fixed keyring: `sealbox keys rotate` changes the keys while workers run.
    sealer = Sealer(key_source(settings))
    # SSE-KMS: key records (kms1:…) are opened by the key service, through the Sealer.
    kms, keys = build_key_service(settings, sealer)
    sealer.attach_kms(kms)
    # SSE rows' ETags, checksums and metadata are sealed under their data keys (service/metadata.py).
    meta = open_meta_store(settings.meta_url, settings.db_path, MetadataSealer(sealer), observe_commit)
    ssec = sse_c.attach(meta, sealer)  # SSE-C records (ssec1:…): their server share lives in the store
    # Several gateways: replaced blobs are unlinked after a grace, not at once (service/freed.py).
    blobs = freed.for_store(LocalBlobStore(settings.data_dir), meta, meta.shared)
    identity = Identity(meta, sealer)
    buckets = BucketService(meta, settings.region, settings.default_encryption,
                            Ownership(settings.default_object_ownership))
    pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="sealbox-io")
    objects = ObjectService(meta, blobs, sealer, buckets, pool, kms, ssec)
    return Services(settings=settings, identity=identity, buckets=buckets, objects=objects,
                    cors=CorsService(meta, buckets), kms=keys)


def build_handlers(settings: Settings, kinds: set[str]) -> dict[str, Handler]:
    """The handlers of one worker by listener kind ("s3", "console"), all on ONE set of services:
    one metadata connection set and group-commit writer, one I/O thread pool, one keyring source,
    one credential cache per worker, whichever port a request arrives on."""
    from sealbox.ops import wiring
    from sealbox.ops.metrics import TaskProgress

    ops = wiring.observer(settings)
    services = build_services(settings, ops.observe_commit)
    ops.keyring_of(services.objects.sealer)
    handlers: dict[str, Handler] = {}
    if "s3" in kinds:
        handlers["s3"] = S3App(services, ops.requests)
    if "console" in kinds:
        from sealbox.console.app import ConsoleApp  # jinja2 and templates only where the console listens
        from sealbox.console.presign import S3Endpoint

        s3 = S3Endpoint(settings.public_endpoint, "https" if settings.tls_cert else "http",
                        settings.tls_port or settings.port)
        console = ConsoleApp(services, settings.data_dir, settings.meta_url, s3,
                             lambda: TaskProgress(ops.metrics, "console_job"))
        console.ops = ops.requests.endpoints.answer_exchange
        handlers["console"] = console
    return handlers
