"""What SSE-KMS needs of a key service, and its two implementations.

``KeyBackend`` is the interface ``sealbox.service.kms_sse`` encrypts objects through: resolve the key
a write names (checking that it exists, is enabled and may be used by the caller), GenerateDataKey
and Decrypt with an encryption context. ``BuiltinBackend`` is sealbox's own key service
(``sealbox.kms.service``); ``ExternalBackend`` forwards to any endpoint speaking the AWS KMS API
(``--kms-endpoint``; ``sealbox.kms.external``).

The two differ in what sealbox can know: the built-in service's state changes are announced by
the KMS change token, so opened keys are kept exactly until something changes; an external service
announces nothing, so opened keys are kept for ``ttl`` seconds at most (a key disabled there is
refused by sealbox within that time), and its calls block on the network (``blocking``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sealbox.kms.external import KmsClient
from sealbox.kms.model import MANAGED_S3_ALIAS, KmsCode, KmsError
from sealbox.kms.service import KeyService
from sealbox.service.identity import ROOT, Principal

_S3 = Principal(ROOT, "")  # the S3 service itself opening a key it stored (the reader was checked before)

EXTERNAL_TTL = 60.0


class KeyBackend(Protocol):
    blocking: bool  # calls may wait on the network: run them in worker threads
    ttl: float | None  # seconds an opened key may be reused; None: until the KMS change token changes

    def token(self) -> bytes:
        """Changes whenever a key's state may have changed (b"" when unknowable)."""
        ...

    def resolve(self, principal: Principal, ref: str | None) -> str:
        """The ARN of the key a write names (None: the account's aws/s3), checked usable by ``principal``."""
        ...

    def generate(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        """(32-byte plaintext, ciphertext blob, key ARN) of a new key under ``key_arn``."""
        ...

    def decrypt(self, blob: bytes, context: Mapping[str, str], key_arn: str) -> bytes:
        """The plaintext of ``blob``; KmsError (Disabled, InvalidState, NotFound…) if the key refuses."""
        ...

    def authorize_decrypt(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> None:
        """AccessDenied (KmsError) unless ``principal`` may decrypt under ``key_arn`` through S3."""
        ...


class BuiltinBackend:
    blocking = False  # local: a cached key lookup and AES-GCM
    ttl: float | None = None

    def __init__(self, service: KeyService) -> None:
        self.service = service

    def token(self) -> bytes:
        return self.service.store.token()

    def resolve(self, principal: Principal, ref: str | None) -> str:
        key = self.service.managed_s3_key() if not ref else self.service.resolve(ref)
        self.service.authorize(principal, "kms:GenerateDataKey", key, via_s3=True)
        self.service.usable(key)
        return self.service.arn(key.key_id)

    def generate(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        made = self.service.generate_data_key(principal, key_arn, context, via_s3=True)
        return made.plaintext, made.blob, made.key_arn

    def decrypt(self, blob: bytes, context: Mapping[str, str], key_arn: str) -> bytes:
        return self.service.decrypt(_S3, blob, context, via_s3=True).plaintext

    def authorize_decrypt(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> None:
        if principal.is_root:
            return
        try:
            key = self.service.resolve(key_arn)
        except KmsError:
            return  # a key gone: the read fails with NotFound when it opens the record
        self.service.authorize(principal, "kms:Decrypt", key, context, via_s3=True)


class ExternalBackend:
    """SSE-KMS through an external AWS-KMS-API endpoint, with sealbox's own credentials: who may use a key
    there is that service's business; sealbox checks bucket policies only."""

    blocking = True

    def __init__(self, client: KmsClient, ttl: float = EXTERNAL_TTL) -> None:
        self.client = client
        self.ttl: float | None = ttl

    def token(self) -> bytes:
        return b""

    def resolve(self, principal: Principal, ref: str | None) -> str:
        if principal.is_anonymous:
            raise KmsError(KmsCode.ACCESS_DENIED, "An anonymous request cannot use KMS keys")
        meta = self.client.describe_key(ref or MANAGED_S3_ALIAS)
        state = meta.get("KeyState")
        arn = str(meta.get("Arn") or ref)
        if state == "Disabled" or meta.get("Enabled") is False and state != "PendingDeletion":
            raise KmsError(KmsCode.DISABLED, f"{arn} is disabled.")
        if state == "PendingDeletion":
            raise KmsError(KmsCode.INVALID_STATE, f"{arn} is pending deletion.")
        return arn

    def generate(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        return self.client.generate_data_key(key_arn, context)

    def decrypt(self, blob: bytes, context: Mapping[str, str], key_arn: str) -> bytes:
        return self.client.decrypt(blob, context, key_arn)[0]

    def authorize_decrypt(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> None:
        return None
