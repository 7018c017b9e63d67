"""Data keys for objects and secrets for credentials, sealed under the keyring's master keys.

The service never stores a data key or a credential secret unsealed: each is sealed with a
context that names what it belongs to (bucket, key and object uid; or the access key), so a
sealed value copied onto another row does not open.

SSE-C objects carry an ``ssec1:…`` record (``crypto.ssec``): the Sealer hands those to
``service.sse_c.CustomerKeys`` (``attach_ssec``) for their metadata key only.

SSE-KMS objects carry a key record instead (``crypto.kms_format``, text ``kms1:…``): the Sealer hands
those to the key service's opener (``service.kms_sse.KmsEncryption``, set with ``attach_kms``), which
checks the KMS key's state on every open and so is never answered from this module's cache.

The keyring may change while the server runs (``sealbox keys rotate``): given a ``KeySource``, the
Sealer seals new values under the source's current active key and, meeting a sealed value under a
key id it does not know yet, re-reads the source once before giving up.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.core import ids
from sealbox.core.types import ObjectVersion
from sealbox.crypto import envelope, kms_format, ssec
from sealbox.crypto.errors import MissingMasterKey
from sealbox.crypto.keyring import Keyring


class KeySource(Protocol):
    """Where a process gets its master keys (see ``sealbox.service.keys``)."""

    def current(self) -> Keyring:
        """The keyring now (cheap; re-read when its file changed)."""
        ...

    def refresh(self) -> Keyring:
        """Re-read now (a sealed value names a key id this process has not seen)."""
        ...


class FixedKeySource:
    """Keys fixed for the life of the process (tests, or keys from the environment)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def current(self) -> Keyring:
        return self._keyring

    def refresh(self) -> Keyring:
        return self._keyring


class KmsOpener(Protocol):
    """Opens SSE-KMS key records (``sealbox.service.kms_sse``)."""

    def open_record(self, context: bytes, sealed_text: str) -> bytes:
        """The data key of the object ``context`` (``envelope.object_context``) names; raises if it does not open."""
        ...


class SsecOpener(Protocol):
    """Opens SSE-C key records' metadata keys (``sealbox.service.sse_c``)."""

    def metadata_key(self, context: bytes, sealed_text: str) -> bytes:
        """The key an SSE-C row's metadata is sealed under (``crypto.ssec``: no customer key needed)."""
        ...


_OPENED_KEYS = 16384  # ~200 bytes each; a working set of this many objects never unseals twice


