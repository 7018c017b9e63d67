"""What the console does to one object, in service terms: change its encryption, delete it.

Changing encryption is exactly a CopyObject in place (``sealbox.service.copy``): the new object —
a new version when versioning is on, the old version keeping its state — is written by the acting
principal, with the source's metadata (directive COPY) and the chosen encryption. The principal
acts with the policy context of the CopyObject request an S3 client would send for it: the
browser's request facts plus ``x-amz-copy-source``, ``x-amz-metadata-directive: COPY`` and, to
encrypt, ``x-amz-server-side-encryption: AES256`` (or ``aws:kms`` / ``aws:kms:dsse`` with
``x-amz-server-side-encryption-aws-kms-key-id`` and ``…-bucket-key-enabled``) — so "deny
unencrypted writes" and "only this KMS key" policies hold for the console as for an S3 client.
"""

from __future__ import annotations

import enum
import json
import urllib.parse
from dataclasses import dataclass

from sealbox.console.explain import explain
from sealbox.console.policy_context import acting_on
from sealbox.console.services import ServiceSet as Services
from sealbox.core.errors import SealboxError
from sealbox.core.types import SSE_AES256, SSE_C
from sealbox.service.copy import CopyParams, copy_object
from sealbox.service.identity import Principal
from sealbox.service.kms_sse import KMS_MODES, SSE_DSSE, SSE_KMS, KmsRequest, kms_info


class Action(enum.Enum):
    ENCRYPT = "encrypt"  # Server-side encryption: Enable, Amazon S3 key (SSE-S3)
    DECRYPT = "decrypt"  # Server-side encryption: Disable
    DELETE = "delete"
    EMPTY = "empty"  # Empty bucket: delete every version and delete marker (an item names one version)


def version_item(key: str, version_id: str) -> str:
    """An item of an Empty bucket job: one version, as JSON (a key may hold any character)."""
    return json.dumps([key, version_id], ensure_ascii=False)


def parse_version_item(item: str) -> tuple[str, str]:
    key, version_id = json.loads(item)
    return str(key), str(version_id)


def item_label(action: str, item: str) -> str:
    """How a job's item is shown: its key, and for Empty bucket the version too."""
    if action == Action.EMPTY.value:
        key, version_id = parse_version_item(item)
        return f"{key} (version {version_id})"
    return item


