"""Settings: one typed, frozen value built from the command line and the environment, passed explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 9000
    workers: int = 0  # 0 = number of cores
    domain: str | None = None  # enables virtual-hosted-style addressing: <bucket>.<domain>
    region: str = "us-east-1"
    default_encryption: str | None = None  # "AES256": encrypt every new object (AWS's 2023 behaviour)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_port: int | None = None  # an extra HTTPS listener beside the plain one
    console_port: int | None = 9001  # the web console listens here; None or 0 disables it
    master_key_file: Path | None = None  # default: <data_dir>/keys/master-keys.json
    log_level: str = "info"
    # Seconds a client may stay silent while sending a request head or body before the connection is
    # dropped (slow or stalled clients must not hold workers, descriptors and temp files forever).
    request_timeout: float = 30.0
    # Accept AWS Signature Version 2 (headers, query-string URLs, POST forms). AWS deprecated it;
    # off (--no-sigv2), such requests get 400 InvalidRequest as in AWS regions without it.
    sigv2: bool = True
    # Object Ownership of new buckets without x-amz-object-ownership: BucketOwnerEnforced (ACLs
    # disabled, AWS's default since April 2023) or ObjectWriter / BucketOwnerPreferred (ACLs on).
    default_object_ownership: str = "BucketOwnerEnforced"
    # FOR TESTING ONLY: the length of a lifecycle "day" in seconds (issue 17); rules say days, and
    # tests watch objects expire in seconds. 86400 in production.
    lifecycle_day_seconds: float = 86400.0
    # Seconds a replaced or deleted blob file stays on disk before it is unlinked, when the store is
    # shared (PostgreSQL: several gateways): longer than any GET takes (sealbox.service.freed.FREED_GRACE).
    freed_grace: float = 86400.0
    # Operations (sealbox.ops): the access log ("-" stderr, a path, "off"; None: stderr at --log-level
    # debug, else off), the format of server messages, who may read /_sealbox/metrics besides loopback.
    access_log: str | None = None
    log_format: str = "text"  # "text" or "json"
    metrics_token: str | None = None
    metrics_public: bool = False

    @property
    def access_log_target(self) -> str:
        if self.access_log is not None:
            return self.access_log
        return "-" if self.log_level == "debug" else "off"
    # Per worker: connections served at once, and memory request bodies in progress may reserve (each
    # up to 2 MiB, sealbox.http.connection.BODY_RESERVE); beyond either a request gets 503 SlowDown.
    # 0 turns a cap off.
    max_connections: int = 1024
    max_body_memory_mib: int = 256
    # SSE-KMS through an external service speaking the AWS KMS API (credentials: AWS_* environment
    # variables); None: sealbox's own key service, which also answers the KMS API on the S3 port.
    kms_endpoint: str | None = None
    # The metadata store (issue 19): postgresql://USER[:PASSWORD]@HOST[:PORT]/DB for PostgreSQL, shared by
    # several gateways; None: SQLite in the data directory (db_path). Never logged with its password.
    meta_url: str | None = None
    # The S3 endpoint as clients reach it (e.g. https://s3.example.com behind a proxy), for the links
    # the console presigns; None: the console's own host name with this server's S3 port and scheme.
    public_endpoint: str | None = None
    # SSE-C over plain HTTP: refused as AWS refuses it (the key would cross the network in the clear),
    # unless allowed for local development and tests (--allow-sse-c-over-http).
    allow_sse_c_over_http: bool = False

    @property
    def keyring_path(self) -> Path:
        return self.master_key_file or self.data_dir / "keys" / "master-keys.json"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "meta.sqlite3"

    @property
    def effective_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


def env_default(name: str, default: str | None = None) -> str | None:
    """Environment variables are all spelled SEALBOX_<NAME>."""
    return os.environ.get(f"SEALBOX_{name}", default)


def env_flag(name: str) -> bool:
    """A yes/no environment variable (SEALBOX_<NAME>): 1, true, yes or on (any case) mean yes."""
    return (env_default(name) or "").strip().lower() in ("1", "true", "yes", "on")
