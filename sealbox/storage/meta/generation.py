"""Change tokens shared by every process on one data directory, for caching rows between changes.

Buckets are read on every request but change rarely; an object is often read many times between two
writes. Each worker keeps rows it read together with the token it saw *before* reading them, and
every change writes a fresh random token *after* its commit. A kept row is used only while the token
is unchanged, so a change committed by any process is seen by the next lookup everywhere — and the
writer's own client, which is answered after the new token is written, always reads its write.

Three tokens: ``BUCKETS`` changes with any bucket row (create, delete, versioning, encryption,
policy); ``COMMITS`` with any committed write at all (sealbox.storage.meta.sqlite bumps it after
every COMMIT of its group commit); ``KMS`` with any change of the key service's state (a key
disabled, enabled, scheduled for deletion, destroyed, rotated; aliases, policies, bucket keys:
sealbox.storage.meta.kms_sqlite), so every worker drops the KMS keys and opened data keys it holds.

The tokens live in a small memory-mapped file next to the database: reading one costs a slice of
shared memory, not a query or a lock (SQLite's own ``PRAGMA data_version`` takes a read lock on the
WAL index, two ``fcntl`` calls, each time). Random tokens rather than counters: two processes
changing things at once cannot both write the same next value, so no change can be missed; a torn
read only yields an unknown token, which merely refetches.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

TOKEN_SIZE = 8
BUCKETS = 0
COMMITS = 1
KMS = 2
_SLOTS = 3


class ChangeTokens:
    """The host-local ``ChangeFeed`` (``sealbox.storage.meta.changes``)."""

    host_local = True

    def __init__(self, path: Path) -> None:
        size = TOKEN_SIZE * _SLOTS
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)  # the mapping stays valid

    def current(self, slot: int) -> bytes:
        start = slot * TOKEN_SIZE
        return self._map[start:start + TOKEN_SIZE]

    def bump(self, slot: int) -> None:
        start = slot * TOKEN_SIZE
        self._map[start:start + TOKEN_SIZE] = os.urandom(TOKEN_SIZE)

    def close(self) -> None:
        self._map.close()