@dataclass(frozen=True)
class Encryption:
    """The encryption the console rewrites an object with: none, SSE-S3, SSE-KMS or DSSE-KMS."""

    sse: str | None  # None: no encryption
    kms_key_id: str | None = None  # SSE-KMS / DSSE-KMS: key id, ARN or alias (None: aws/s3)
    bucket_key: bool = False  # SSE-KMS only

    def job_action(self) -> str:
        """How a bulk job stores it: "encrypt" (SSE-S3), "decrypt", or "encrypt:" + JSON for KMS."""
        if self.sse is None:
            return Action.DECRYPT.value
        if self.sse not in KMS_MODES:
            return Action.ENCRYPT.value
        return "encrypt:" + json.dumps({"sse": self.sse, "key": self.kms_key_id, "bucket_key": self.bucket_key})

    @classmethod
    def of_job(cls, text: str) -> tuple[Action, Encryption | None]:
        if text.startswith("encrypt:"):
            doc = json.loads(text[len("encrypt:"):])
            return Action.ENCRYPT, cls(str(doc["sse"]), doc.get("key"), bool(doc.get("bucket_key")))
        action = Action(text)
        if action in (Action.DELETE, Action.EMPTY):
            return action, None
        return action, SSE_S3 if action is Action.ENCRYPT else NO_ENCRYPTION

    def describe(self) -> str:
        if self.sse is None:
            return "disabled"
        if self.sse == SSE_AES256:
            return "Amazon S3 key (SSE-S3)"
        key = self.kms_key_id or "the AWS managed key aws/s3"
        kind = "dual-layer, DSSE-KMS" if self.sse == SSE_DSSE else "SSE-KMS"
        return f"AWS KMS key ({kind}) {key}" + (", with an S3 Bucket Key" if self.bucket_key else "")

    def headers(self) -> dict[str, str]:
        """The request headers of the equivalent CopyObject, for policy conditions."""
        if self.sse is None:
            return {}
        out = {"x-amz-server-side-encryption": self.sse}
        if self.kms_key_id:
            out["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        if self.sse == SSE_KMS and self.bucket_key:
            out["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
        return out

    def kms(self) -> KmsRequest | None:
        if self.sse not in KMS_MODES:
            return None
        return KmsRequest(self.kms_key_id, None, self.bucket_key if self.sse == SSE_KMS else None)


SSE_S3 = Encryption(SSE_AES256)
NO_ENCRYPTION = Encryption(None)


def encryption_from_form(sse: str, key_type: str, kms_choice: str, kms_arn: str, bucket_key: str) -> Encryption:
    """The Edit server-side encryption form: Disable / Enable with a key type, a KMS key, a Bucket Key."""
    if sse != "enable":
        return NO_ENCRYPTION
    if key_type not in ("sse-kms", "dsse-kms"):
        return SSE_S3
    key = kms_arn.strip() if kms_choice == "arn" else kms_choice.strip()
    return Encryption(SSE_KMS if key_type == "sse-kms" else SSE_DSSE, key or None,
                      key_type == "sse-kms" and bucket_key == "enable")


def object_encryption(sse: str | None, sealed_key: str | None) -> str:
    """What the object overview says of an object's encryption key type."""
    if not sse:
        return "None"
    if sse == SSE_AES256:
        return "Amazon S3 key (SSE-S3)"
    if sse == SSE_C:
        return "Customer-provided key (SSE-C)"
    info = kms_info(sealed_key)
    kind = "Dual-layer AWS KMS key (DSSE-KMS)" if sse == SSE_DSSE else "AWS Key Management Service key (SSE-KMS)"
    return kind + (" with an S3 Bucket Key" if info is not None and info.bucket_key else "")


@dataclass(frozen=True)
class Outcome:
    state: str  # "ok", "skipped" or "failed"
    reason: str | None = None
    version_id: str | None = None


DOING = {Action.ENCRYPT: "encrypt {key} in {bucket}", Action.DECRYPT: "remove the encryption of {key} in {bucket}",
         Action.DELETE: "delete {key} from {bucket}", Action.EMPTY: "delete {key} from {bucket}"}


def describe(services: Services, principal: Principal, exc: SealboxError, bucket: str, key: str,
             action: Action) -> str:
    """The failure of one item as a sentence with its context (``sealbox.console.explain``)."""
    doing = DOING[action].format(key=key, bucket=bucket)
    s3_action = {Action.DELETE: "s3:DeleteObject", Action.EMPTY: "s3:DeleteObjectVersion"}.get(action, "s3:PutObject")
    return explain(services, acting_on(principal, bucket, key), exc, doing, bucket, key, action=s3_action,
                   encrypting=action is Action.ENCRYPT)


SSE_C_REASON = ("encrypted with a customer-provided key (SSE-C): the console cannot open, download or"
                " re-encrypt it without that key")


async def set_encryption(services: Services, principal: Principal, bucket: str, key: str,
                         encryption: Encryption) -> Outcome:
    """Rewrite the current version of ``key`` with ``encryption`` (SSE-S3, SSE-KMS, DSSE-KMS) or without it."""
    headers = {"x-amz-copy-source": f"{bucket}/{urllib.parse.quote(key)}", "x-amz-metadata-directive": "COPY",
               **encryption.headers()}
    principal = acting_on(principal, bucket, key, headers=headers)
    current = services.objects.lookup(principal, bucket, key, None)
    if current.sse == SSE_C:
        return Outcome("skipped", SSE_C_REASON)
    if encryption.sse is None:
        if not current.sse:
            return Outcome("skipped", "already not encrypted")
        rule = services.buckets.default_encryption(services.buckets.get(principal, bucket, "s3:PutObject"))
        if rule is not None:
            return Outcome("failed", "the bucket's default encryption encrypts every new object;"
                           " disable it first")
    params = CopyParams(metadata_directive="COPY", sse=encryption.sse, kms=encryption.kms())
    result = await copy_object(services.objects, principal, bucket, key, None, bucket, key, params)
    return Outcome("ok", version_id=result.version.version_id)


async def apply(services: Services, principal: Principal, bucket: str, key: str, action: Action,
                encryption: Encryption | None = None) -> Outcome:
    """One item of a bulk job; a domain error becomes a failed outcome with its reason."""
    try:
        if action is Action.EMPTY:
            key, version_id = parse_version_item(key)
            await services.objects.delete(acting_on(principal, bucket, key, query={"versionId": version_id}),
                                          bucket, key, version_id)
            return Outcome("ok")
        if action is Action.DELETE:
            await services.objects.delete(acting_on(principal, bucket, key), bucket, key, None)
            return Outcome("ok")
        chosen = encryption or (SSE_S3 if action is Action.ENCRYPT else NO_ENCRYPTION)
        return await set_encryption(services, principal, bucket, key, chosen)
    except SealboxError as exc:
        return Outcome("failed", describe(services, principal, exc, bucket, key, action))
