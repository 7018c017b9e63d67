"""Console sign-in sessions: signed, expiring tokens that every worker process can verify.

A session is a cookie ``<payload>.<mac>``: the payload (principal, access key, session id, expiry,
a fingerprint of the secret) is JSON in base64url, the MAC is HMAC-SHA256 under a 32-byte key kept
in ``<data_dir>/console-session.key`` (mode 0600, created once, atomically, by whichever worker
comes first). Nothing lives in one process's memory, so a request may land on any worker.

A token is honoured only while the access key still exists, still belongs to the same principal and
still has the same secret (the fingerprint), and its session id was not signed out (the console
store keeps signed-out ids until they expire). CSRF tokens are derived from the session id under
the same key, so they need no storage either; before sign-in a random pre-session cookie plays the
session id's part, which protects the sign-in form itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sealbox.service.identity import Identity, Principal

SESSION_COOKIE = "sealbox_session"
PRESESSION_COOKIE = "sealbox_presession"
FLASH_COOKIE = "sealbox_flash"
SESSION_SECONDS = 12 * 3600
KEY_FILE = "console-session.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(data_dir: Path) -> bytes:
    """The console's signing key; two workers racing on first start both end up with the same one."""
    path = data_dir / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces: the first worker's key wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise RuntimeError(f"{path} is not a 32-byte key")
    return key


@dataclass(frozen=True)
class Session:
    principal: Principal
    sid: str
    expires: float
    csrf: str


class SessionCodec:
    def __init__(self, key: bytes, identity: Identity) -> None:
        self._key = key
        self._identity = identity

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\x00" + data, hashlib.sha256).digest()

    def csrf_for(self, sid: str) -> str:
        return _b64(self._mac(b"csrf", sid.encode()))[:32]

    def check_csrf(self, sid: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_for(sid).encode(), token.encode())

    def _fingerprint(self, access_key: str, secret: str) -> str:
        return _b64(self._mac(b"secret", f"{access_key}\x00{secret}".encode()))[:22]

    # -- sign-in -----------------------------------------------------------------------------
    def authenticate(self, access_key: str, secret: str) -> Principal | None:
        """The principal whose access key and secret these are, compared in constant time."""
        found = self._identity.lookup(access_key) if access_key.isascii() and len(access_key) <= 128 else None
        expected = found[1] if found else secrets.token_urlsafe(30)  # same work whether or not the key exists
        matches = hmac.compare_digest(expected.encode(), secret.encode())
        return Principal(found[0], access_key) if found and matches else None

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, Session]:
        found = self._identity.lookup(principal.access_key)
        if found is None:
            raise ValueError("access key vanished during sign-in")
        sid = secrets.token_urlsafe(18)
        expires = (now or time.time()) + SESSION_SECONDS
        payload = {"p": principal.name, "a": principal.access_key, "s": sid, "e": int(expires),
                   "f": self._fingerprint(principal.access_key, found[1])}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        token = f"{body}.{_b64(self._mac(b'session', body.encode()))}"
        return token, Session(principal, sid, expires, self.csrf_for(sid))

    def verify(self, token: str, now: float | None = None) -> Session | None:
        """The session a cookie stands for, or None if forged, expired, or its key changed."""
        body, _, mac = token.partition(".")
        if not body or not mac:
            return None
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(b"session", body.encode())):
                return None
            payload = json.loads(_unb64(body))
            principal, access_key, sid = str(payload["p"]), str(payload["a"]), str(payload["s"])
            expires, fingerprint = float(payload["e"]), str(payload["f"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= (now or time.time()):
            return None
        found = self._identity.lookup(access_key)
        if found is None or found[0] != principal:
            return None
        if not hmac.compare_digest(self._fingerprint(access_key, found[1]), fingerprint):
            return None
        return Session(Principal(principal, access_key), sid, expires, self.csrf_for(sid))

    # -- flash messages: one signed line shown on the next page ------------------------------
    def flash_cookie(self, kind: str, text: str) -> str:
        body = _b64(json.dumps([kind, text[:500]]).encode())
        return f"{body}.{_b64(self._mac(b'flash', body.encode()))[:22]}"

    def read_flash(self, value: str) -> tuple[str, str] | None:
        body, _, mac = value.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), _b64(self._mac(b"flash", body.encode()))[:22].encode()):
            return None
        try:
            kind, text = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        return (str(kind), str(text)) if kind in ("ok", "error") else None


def new_presession_id() -> str:
    return secrets.token_urlsafe(18)
