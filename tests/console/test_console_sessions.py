"""Session tokens and CSRF tokens (``sealbox.console.sessions``), with a stand-in for the identity service:
expiry, tampering, a changed or removed key, and the signing key shared by racing workers."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from sealbox.console.sessions import SESSION_SECONDS, SessionCodec, load_or_create_key
from sealbox.service.identity import Principal


class FakeIdentity:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, str]] = {"AK1": ("alice", "secret-1")}

    def lookup(self, access_key: str) -> tuple[str, str] | None:
        return self.keys.get(access_key)


def codec(identity: FakeIdentity, key: bytes = b"k" * 32) -> SessionCodec:
    return SessionCodec(key, cast(Any, identity))


def test_a_token_verifies_until_it_expires() -> None:
    ident = FakeIdentity()
    c = codec(ident)
    principal = c.authenticate("AK1", "secret-1")
    assert principal == Principal("alice", "AK1")
    token, session = c.issue(principal, now=1000.0)
    again = c.verify(token, now=1000.0 + SESSION_SECONDS - 1)
    assert again is not None and again.principal == principal and again.csrf == session.csrf
    assert c.verify(token, now=1000.0 + SESSION_SECONDS + 1) is None


def test_wrong_secrets_and_unknown_keys_do_not_authenticate() -> None:
    c = codec(FakeIdentity())
    assert c.authenticate("AK1", "secret-2") is None
    assert c.authenticate("AK1", "") is None
    assert c.authenticate("NOPE", "secret-1") is None
    assert c.authenticate("ünï", "x") is None


def test_a_token_dies_with_its_key_or_its_secret() -> None:
    ident = FakeIdentity()
    c = codec(ident)
    token, _ = c.issue(Principal("alice", "AK1"))
    ident.keys["AK1"] = ("alice", "rotated-secret")
    assert c.verify(token) is None
    ident.keys["AK1"] = ("alice", "secret-1")
    assert c.verify(token) is not None
    ident.keys["AK1"] = ("mallory", "secret-1")  # the key now belongs to someone else
    assert c.verify(token) is None
    del ident.keys["AK1"]
    assert c.verify(token) is None


def test_tokens_from_another_key_or_tampered_are_refused() -> None:
    ident = FakeIdentity()
    token, _ = codec(ident, b"a" * 32).issue(Principal("alice", "AK1"))
    assert codec(ident, b"b" * 32).verify(token) is None
    body, mac = token.split(".")
    assert codec(ident, b"a" * 32).verify(body + "x." + mac) is None
    assert codec(ident, b"a" * 32).verify(body) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    c = codec(FakeIdentity())
    _, one = c.issue(Principal("alice", "AK1"))
    _, two = c.issue(Principal("alice", "AK1"))
    assert c.check_csrf(one.sid, one.csrf)
    assert not c.check_csrf(one.sid, two.csrf)
    assert not c.check_csrf(one.sid, "")


def test_flash_messages_are_signed() -> None:
    c = codec(FakeIdentity())
    value = c.flash_cookie("ok", "Created bucket 'x'.")
    assert c.read_flash(value) == ("ok", "Created bucket 'x'.")
    body, mac = value.split(".")
    assert c.read_flash(body + "." + mac[::-1]) is None
    assert codec(FakeIdentity(), b"z" * 32).read_flash(value) is None


def test_racing_workers_get_one_signing_key_kept_private(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_key(tmp_path), range(32)))
    assert len(keys) == 1 and len(next(iter(keys))) == 32
    path = tmp_path / "console-session.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["console-session.key"]  # no temp files left
    assert load_or_create_key(tmp_path) == next(iter(keys))
