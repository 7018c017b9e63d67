"""What the console does to one object, in service terms: change its encryption, delete it.

Changing encryption is exactly a CopyObject in place (``sealbox.service.copy``): the new object —
a new version when versioning is on, the old version keeping its state — is written by the acting
principal, with the source's metadata (directive COPY) and the chosen encryption. The principal
acts with the policy context of the CopyObject request an S3 client would send for it: the
browser's request facts plus ``x-amz-copy-source``, ``x-amz-metadata-directive: COPY`` and, to
encrypt, ``x-amz-server-side-encryption: AES256`` — so "deny unencrypted writes" lets the
console encrypt and stops it decrypting, as it would an S3 client.
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
from sealbox.core.types import SSE_AES256
from sealbox.service.copy import CopyParams, copy_object
from sealbox.service.identity import Principal


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


async def set_encryption(services: Services, principal: Principal, bucket: str, key: str,
                         enable: bool) -> Outcome:
    """Rewrite the current version of ``key`` with SSE-S3 (``enable``) or without it."""
    headers = {"x-amz-copy-source": f"{bucket}/{urllib.parse.quote(key)}", "x-amz-metadata-directive": "COPY"}
    if enable:
        headers["x-amz-server-side-encryption"] = SSE_AES256
    principal = acting_on(principal, bucket, key, headers=headers)
    if not enable:
        current = services.objects.lookup(principal, bucket, key, None)
        if not current.sse:
            return Outcome("skipped", "already not encrypted")
        rule = services.buckets.default_encryption(services.buckets.get(principal, bucket, "s3:PutObject"))
        if rule is not None:
            return Outcome("failed", "the bucket's default encryption encrypts every new object;"
                           " disable it first")
    params = CopyParams(metadata_directive="COPY", sse=SSE_AES256 if enable else None)
    result = await copy_object(services.objects, principal, bucket, key, None, bucket, key, params)
    return Outcome("ok", version_id=result.version.version_id)


async def apply(services: Services, principal: Principal, bucket: str, key: str, action: Action) -> Outcome:
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
        return await set_encryption(services, principal, bucket, key, action is Action.ENCRYPT)
    except SealboxError as exc:
        return Outcome("failed", describe(services, principal, exc, bucket, key, action))
