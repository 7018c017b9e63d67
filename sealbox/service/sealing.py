"""Data keys for objects and secrets for credentials, sealed under the keyring's master keys.

The service never stores a data key or a credential secret unsealed: each is sealed with a
context that names what it belongs to (bucket, key and object uid; or the access key), so a
sealed value copied onto another row does not open.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.crypto import envelope
from sealbox.crypto.keyring import Keyring


class Sealer:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @staticmethod
    def new_object_uid() -> bytes:
        return secrets.token_bytes(16)

    def new_data_key(self, bucket: str, key: str, object_uid: bytes) -> tuple[bytes, str]:
        """A fresh data key for one object version, and its sealed text for the metadata row."""
        data_key = envelope.new_data_key()
        sealed = envelope.seal(data_key, self.keyring.active, envelope.object_context(bucket, key, object_uid))
        return data_key, sealed.to_text()

    def open_data_key(self, bucket: str, key: str, object_uid: bytes, sealed_text: str) -> bytes:
        sealed = envelope.SealedKey.from_text(sealed_text)
        return envelope.unseal(sealed, self.keyring, envelope.object_context(bucket, key, object_uid))

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
        data_key = envelope.unseal(envelope.SealedKey.from_text(key_text), self.keyring, context)
        raw = base64.b64decode(box_text)
        return AESGCM(data_key).decrypt(raw[:12], raw[12:], context).decode()


def _secret_context(access_key: str) -> bytes:
    return b"sealbox-credential\x00" + access_key.encode()
