"""Principals and their access keys: lookup for the signature check, users and keys for the CLI.

A principal is ``root`` (the administrator, implicit) or a user added with ``sealbox users add``;
each has access keys whose secrets are stored sealed (``Sealer.seal_secret``). A request that is
not signed is made by the anonymous principal, which owns nothing and may do only what a bucket
policy grants to everyone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
from dataclasses import dataclass, field

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.policy import RequestContext
from sealbox.service.sealing import Sealer
from sealbox.storage.meta.base import Credential, MetaStore, User

ROOT = "root"
ANONYMOUS = "anonymous"  # the principal of unsigned requests; never a user name
RESERVED_NAMES = frozenset({ROOT, ANONYMOUS})
_USER_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")  # IAM's user-name alphabet
_CACHE_TTL = 5.0  # seconds a worker trusts its cached secret before re-reading (key removal)
_ALNUM_UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Principal:
    """Who makes a request, and the facts about the request that bucket-policy conditions test."""

    name: str
    access_key: str
    context: RequestContext = field(default_factory=RequestContext, compare=False, repr=False)

    @classmethod
    def anonymous(cls, context: RequestContext | None = None) -> Principal:
        return cls(ANONYMOUS, "", context or RequestContext())

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS and not self.access_key

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

    # -- users (the CLI) ---------------------------------------------------------------------------
    def add_user(self, name: str) -> User:
        check_user_name(name)
        user = User(name, time.time())
        if not self._meta.create_user(user):
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"user {name} already exists")
        return user

    def exists(self, name: str) -> bool:
        """True for root and for every added user."""
        return name == ROOT or self._meta.get_user(name) is not None

    def users(self) -> list[User]:
        return self._meta.list_users()

    def remove_user(self, name: str) -> list[str]:
        """Remove a user and all their access keys (the access keys removed are returned).

        Refused while the user owns buckets: they would be left to an owner who no longer exists,
        and a later user of the same name would inherit them.
        """
        if name == ROOT:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, "the root principal cannot be removed")
        owned = [b.name for b in self._meta.list_buckets() if b.owner == name]
        if owned:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"user {name} owns buckets ({', '.join(owned)});"
                               " delete them first")
        removed = self._meta.delete_user(name)
        if removed is None:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"no such user: {name}")
        self._cache.clear()
        return removed

    def create_key(self, name: str) -> tuple[str, str]:
        """A new access key for an existing principal; the secret is returned once, stored sealed."""
        if not self.exists(name):
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"no such user: {name}")
        return self.add_key(name)

    def delete_key(self, name: str, access_key: str) -> None:
        cred = self._meta.get_credential(access_key)
        if cred is None or cred.principal != name:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"user {name} has no access key {access_key}")
        self._meta.delete_credential(access_key)
        self._cache.pop(access_key, None)


def check_user_name(name: str) -> None:
    if not _USER_NAME_RE.fullmatch(name) or name.lower() in RESERVED_NAMES:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"invalid user name {name!r}: use 1-64 of"
                           " A-Z a-z 0-9 _+=,.@- (root and anonymous are reserved)")
