"""The change feed: what lets a worker keep rows it read until someone, anywhere, changes them.

A ``ChangeFeed`` has a few slots (``generation.BUCKETS``, ``COMMITS``, ``KMS``); ``current(slot)``
is read *before* a cached row is used or a row is read to be cached, and ``bump(slot)`` is called
*after* the change committed and before the writer's client is answered. A row kept with the token
it was read under is used only while ``current`` still returns that token, so every write
acknowledged to any client is seen by the next lookup of every worker that can see the feed.

Two implementations:

- ``generation.ChangeTokens`` (SQLite): random tokens in a memory-mapped file next to the database.
  A read is a slice of shared memory (~0.1 µs), but only processes on the host that maps the file
  see it (``host_local``); on a shared file system another host's page cache is not coherent with it.
- ``pg_changes.PgChangeFeed`` (PostgreSQL): a sequence for BUCKETS, ``nextval`` after the commit,
  and ``current`` one round trip to the server (~100 µs here, docs/ARCHITECTURE.md "Several
  gateways"). A sequence rather than a counter row bumped inside the writer's transaction:
  ``nextval`` takes no row lock, so bucket writers do not queue behind one hot row until COMMIT.

Which slots a backend keeps is its choice: a round trip per lookup costs as much as the query it
would save, so the PostgreSQL store keeps bucket rows and CORS texts (rare changes, read on every
request) and reads object rows afresh each time (COMMITS: a fresh token at every look).
"""

from __future__ import annotations

from typing import Protocol


class ChangeFeed(Protocol):
    @property
    def host_local(self) -> bool:
        """True when only processes on this host see the tokens (then no other host may serve the store)."""
        ...

    def current(self, slot: int) -> bytes:
        """The slot's token now; any change committed and bumped before this call yields another one."""
        ...

    def bump(self, slot: int) -> None:
        """Called after a committed change, before it is acknowledged."""
        ...

    def close(self) -> None:
        ...