class Sealer:
    def __init__(self, keys: Keyring | KeySource) -> None:
        self._source: KeySource = FixedKeySource(keys) if isinstance(keys, Keyring) else keys
        # Recently opened data keys, keyed by the exact sealed text and identity that opened them:
        # a hot object's GETs skip the unseal. Only keys that authenticated are cached, and a
        # re-sealed key (rotation) has new text, so it is opened afresh.
        self._opened: dict[tuple[str, bytes], bytes] = {}
        self._kms: KmsOpener | None = None
        self._ssec: SsecOpener | None = None

    def attach_kms(self, opener: KmsOpener) -> None:
        self._kms = opener

    def attach_ssec(self, opener: SsecOpener) -> None:
        self._ssec = opener

    @property
    def keyring(self) -> Keyring:
        return self._source.current()

    def _unseal(self, sealed: envelope.SealedKey, context: bytes) -> bytes:
        try:
            return envelope.unseal(sealed, self._source.current(), context)
        except MissingMasterKey:
            return envelope.unseal(sealed, self._source.refresh(), context)

    @staticmethod
    def new_object_uid() -> bytes:
        return ids.random_bytes(16)

    def new_data_key(self, bucket: str, key: str, object_uid: bytes) -> tuple[bytes, str]:
        """A fresh data key for one object version, and its sealed text for the metadata row."""
        data_key = envelope.new_data_key()
        context = envelope.object_context(bucket, key, object_uid)
        sealed = envelope.seal(data_key, self.keyring.active, context).to_text()
        # The metadata of the version is sealed under this key when it commits: no unseal needed then.
        self._remember(sealed, context, data_key)
        return data_key, sealed

    def _remember(self, sealed_text: str, context: bytes, data_key: bytes) -> None:
        if len(self._opened) >= _OPENED_KEYS:
            self._opened.clear()
        self._opened[(sealed_text, context)] = data_key

    def open_data_key(self, bucket: str, key: str, object_uid: bytes, sealed_text: str) -> bytes:
        return self.open_data_key_in(envelope.object_context(bucket, key, object_uid), sealed_text)

    def open_data_key_in(self, context: bytes, sealed_text: str) -> bytes:
        """``open_data_key`` for an identity already encoded (``envelope.object_context``). For an SSE-C
        record (``ssec1:…``) that is the key its metadata is sealed under: the object's data key needs
        the customer's key (``service.sse_c``)."""
        if sealed_text.startswith(ssec.RECORD_PREFIX):
            if self._ssec is None:
                raise MissingMasterKey("SSE-C (no server share store configured)")
            return self._ssec.metadata_key(context, sealed_text)
        if kms_format.is_record(sealed_text):
            # SSE-KMS: the key service opens it, checking its key's state every time (never from _opened)
            if self._kms is None:
                raise MissingMasterKey("SSE-KMS (no key service configured)")
            return self._kms.open_record(context, sealed_text)
        cached = self._opened.get((sealed_text, context))
        if cached is not None:
            return cached
        data_key = self._unseal(envelope.SealedKey.from_text(sealed_text), context)
        self._remember(sealed_text, context, data_key)
        return data_key

    def seal_secret(self, access_key: str, secret: str) -> str:
        """Secrets are variable-length, so a sealed data key wraps an AES-GCM box holding the secret."""
        data_key = envelope.new_data_key()
        context = _secret_context(access_key)
        sealed = envelope.seal(data_key, self.keyring.active, context)
        nonce = secrets.token_bytes(12)
        box = AESGCM(data_key).encrypt(nonce, secret.encode(), context)
        return f"{sealed.to_text()}|{base64.b64encode(nonce + box).decode()}"

    def open_secret(self, access_key: str, sealed_text: str) -> str:
        key_text, _, box_text = sealed_text.partition("|")
        context = _secret_context(access_key)
        data_key = self._unseal(envelope.SealedKey.from_text(key_text), context)
        raw = base64.b64decode(box_text)
        return AESGCM(data_key).decrypt(raw[:12], raw[12:], context).decode()

    def seal_value(self, value: bytes, context: bytes) -> str:
        """A 32-byte key (e.g. KMS key material) sealed under the active master key, bound to ``context``."""
        return envelope.seal(value, self.keyring.active, context).to_text()

    def open_value(self, sealed_text: str, context: bytes) -> bytes:
        return self._unseal(envelope.SealedKey.from_text(sealed_text), context)

    def reseal_value(self, sealed_text: str, context: bytes) -> str:
        return self.seal_value(self.open_value(sealed_text, context), context)

    # -- rotation: the same data key, sealed again under the active master key ----------------------
    def reseal_data_key(self, bucket: str, key: str, object_uid: bytes, sealed_text: str) -> str:
        context = envelope.object_context(bucket, key, object_uid)
        data_key = self._unseal(envelope.SealedKey.from_text(sealed_text), context)
        return envelope.seal(data_key, self.keyring.active, context).to_text()

    def reseal_secret(self, access_key: str, sealed_text: str) -> str:
        """Only the data key is sealed again; the box holding the secret is unchanged."""
        key_text, sep, box_text = sealed_text.partition("|")
        context = _secret_context(access_key)
        data_key = self._unseal(envelope.SealedKey.from_text(key_text), context)
        return f"{envelope.seal(data_key, self.keyring.active, context).to_text()}{sep}{box_text}"

    def current_seal(self, version: ObjectVersion) -> ObjectVersion:
        """``version`` with its data key sealed under the active key, if a rotation began meanwhile.

        Called just before a version's metadata commits: a long upload sealed its data key when it
        started, and a rotation that finished since must not be left with a value under the old key.
        """
        if not version.sealed_key or version.sealed_key.startswith(f"v1:{self.keyring.active.key_id}:") or \
                kms_format.is_record(version.sealed_key) or ssec.is_record(version.sealed_key):
            # SSE-KMS: sealed by the key service; SSE-C: derived from the customer's key (its share rotates)
            return version
        resealed = self.reseal_data_key(version.bucket, version.key, version.object_uid, version.sealed_key)
        return dataclasses.replace(version, sealed_key=resealed)


def _secret_context(access_key: str) -> bytes:
    return b"sealbox-credential\x00" + access_key.encode()
