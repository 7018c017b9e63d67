"""Numbered schema migrations, shared by every SQL backend. Append; never edit a shipped entry."""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: buckets, object versions, multipart uploads, credentials
    [
        """CREATE TABLE buckets(
            name TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL, region TEXT NOT NULL,
            versioning TEXT NOT NULL DEFAULT '', default_sse TEXT, bucket_key_enabled INTEGER NOT NULL DEFAULT 0,
            policy TEXT)""",
        """CREATE TABLE versions(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
            object_uid BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, last_modified REAL NOT NULL,
            owner TEXT NOT NULL, is_delete_marker INTEGER NOT NULL,
            content_headers TEXT NOT NULL, user_meta TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT,
            sse TEXT, sealed_key TEXT, extents TEXT NOT NULL, part_count INTEGER NOT NULL,
            storage_class TEXT NOT NULL, is_latest INTEGER NOT NULL,
            UNIQUE(bucket, key, version_id))""",
        "CREATE INDEX versions_latest ON versions(bucket, key) WHERE is_latest = 1",
        "CREATE INDEX versions_key_id ON versions(bucket, key, id)",
        """CREATE TABLE uploads(
            upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, object_uid BLOB NOT NULL,
            initiated REAL NOT NULL, owner TEXT NOT NULL, content_headers TEXT NOT NULL, user_meta TEXT NOT NULL,
            sse TEXT, sealed_key TEXT, checksum_algorithm TEXT, checksum_type TEXT, storage_class TEXT NOT NULL)""",
        "CREATE INDEX uploads_bucket_key ON uploads(bucket, key)",
        """CREATE TABLE parts(
            upload_id TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE, part_number INTEGER NOT NULL,
            blob_id TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, checksums TEXT NOT NULL,
            last_modified REAL NOT NULL, PRIMARY KEY(upload_id, part_number))""",
        """CREATE TABLE credentials(
            access_key TEXT PRIMARY KEY, principal TEXT NOT NULL, sealed_secret TEXT NOT NULL, created REAL NOT NULL)""",
    ],
    # 2: users (principals other than the implicit root); users who already hold access keys are kept
    [
        "CREATE TABLE users(name TEXT PRIMARY KEY, created REAL NOT NULL)",
        """INSERT OR IGNORE INTO users(name, created)
            SELECT principal, MIN(created) FROM credentials WHERE principal <> 'root' GROUP BY principal""",
    ],
    # 3: the stored bytes of small objects, written in the transaction that makes their version visible
    [
        "CREATE TABLE inline_blobs(blob_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    ],
    # 4: sealed metadata (issue 13). For SSE rows, etag/checksums/user_meta/content_headers live only in
    # sealed_meta (sealed under the object's data key, sealbox.crypto.metadata); their clear columns
    # hold '' and '{}'. Rows written before this migration are sealed afterwards, once the keys are
    # loaded (sealbox.service.metadata.seal_existing, run at every start until none is left).
    [
        "ALTER TABLE versions ADD COLUMN sealed_meta BLOB",
        "ALTER TABLE uploads ADD COLUMN sealed_meta BLOB",
        "ALTER TABLE parts ADD COLUMN sealed_meta BLOB",
        # What is left to seal; empty once seal_existing is done, so each later start's check is free.
        "CREATE INDEX versions_clear_meta ON versions(id) WHERE sse IS NOT NULL AND sealed_meta IS NULL",
        "CREATE INDEX uploads_clear_meta ON uploads(upload_id) WHERE sse IS NOT NULL AND sealed_meta IS NULL",
        "CREATE INDEX parts_clear_meta ON parts(upload_id, part_number) WHERE sealed_meta IS NULL",
    ],
    # 5: access control (issue 15): a bucket's ACL, Object Ownership and Block Public Access (JSON of
    # sealbox.core.acl, versioned), and object ACLs by object uid (a version's or a multipart upload's:
    # the uid is unique per version, so an ACL never outlives its object's identity). A version
    # without a row has the private ACL of its owner. Buckets made before: no OwnershipControls
    # (ObjectWriter), as AWS left buckets made before its 2023 change.
    [
        "ALTER TABLE buckets ADD COLUMN acl TEXT",
        "ALTER TABLE buckets ADD COLUMN ownership TEXT",
        "ALTER TABLE buckets ADD COLUMN public_access_block TEXT",
        "CREATE TABLE object_acls(object_uid BLOB PRIMARY KEY, acl TEXT NOT NULL)",
    ],
    # 6: Object Lock and lifecycle (issue 17). A version's retention and legal hold live on its row, so the
    # transaction that deletes the row checks them; an upload carries what its object will get.
    [
        "ALTER TABLE versions ADD COLUMN lock_mode TEXT",
        "ALTER TABLE versions ADD COLUMN lock_until REAL",
        "ALTER TABLE versions ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE uploads ADD COLUMN lock_mode TEXT",
        "ALTER TABLE uploads ADD COLUMN lock_until REAL",
        "ALTER TABLE uploads ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE buckets ADD COLUMN object_lock INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE buckets ADD COLUMN lock_default TEXT",
        "ALTER TABLE buckets ADD COLUMN lifecycle TEXT",
        # The lifecycle worker's state: the pass under way (its cursor) and the last one's summary.
        "CREATE TABLE lifecycle_state(k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    ],
    # 7: bucket CORS configurations (sealbox.service.cors: the validated rules as versioned JSON);
    # dropped with their bucket
    [
        """CREATE TABLE bucket_cors(
            bucket TEXT PRIMARY KEY REFERENCES buckets(name) ON DELETE CASCADE, config TEXT NOT NULL)""",
    ],
    # 8: multipart uploads completed recently, so that a repeated CompleteMultipartUpload with the same
    # parts answers as the first did (the part numbers only: no ETag of plaintext is kept here)
    [
        """CREATE TABLE completed_uploads(
            upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
            key TEXT NOT NULL, version_id TEXT NOT NULL, object_uid BLOB NOT NULL, part_numbers TEXT NOT NULL,
            completed REAL NOT NULL)""",
        "CREATE INDEX completed_uploads_age ON completed_uploads(completed)",
    ],
    # 9: tagging (issue 16): the tag sets of versions and of the uploads that will become them (for SSE rows
    # they live sealed in sealed_meta and these columns hold '{}', as the other user-chosen metadata does),
    # bucket tag sets (NULL: none); the object a multipart upload began over (versions.id, for a conditional
    # Complete: 409 if it changed) and a multipart object's part checksums (GetObjectAttributes; sealed too
    # for SSE rows, '[]' here)
    [
        "ALTER TABLE versions ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE versions ADD COLUMN part_checksums TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE uploads ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE uploads ADD COLUMN base_seq INTEGER",
        "ALTER TABLE buckets ADD COLUMN tags TEXT",
    ],
    # 10: the key service (SSE-KMS, sealbox.kms): KMS keys, their sealed material versions, aliases, bucket
    # keys, and this data directory's 12-digit account id for ARNs (random, chosen once here)
    [
        """CREATE TABLE kms_account(id INTEGER PRIMARY KEY CHECK (id = 1), account TEXT NOT NULL)""",
        """INSERT INTO kms_account(id, account)
            VALUES (1, printf('%012d', (random() & 9223372036854775807) % 1000000000000))""",
        """CREATE TABLE kms_keys(
            key_id TEXT PRIMARY KEY, owner TEXT NOT NULL, description TEXT NOT NULL, state TEXT NOT NULL,
            created REAL NOT NULL, key_manager TEXT NOT NULL, deletion_date REAL, pending_window_days INTEGER,
            policy TEXT, rotation_enabled INTEGER NOT NULL, rotation_period_days INTEGER NOT NULL,
            next_rotation REAL, material_version INTEGER NOT NULL, tags TEXT NOT NULL, key_usage TEXT NOT NULL)""",
        """CREATE TABLE kms_material(
            ref TEXT PRIMARY KEY, key_id TEXT NOT NULL, version INTEGER NOT NULL, sealed TEXT NOT NULL,
            created REAL NOT NULL, on_demand INTEGER NOT NULL, UNIQUE(key_id, version))""",
        """CREATE TABLE kms_aliases(
            name TEXT PRIMARY KEY, key_id TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)""",
        "CREATE INDEX kms_aliases_key ON kms_aliases(key_id)",
        """CREATE TABLE kms_bucket_keys(
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, kms_key_arn TEXT NOT NULL, blob BLOB NOT NULL,
            created REAL NOT NULL)""",
        "CREATE INDEX kms_bucket_keys_lookup ON kms_bucket_keys(bucket, kms_key_arn, created)",
        "ALTER TABLE buckets ADD COLUMN default_kms_key TEXT",  # KMSMasterKeyID of the default encryption
    ],
    # 11: SSE-C (customer-provided keys): the server share every SSE-C object's keys derive from, sealed
    # under the master keyring like a data key (sealbox.crypto.ssec); one row per data directory
    [
        """CREATE TABLE sse_c_shares(ref TEXT PRIMARY KEY, sealed TEXT NOT NULL, created REAL NOT NULL)""",
    ],
    # 12: freed blobs (sealbox.storage.meta.sql_freed), for the store contract: a SQLite store itself
    # unlinks replaced blobs at once (one host: an open file stays readable after unlink), so this
    # table stays empty unless a deferring BlobStore is put in front of it
    [
        "CREATE TABLE freed_blobs(blob_id TEXT PRIMARY KEY, freed_at REAL NOT NULL)",
        "CREATE INDEX freed_blobs_age ON freed_blobs(freed_at)",
    ],
]
