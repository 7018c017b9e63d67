"""A change token shared by every process on one data directory, for caching rarely changed rows.

Buckets are read on every request but change rarely (create, delete, versioning, encryption,
policy). Each worker keeps the rows it read together with the token it saw *before* reading them;
every bucket change writes a fresh random token *after* its commit. A cached row is used only while
the token is unchanged, so a change made by any process is seen by the next request everywhere.

The token lives in a small memory-mapped file next to the database: reading it costs a slice of
shared memory, not a query. A random token rather than a counter: two processes changing buckets at
once cannot both write the same next value, so no change can be missed. A torn read only yields an
unknown token, which merely refetches.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

TOKEN_SIZE = 8


class ChangeToken:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < TOKEN_SIZE:
                os.ftruncate(fd, TOKEN_SIZE)
            self._map = mmap.mmap(fd, TOKEN_SIZE)
        finally:
            os.close(fd)  # the mapping stays valid

    def current(self) -> bytes:
        return self._map[:TOKEN_SIZE]

    def bump(self) -> None:
        self._map[:TOKEN_SIZE] = os.urandom(TOKEN_SIZE)

    def close(self) -> None:
        self._map.close()
