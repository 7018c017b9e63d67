"""The metadata store interface.

Every backend implements ``MetaStore`` and passes the same contract suite in
``tests/contract/test_metastore.py``: SQLite (embedded, the default: ``storage/meta/sqlite.py``) and
PostgreSQL (``--meta-url``, for several gateways: ``storage/meta/postgres.py``, issue 19); both share
their SQL (``sqlrows.py``, ``sql_*.py``). Methods are synchronous and each is one transaction; the
service layer decides which thread calls them. Domain errors (NoSuchBucket, PreconditionFailed, …)
are raised here only where the check must be atomic with the write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from collections.abc import Callable, Iterable

from sealbox.core.acl import Acl, Ownership, PublicAccessBlock
from sealbox.core.preconditions import DeleteCondition, WriteCondition
from sealbox.core.types import NO_LOCK, Bucket, Extent, ListPage, ObjectLock, ObjectMetadata, ObjectVersion, Versioning


@dataclass(frozen=True)
class Credential:
    access_key: str
    principal: str
    sealed_secret: str  # the secret sealed under a master key (crypto.envelope.SealedKey text)
    created: float


@dataclass(frozen=True)
class User:
    """A principal added with ``sealbox users add`` (root is implicit and has no row)."""

    name: str
    created: float


# The stored values sealed under a master key: object versions' and multipart uploads' data keys
# (bound to bucket/key/object uid), credentials' secrets (bound to the access key) and the key
# service's material versions (bound to key id and version; ref "<key id>/<version>"). SSE-KMS
# objects' data keys are sealed by the key service, not a master key, and are none of these.
SEALED_KINDS = ("version", "upload", "credential", "kms-key", "sse-c-share")


@dataclass(frozen=True)
class SealedRow:
    kind: str  # one of SEALED_KINDS
    ref: str  # the row: versions.id, uploads.upload_id or credentials.access_key
    bucket: str  # "" for a credential
    key: str  # the object key; the access key for a credential
    object_uid: bytes  # b"" for a credential
    sealed: str  # "v1:<master key id>:..." (crypto.envelope.SealedKey text, for credentials "...|box")

    @property
    def key_id(self) -> str:
        return self.sealed.split(":", 2)[1] if self.sealed.count(":") >= 2 else ""


@dataclass(frozen=True)
class WriteResult:
    """The version id the write got, and the blob-file extents no version references any more (to delete)."""

    version_id: str
    orphaned: list[Extent]


@dataclass(frozen=True)
class DeleteResult:
    version_id: str | None  # the version removed or the delete marker created
    delete_marker: bool
    orphaned: list[Extent]


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    object_uid: bytes
    initiated: float
    owner: str
    content_headers: dict[str, str]
    user_meta: dict[str, str]
    sse: str | None
    sealed_key: str | None
    checksum_algorithm: str | None
    checksum_type: str | None
    storage_class: str
    # As on ObjectVersion: the sealed user metadata and content headers while not opened (a store
    # used without keys); None for plain uploads and whenever the store opened them.
    sealed_meta: bytes | None = field(default=None, repr=False)
    lock: ObjectLock = NO_LOCK  # what the completed object's version gets (issue 17)
    tags: dict[str, str] = field(default_factory=dict)  # x-amz-tagging of CreateMultipartUpload (issue 16)
    # ObjectVersion.seq of the key's current object when the upload began (None: none); set by
    # ``create_upload`` in its transaction: a conditional Complete is a conflict (409) if it changed.
    base_seq: int | None = None


@dataclass(frozen=True)
class CompletedUpload:
    """A multipart upload completed recently: what a repeated CompleteMultipartUpload is checked against."""

    upload_id: str
    bucket: str
    key: str
    version_id: str  # the version the completion made ("null" outside versioning)
    object_uid: bytes  # that version's uid: a later overwrite of a "null" version is another object
    part_numbers: tuple[int, ...]  # the parts the completion used, in order
    completed: float


@dataclass(frozen=True)
class Part:
    part_number: int
    extent: Extent
    etag: str
    checksums: dict[str, str]
    last_modified: float
    sealed_meta: bytes | None = field(default=None, repr=False)  # etag and checksums, not opened


# -- sealed metadata (issue 13) ------------------------------------------------------------------
# For SSE rows a backend stores etag, checksums, user metadata and content headers only as a blob
# sealed under the object's data key (sealbox.crypto.metadata), through a MetadataCipher the
# service layer hands it (the store holds no keys). Rows written before schema 4 hold them in the
# clear until ``seal_existing`` (sealbox.service.metadata) has sealed them.
METADATA_KINDS = ("version", "upload", "part")


@dataclass(frozen=True)
class MetadataOwner:
    """The row a sealed metadata blob belongs to: what its AAD binds and which data key seals it."""

    kind: str  # one of METADATA_KINDS
    bucket: str
    key: str
    object_uid: bytes
    sealed_key: str  # the data key's sealed text (envelope.SealedKey); the upload's for a part
    part_number: int = 0  # parts only


class MetadataUnavailable(Exception):
    """The key that seals a row's metadata is refused now (an SSE-KMS object whose KMS key is disabled,
    pending deletion or gone): the row reads back unopened, as from a store without keys, so listings
    still work; reading the object itself then fails with the key service's error."""


