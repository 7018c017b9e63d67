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
import time
import urllib.parse
from dataclasses import dataclass

from sealbox.console.explain import explain
from sealbox.console.policy_context import acting_on
from sealbox.console.services import ServiceSet as Services
from sealbox.console.render import when
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.object_lock import LOCKED_MESSAGE, deletion_blocker
from sealbox.core.types import SSE_AES256, SSE_C, ObjectLock, ObjectVersion
from sealbox.ops.logs import audit
from sealbox.service.copy import CopyParams, copy_object
from sealbox.service.object_lock import may_bypass
from sealbox.service.identity import Principal
from sealbox.service.kms_sse import KMS_MODES, SSE_DSSE, SSE_KMS, KmsRequest, kms_info


class Action(enum.Enum):
    ENCRYPT = "encrypt"  # Server-side encryption: Enable, Amazon S3 key (SSE-S3)
    DECRYPT = "decrypt"  # Server-side encryption: Disable
    DELETE = "delete"
    EMPTY = "empty"  # Empty bucket: delete every version and delete marker (an item names one version)
    PURGE = "purge"  # Delete the unencrypted older versions under a selection (an item names one version)


VERSION_ACTIONS = (Action.EMPTY, Action.PURGE)  # whose items name one version each
# The console asks to bypass GOVERNANCE retention, as AWS's console does ("x-amz-bypass-governance-
# retention: true" on its deletes): it counts only with s3:BypassGovernanceRetention (service.object_lock).
BYPASS_HEADERS = {"x-amz-bypass-governance-retention": "true"}


def version_item(key: str, version_id: str) -> str:
    """An item of an Empty bucket job: one version, as JSON (a key may hold any character)."""
    return json.dumps([key, version_id], ensure_ascii=False)


def parse_version_item(item: str) -> tuple[str, str]:
    key, version_id = json.loads(item)
    return str(key), str(version_id)


def item_label(action: str, item: str) -> str:
    """How a job's item is shown: its key, and for Empty bucket the version too."""
    if action in (Action.EMPTY.value, Action.PURGE.value):
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
        if action in (Action.DELETE, *VERSION_ACTIONS):
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
         Action.DELETE: "delete {key} from {bucket}", Action.EMPTY: "delete {key} from {bucket}",
         Action.PURGE: "permanently delete {key} from {bucket}"}


def describe(services: Services, principal: Principal, exc: SealboxError, bucket: str, key: str,
             action: Action) -> str:
    """The failure of one item as a sentence with its context (``sealbox.console.explain``)."""
    doing = DOING[action].format(key=key, bucket=bucket)
    s3_action = {Action.DELETE: "s3:DeleteObject", Action.EMPTY: "s3:DeleteObjectVersion",
                 Action.PURGE: "s3:DeleteObjectVersion"}.get(action, "s3:PutObject")
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


def lock_reason(lock: ObjectLock, may_bypass: bool, now: float, asked: bool = True) -> str | None:
    """Why Object Lock keeps a version now, in words with its date (None: it does not). The decision is
    ``core.object_lock.deletion_blocker``'s, the store's own rule."""
    if deletion_blocker(lock, now, may_bypass) is None:
        return None
    if lock.legal_hold:
        return "Object Lock: the version is under a legal hold (remove the hold first)"
    until = when(lock.retain_until or 0)
    if lock.mode == "COMPLIANCE":
        return f"Object Lock: the version is under COMPLIANCE retention until {until}; nobody can delete it before then"
    if not asked:
        return (f"Object Lock: the version is under GOVERNANCE retention until {until}, which this action does"
                " not bypass (delete the version from Show versions)")
    return (f"Object Lock: the version is under GOVERNANCE retention until {until}, and you do not have the"
            " s3:BypassGovernanceRetention permission")


def locked_reason(services: Services, principal: Principal, bucket: str, key: str, version_id: str,
                  bypass: bool) -> str:
    """The reason a refused delete of a version gives, read back from the version's own lock."""
    try:
        found, version = services.objects.lookup_in(principal, bucket, key, version_id, "s3:DeleteObjectVersion")
    except SealboxError:
        return "Object Lock protects the version"
    why = lock_reason(version.lock, may_bypass(principal, found, key, bypass), time.time(), bypass)
    return why or "Object Lock protects the version"


