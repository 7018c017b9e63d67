"""What the key service persists, and the one interface it does so through (SQLite: storage/meta/kms_sqlite.py;
PostgreSQL: storage/meta/kms_postgres.py, whose token is a counter in the database).

Every change (key state, material, aliases, policies, bucket keys) ends by bumping the KMS change
token shared by every process of the data directory (``storage.meta.generation.KMS``), after its
commit: workers keep keys, materials and opened keys only while the token is unchanged, so a key
disabled by any process (a worker, ``sealbox kms disable``) is refused by the next request anywhere.
"""

from __future__ import annotations

from typing import Protocol

from sealbox.kms.model import Alias, BucketKey, KmsKey, Material


class KmsStore(Protocol):
    def account(self) -> str:
        """This data directory's 12-digit account id (chosen at random by the schema migration)."""
        ...

    def token(self) -> bytes:
        """The KMS change token now (cheap: shared memory; on PostgreSQL one indexed row read)."""
        ...

    def close(self) -> None: ...

    # -- keys ---------------------------------------------------------------------------------
    def create_key(self, key: KmsKey, material: Material, alias: str | None = None) -> bool:
        """Insert a key with its first material (and alias) in one transaction; False if the alias is taken."""
        ...

    def get_key(self, key_id: str) -> KmsKey | None: ...

    def list_keys(self) -> list[KmsKey]: ...

    def update_key(self, key: KmsKey) -> None:
        """Replace the key's metadata row (state, deletion date, policy, rotation, tags, description)."""
        ...

    def add_material(self, key: KmsKey, material: Material) -> None:
        """A new material version (rotation) and the key row pointing at it, in one transaction."""
        ...

    def get_material(self, key_id: str, version: int) -> Material | None: ...

    def list_materials(self, key_id: str) -> list[Material]: ...

    def destroy_key(self, key_id: str, arn: str) -> bool:
        """Crypto-shredding: the key, all its material, aliases and bucket keys gone (secure delete)."""
        ...

    # -- aliases -------------------------------------------------------------------------------
    def get_alias(self, name: str) -> Alias | None: ...

    def list_aliases(self) -> list[Alias]: ...

    def put_alias(self, alias: Alias, create: bool) -> bool:
        """Create (False if it exists) or update (False if it does not) an alias."""
        ...

    def delete_alias(self, name: str) -> bool: ...

    # -- bucket keys ---------------------------------------------------------------------------
    def put_bucket_key(self, key: BucketKey) -> None: ...

    def get_bucket_key(self, key_id: str) -> BucketKey | None: ...

    def latest_bucket_key(self, bucket: str, kms_key_arn: str) -> BucketKey | None: ...