class StoreUnavailable(Exception):
    """The metadata database cannot be reached right now (PostgreSQL restarting, unreachable, out of
    connections, or a transaction aborted by a deadlock): the operation was not done (its transaction
    rolled back, or for a COMMIT whose answer was lost, possibly done whole — never half). The S3
    layer answers 503 ServiceUnavailable, which clients retry with backoff. ``stale``: the failure
    was a pooled connection that had died while idle, before anything ran on it."""

    def __init__(self, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.stale = stale


class MetadataCipher(Protocol):
    def seal(self, owner: MetadataOwner, fields: ObjectMetadata) -> bytes:
        """The sealed blob of ``fields`` for the row ``owner``."""
        ...

    def open(self, owner: MetadataOwner, blob: bytes) -> ObjectMetadata:
        """The fields sealed in ``blob``; raises if it does not authenticate for ``owner``, and
        ``MetadataUnavailable`` if its key is refused right now."""
        ...


@dataclass(frozen=True)
class ClearMetadataRow:
    """An SSE row whose metadata is still in the clear (written before sealed metadata existed)."""

    owner: MetadataOwner
    ref: str  # the row, for ``seal_metadata``: versions.id; the upload id; "<upload id>:<part number>"
    fields: ObjectMetadata


class MetaStore(Protocol):
    # True when gateways on several hosts may share the store (PostgreSQL): replaced blob files are
    # then unlinked after a grace, not at once (sealbox.service.freed).
    shared: bool

    # -- buckets ---------------------------------------------------------------------------
    def create_bucket(self, bucket: Bucket) -> Bucket | None:
        """Insert the bucket; return the existing one instead if the name is taken."""
        ...

    def get_bucket(self, name: str) -> Bucket | None: ...

    def list_buckets(self) -> list[Bucket]: ...

    def delete_bucket(self, name: str) -> list[Extent] | None:
        """Delete a bucket that holds no version (delete markers included); its unfinished multipart
        uploads go with it, as on AWS. None if there is no such bucket, else the part files of those
        uploads (to delete). Raises BucketNotEmpty when versions remain."""
        ...

    def set_bucket_versioning(self, name: str, state: Versioning) -> None: ...

    def set_bucket_encryption(self, name: str, sse: str | None, bucket_key_enabled: bool,
                              kms_key_id: str | None = None) -> None: ...

    def get_bucket_policy(self, name: str) -> str | None: ...

    def set_bucket_policy(self, name: str, policy: str | None) -> None: ...

    def get_bucket_cors(self, name: str) -> str | None:
        """The bucket's CORS configuration as stored (``sealbox.service.cors`` text), None without one
        or without the bucket. A backend may answer from what it remembers until a bucket changes."""
        ...

    def set_bucket_cors(self, name: str, config: str | None) -> None:
        """Store (None: remove) the bucket's CORS configuration. Raises NoSuchBucket."""
        ...

    def get_bucket_tags(self, name: str) -> dict[str, str] | None:
        """The bucket's tag set; None when it has none (or there is no such bucket)."""
        ...

    def set_bucket_tags(self, name: str, tags: dict[str, str] | None) -> None:
        """Replace the bucket's tag set (None: remove it). Raises NoSuchBucket."""
        ...

    # -- access control (issue 15) ----------------------------------------------------------
    def set_bucket_acl(self, name: str, acl: Acl | None) -> None: ...

    def set_bucket_ownership(self, name: str, ownership: Ownership | None) -> None: ...

    def set_public_access_block(self, name: str, block: PublicAccessBlock | None) -> None: ...

    def get_object_acl(self, object_uid: bytes) -> Acl | None:
        """The ACL stored for a version (or a multipart upload) by its object uid; None: private."""
        ...

    def set_object_acl(self, object_uid: bytes, acl: Acl | None) -> None:
        """Store (None: remove) the ACL of the object with this uid; may precede the version's commit."""
        ...

    # -- objects ---------------------------------------------------------------------------
    def get_version(self, bucket: str, key: str, version_id: str | None = None, *,
                    fresh: bool = False) -> ObjectVersion | None:
        """The latest version (``version_id`` None) or the named one; delete markers included.
        A backend may answer from lookups it remembers until a change; ``fresh`` asks the store
        itself (a read that found the remembered version's bytes already removed)."""
        ...

    def put_version(self, version: ObjectVersion, condition: WriteCondition | None = None,
                    inline_data: bytes | None = None) -> WriteResult:
        """Make ``version`` the latest, atomically with the bucket's versioning state and ``condition``
        (``core.preconditions.check_write`` against the key's latest version, in the same transaction).

        With versioning Enabled the row keeps ``version.version_id``; otherwise it becomes the
        "null" version, replacing the previous one. Raises NoSuchBucket, and what a failed condition
        raises (PreconditionFailed, ConditionalRequestConflict, NoSuchKey).
        ``inline_data`` is the stored body of the version's one extent, which is marked inline:
        kept in the same transaction, and removed by whichever write later drops the version
        (such extents are never in an ``orphaned`` list).
        """
        ...

    def read_inline(self, blob_id: str) -> bytes | None:
        """The stored bytes of an inline extent; None once its version is gone."""
        ...

    def delete(self, bucket: str, key: str, version_id: str | None,
               marker: ObjectVersion, *, bypass_governance: bool = False,
               only_if_latest: str | None = None, condition: DeleteCondition | None = None) -> DeleteResult:
        """Delete one version, or (no version id) the latest according to the bucket's versioning.

        ``marker`` is the delete-marker row inserted when versioning calls for one (its
        version id is used when Enabled, "null" when Suspended). A version row is removed only if
        Object Lock allows it (``core.object_lock.check_deletable`` on the row's lock, inside this
        transaction; ``bypass_governance`` lifts GOVERNANCE only); else AccessDenied.
        ``only_if_latest``: do nothing (an empty result) unless that version id is still the latest
        (the lifecycle worker's compare-and-swap). ``condition`` (a conditional delete) is checked in
        the same transaction (``core.preconditions.check_delete``); a failed one deletes nothing.
        """
        ...

    def set_object_tags(self, bucket: str, key: str, version_id: str | None,
                        tags: dict[str, str]) -> ObjectVersion | None:
        """Replace the tag set of one version (the latest when ``version_id`` is None) in one transaction
        (an SSE version's sealed metadata is sealed again with them).

        Returns the version as found, with its new tags; a delete marker is returned unchanged (it has no
        tags); None when there is no such version.
        """
        ...

    def update_lock(self, bucket: str, key: str, version_id: str | None,
                    update: Callable[[ObjectVersion], ObjectLock]) -> ObjectVersion | None:
        """In one transaction: read the version, set its lock to ``update(version)`` (which may raise
        to refuse). None if there is no such version."""
        ...

    # -- Object Lock and lifecycle configuration (issue 17) -------------------------------------
    def set_bucket_object_lock(self, name: str, default: str | None) -> None:
        """Enable Object Lock (for good) with a default retention; InvalidBucketState unless versioning is
        Enabled. Versioning of such a bucket can then not be changed (set_bucket_versioning refuses)."""
        ...

    def set_bucket_lifecycle(self, name: str, rules: str | None) -> None: ...

    def get_state(self, key: str) -> str | None:
        """Small persisted state of background jobs (the lifecycle pass's cursor and summary)."""
        ...

    def set_state(self, key: str, value: str | None) -> None: ...

    def list_objects(self, bucket: str, prefix: str, delimiter: str, after: str,
                     max_keys: int) -> ListPage: ...

    def list_versions(self, bucket: str, prefix: str, delimiter: str, key_marker: str,
                      version_id_marker: str, max_keys: int) -> ListPage: ...

    def referenced_blob_ids(self) -> set[str]: ...

    # -- freed blobs (issue 19: kept for a grace period on a shared store, sealbox.service.freed) -------
    def free_blobs(self, blob_ids: Iterable[str], freed_at: float) -> None:
        """Record blobs nothing references any more as freed at ``freed_at`` (one freed again keeps
        its first time)."""
        ...

    def freed_blobs(self, freed_before: float, limit: int) -> list[str]:
        """Up to ``limit`` freed blobs freed at or before ``freed_before``, oldest first."""
        ...

    def freed_blob_ids(self) -> set[str]:
        """Every blob recorded as freed and not yet forgotten (gc and scrub leave them to the sweep)."""
        ...

    def forget_freed_blobs(self, blob_ids: Iterable[str]) -> None:
        """Drop the records (after the sweep unlinked the files); unknown ids are skipped."""
        ...

    # -- multipart uploads ---------------------------------------------------------------------
    def create_upload(self, upload: Upload) -> None:
        """Record the upload; its ``base_seq`` is the key's current object at this moment, read in the
        same transaction (the field of ``upload`` is ignored)."""
        ...

    def get_upload(self, upload_id: str) -> Upload | None: ...

    def put_part(self, upload_id: str, part: Part) -> list[Extent]:
        """Record a part (replacing a same-numbered one, whose extent is returned). NoSuchUpload if gone."""
        ...

    def list_parts(self, upload_id: str) -> list[Part]: ...

    def finish_upload(self, upload_id: str, version: ObjectVersion | None,
                      condition: WriteCondition | None = None) -> WriteResult:
        """Complete (``version`` given) or abort (None) atomically; returns extents to delete.

        Raises InvalidPart if an extent of ``version`` is no longer a part of the upload (replaced), and
        what a failed ``condition`` raises (checked as ``put_version`` does); either leaves the upload as it was.
        A completion is recorded (``get_completed_upload``) in the same transaction.
        """
        ...

    def list_uploads(self, bucket: str) -> list[Upload]: ...

    def get_completed_upload(self, upload_id: str) -> CompletedUpload | None:
        """The record ``finish_upload`` kept of a completion (records older than a day may be gone)."""
        ...

    # -- credentials ----------------------------------------------------------------------------
    def get_credential(self, access_key: str) -> Credential | None: ...

    def put_credential(self, credential: Credential) -> None: ...

    def list_credentials(self) -> list[Credential]: ...

    def delete_credential(self, access_key: str) -> bool: ...

    def close(self) -> None: ...

    # -- maintenance: iteration for scrub and gc (issue #5) ----------------------------------------
    def count_versions(self) -> int:
        """Version rows (delete markers included) in every bucket: the total of a scrub's progress."""
        ...

    def iter_versions(self, after_seq: int, limit: int) -> list[ObjectVersion]:
        """Up to ``limit`` version rows (delete markers included) with ``seq > after_seq``, by seq.

        Every bucket at once, for a walk over the whole store that resumes from the last seq seen.
        """
        ...

    def iter_parts(self, after: tuple[str, int], limit: int) -> list[tuple[Upload, Part]]:
        """Up to ``limit`` parts of unfinished uploads after (upload id, part number), in that order."""
        ...

    # -- users and master-key maintenance (issue #5: keys, principals) ---------------------------------
    def create_user(self, user: User) -> bool:
        """Add a user; False if the name is taken."""
        ...

    def get_user(self, name: str) -> User | None: ...

    def list_users(self) -> list[User]: ...

    def delete_user(self, name: str) -> list[str] | None:
        """Remove a user and their credentials in one transaction: the access keys removed, None if no user."""
        ...

    def sealed_key_counts(self) -> dict[str, dict[str, int]]:
        """kind (SEALED_KINDS) -> master key id -> how many stored values are sealed under it."""
        ...

    def sse_c_share(self) -> tuple[str, str] | None:
        """(ref, sealed text) of this data directory's SSE-C server share, if one was made."""
        ...

    def sse_c_share_by_ref(self, ref: str) -> str | None:
        """The sealed text of the SSE-C share ``ref`` (an object's key record names it)."""
        ...

    def add_sse_c_share(self, ref: str, sealed: str) -> tuple[str, str]:
        """Store the first share (none stored yet), and return the one that is stored."""
        ...

    def sealed_samples(self) -> list[SealedRow]:
        """One stored sealed value per (kind, master key id): enough to prove each key opens its values."""
        ...

    def sealed_not_under(self, kind: str, key_id: str, after: str, limit: int) -> list[SealedRow]:
        """Up to ``limit`` values of ``kind`` sealed under any key but ``key_id``, in ``ref`` order after ``after``.

        ``after`` is "" to start; each batch resumes from the last row's ``ref``.
        """
        ...

    def replace_sealed(self, kind: str, changes: list[tuple[str, str, str]]) -> int:
        """Swap sealed values in one transaction: (ref, old, new) rows still holding ``old`` get ``new``.

        A row changed or deleted meanwhile is left alone (compare-and-swap). Returns rows updated.
        """
        ...

    # -- sealed metadata: the migration of rows written in the clear (issue 13) -----------------------
    def clear_metadata(self, kind: str, after: str, limit: int) -> list[ClearMetadataRow]:
        """Up to ``limit`` SSE rows of ``kind`` (METADATA_KINDS) after ``after`` (a ref; "" to start),
        in ref order, whose etag/checksums/user metadata/content headers are still in the clear."""
        ...

    def seal_metadata(self, kind: str, sealed: list[tuple[str, bytes]]) -> int:
        """In one transaction, (ref, blob): each row still in the clear gets its sealed blob and its
        clear values erased. A row sealed, replaced or deleted meanwhile is left alone. Returns rows sealed."""
        ...

    def erase_freed_pages(self) -> bool:
        """Make sure values erased by ``seal_metadata`` are no longer anywhere in the store's files
        (SQLite: free pages and the write-ahead log), as far as the backend controls its files.
        False if that could not be finished now (another process holds an old snapshot)."""
        ...
