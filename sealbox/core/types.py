"""Domain types shared by the service and storage layers. No HTTP, no SQL."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from sealbox.core.acl import Acl, Ownership, PublicAccessBlock

# Bytes as they travel: a copy, a reused bytearray, or a view of a mapping (no copy).
Buffer = bytes | bytearray | memoryview
# An object's plaintext as it streams to a client (an async generator, so an early stop can close it
# and release what it holds: open blobs, mappings, reused buffers).
Body = AsyncGenerator[Buffer, None]

NULL_VERSION = "null"
SSE_AES256 = "AES256"
SSE_C = "SSE-C"  # the sse column of SSE-C versions and uploads (sealbox.service.sse_c); never sent as is


class Versioning(enum.Enum):
    UNVERSIONED = ""
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"


@dataclass(frozen=True)
class Bucket:
    name: str
    owner: str
    created: float
    region: str
    versioning: Versioning = Versioning.UNVERSIONED
    default_sse: str | None = None  # "AES256", "aws:kms" or "aws:kms:dsse" when default encryption is configured
    bucket_key_enabled: bool = False
    policy: str | None = field(default=None, repr=False)  # the bucket policy JSON, as put (issue #5)
    # Access control (issue 15, ``service.acl``): None means the default — a private ACL, no
    # OwnershipControls (ObjectWriter semantics), no Block Public Access configuration.
    acl: Acl | None = field(default=None, repr=False)
    ownership: Ownership | None = None
    public_access_block: PublicAccessBlock | None = None
    # Object Lock (issue 17): enabled for good once set; the default retention as "MODE:Days|Years:N"
    object_lock: bool = False
    lock_default: str | None = None
    lifecycle: str | None = field(default=None, repr=False)  # the lifecycle rules, as JSON (service/lifecycle.py)
    default_kms_key_id: str | None = None  # KMSMasterKeyID of an SSE-KMS default, as put (None: aws/s3)


@dataclass(frozen=True)
class Extent:
    """One stored body of an object: the whole body of a simple PUT, or one part of a multipart upload."""

    blob_id: str
    size: int  # plaintext bytes
    # The extent_index sealed into the extent's encryption header: 0 for a simple object, the part
    # number for a multipart part (parts are encrypted on arrival, before Complete picks them).
    index: int = 0
    # True: the stored bytes live in the metadata store beside the version row, not in a blob file
    # (small simple PUTs: one metadata commit makes them durable, see storage/data/local.py).
    inline: bool = False


LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(frozen=True)
class ObjectLock:
    """A version's Object Lock state (issue 17): a retention (mode and date) and/or a legal hold."""

    mode: str | None = None  # GOVERNANCE | COMPLIANCE; None: no retention
    retain_until: float | None = None  # epoch seconds
    # True: ON; False: set OFF; None: never set. AWS sends x-amz-object-lock-legal-hold on GET/HEAD only
    # for a version that has had a legal hold put (Terraform's aws_s3_object sees "OFF" as a change).
    legal_hold: bool | None = None

    def retained(self, now: float) -> bool:
        return self.mode is not None and self.retain_until is not None and self.retain_until > now


NO_LOCK = ObjectLock()


@dataclass(frozen=True)
class ObjectMetadata:
    """What an object (or a part, or a multipart upload) stores that was derived from its plaintext or
    chosen with it: the ETag (an MD5 of the plaintext), the checksums, the user metadata, the
    content headers, the tags and a multipart object's part checksums. For SSE objects the metadata
    store keeps these sealed under the object's data key (``sealbox.crypto.metadata``); plain objects
    keep them in the clear."""

    etag: str = ""
    checksums: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    content_headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # the tag set, in its order (issue 16)
    part_checksums: tuple[str, ...] = ()  # a multipart object's, one per part (issue 16)


@dataclass(frozen=True)
class ObjectVersion:
    bucket: str
    key: str
    version_id: str
    object_uid: bytes  # 16 random bytes; binds ciphertext and sealed key to this version
    size: int
    etag: str  # unquoted: hex MD5, or "hex-N" for multipart
    last_modified: float
    owner: str
    is_delete_marker: bool = False
    content_headers: dict[str, str] = field(default_factory=dict)  # content-type, cache-control, …
    user_meta: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)  # "CRC32" -> base64, …
    checksum_type: str | None = None  # FULL_OBJECT / COMPOSITE
    sse: str | None = None
    sealed_key: str | None = None
    extents: tuple[Extent, ...] = ()
    part_count: int = 0  # >0 for objects made by CompleteMultipartUpload
    storage_class: str = "STANDARD"
    is_latest: bool = True
    seq: int = 0
    # The stored sealed blob of etag/checksums/user_meta/content_headers while it is *not opened*
    # (a metadata store used without keys, e.g. by ``sealbox scrub``): those fields are then empty.
    # None for plain objects and for every version a keyed store returns (fields filled in).
    sealed_meta: bytes | None = field(default=None, repr=False)
    lock: ObjectLock = NO_LOCK
    tags: dict[str, str] = field(default_factory=dict)  # the object tag set, in the order it was put
    # A multipart object's part checksums (of its upload's checksum algorithm), one per extent; else ().
    part_checksums: tuple[str, ...] = ()

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'

    @property
    def metadata(self) -> ObjectMetadata:
        return ObjectMetadata(self.etag, self.checksums, self.user_meta, self.content_headers, self.tags,
                              self.part_checksums)


@dataclass(frozen=True)
class ListEntry:
    """An object or version row as listings show it."""

    key: str
    version: ObjectVersion


@dataclass(frozen=True)
class ListPage:
    entries: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None  # the last key (or common prefix) returned, for continuation
    next_version_marker: str | None = None
