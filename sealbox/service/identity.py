"""Principals and their access keys: lookup for the signature check, creation for the CLI."""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from dataclasses import dataclass

from sealbox.service.sealing import Sealer
from sealbox.storage.meta.base import Credential, MetaStore

ROOT = "root"
_CACHE_TTL = 5.0  # seconds a worker trusts its cached secret before re-reading (key removal)
_ALNUM_UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Principal:
    name: str
    access_key: str

    @property
    def is_root(self) -> bool:
        return self.name == ROOT


def canonical_id(principal: str) -> str:
    """The 64-hex canonical user id S3 shows as Owner/ID."""
    return hashlib.sha256(f"sealbox:{principal}".encode()).hexdigest()


def generate_access_key() -> str:
    return "SB" + "".join(secrets.choice(_ALNUM_UPPER) for _ in range(18))


def generate_secret_key() -> str:
    return secrets.token_urlsafe(30)[:40]


class Identity:
    def __init__(self, meta: MetaStore, sealer: Sealer) -> None:
        self._meta = meta
        self._sealer = sealer
        self._cache: dict[str, tuple[float, str, str] | None] = {}

    def lookup(self, access_key: str) -> tuple[str, str] | None:
        """(principal, secret) for an access key, cached briefly per worker."""
        now = time.monotonic()
        hit = self._cache.get(access_key, ())
        if hit and hit[0] > now:
            return hit[1], hit[2]
        cred = self._meta.get_credential(access_key)
        if cred is None:
            return None
        secret = self._sealer.open_secret(cred.access_key, cred.sealed_secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[access_key] = (now + _CACHE_TTL, cred.principal, secret)
        return cred.principal, secret

    def secret_for(self, access_key: str) -> str | None:
        found = self.lookup(access_key)
        return found[1] if found else None

    def add_key(self, principal: str, access_key: str | None = None, secret: str | None = None) -> tuple[str, str]:
        access_key = access_key or generate_access_key()
        secret = secret or generate_secret_key()
        sealed = self._sealer.seal_secret(access_key, secret)
        self._meta.put_credential(Credential(access_key, principal, sealed, time.time()))
        return access_key, secret

    def keys_of(self, principal: str) -> list[Credential]:
        return [c for c in self._meta.list_credentials() if c.principal == principal]