async def delete_version(services: Services, principal: Principal, bucket: str, key: str,
                         version_id: str, *, bypass: bool = True) -> Outcome:
    """Permanently delete one version (or delete marker). Object Lock is the store's to enforce, in the
    delete's transaction; a version it keeps is "skipped", with the reason. ``bypass``: ask to bypass
    GOVERNANCE (as AWS's console does; Empty bucket does not)."""
    acting = acting_on(principal, bucket, key, query={"versionId": version_id}, headers=BYPASS_HEADERS if bypass else None)
    try:
        await services.objects.delete(acting, bucket, key, version_id, bypass_governance=bypass)
    except SealboxError as exc:
        if exc.code is ErrorCode.ACCESS_DENIED and exc.message == LOCKED_MESSAGE:
            return Outcome("skipped", locked_reason(services, acting, bucket, key, version_id, bypass))
        raise
    audit("object.delete", f"version {version_id} of {bucket}/{key} deleted", principal=principal.name,
          bucket=bucket, key=key, version_id=version_id, via="console")
    return Outcome("ok")


def version_encryption(version: ObjectVersion) -> Encryption:
    """A version's own encryption, as a copy would ask for it (its KMS key and Bucket Key too)."""
    if not version.sse:
        return NO_ENCRYPTION
    info = kms_info(version.sealed_key)
    if version.sse in KMS_MODES and info is not None:
        return Encryption(version.sse, info.key_arn, info.bucket_key and version.sse == SSE_KMS)
    return Encryption(version.sse)


async def restore_version(services: Services, principal: Principal, bucket: str, key: str,
                          version_id: str) -> ObjectVersion:
    """Restore a previous version: copy it over its key as the new current version (AWS: "copy a
    previous version of the object into the same bucket"). AWS's console copies an object as is: an
    encrypted version's copy keeps its encryption (its KMS key too); an unencrypted one's gets the
    bucket's default encryption, if any (CopyObject without x-amz-server-side-encryption)."""
    source = services.objects.lookup(acting_on(principal, bucket, key, query={"versionId": version_id}),
                                     bucket, key, version_id, "s3:GetObjectVersion")
    if source.sse == SSE_C:
        raise SealboxError(ErrorCode.INVALID_REQUEST, f"The version is {SSE_C_REASON}.")
    encryption = version_encryption(source)
    headers = {"x-amz-copy-source": f"{bucket}/{urllib.parse.quote(key)}?versionId={version_id}",
               "x-amz-metadata-directive": "COPY", **encryption.headers()}
    params = CopyParams(metadata_directive="COPY", sse=encryption.sse, kms=encryption.kms())
    result = await copy_object(services.objects, acting_on(principal, bucket, key, headers=headers), bucket, key,
                               version_id, bucket, key, params)
    return result.version


async def apply(services: Services, principal: Principal, bucket: str, key: str, action: Action,
                encryption: Encryption | None = None) -> Outcome:
    """One item of a bulk job; a domain error becomes a failed outcome with its reason."""
    try:
        if action is Action.EMPTY:
            # A version Object Lock keeps leaves the bucket not empty: a failure, with the lock's reason.
            key, version_id = parse_version_item(key)
            outcome = await delete_version(services, principal, bucket, key, version_id, bypass=False)
            return Outcome("failed", outcome.reason) if outcome.state == "skipped" else outcome
        if action is Action.PURGE:
            key, version_id = parse_version_item(key)
            return await delete_version(services, principal, bucket, key, version_id)
        if action is Action.DELETE:
            await services.objects.delete(acting_on(principal, bucket, key), bucket, key, None)
            return Outcome("ok")
        chosen = encryption or (SSE_S3 if action is Action.ENCRYPT else NO_ENCRYPTION)
        return await set_encryption(services, principal, bucket, key, chosen)
    except SealboxError as exc:
        return Outcome("failed", describe(services, principal, exc, bucket, key, action))
