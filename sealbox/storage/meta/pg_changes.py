"""The change feed of a PostgreSQL store (``sealbox.storage.meta.changes``): a sequence for the
bucket rows, nothing kept for the rest.

``bump`` is ``nextval`` after the change's COMMIT (the writer's client is answered after it), and
``current`` reads the sequence's ``last_value``: a sequence is not transactional, so a reader in
any session of any host sees the bump as soon as it returns, without waiting for the writer's
transaction. Two gateways: A commits, bumps, answers its client; the client's next request to B
reads the new value, drops what B kept, reads the row afresh. A reader that read the token just
before a bump may cache the row it reads next under the old token; the next lookup sees the new
token and drops it (the same order as the memory-mapped tokens, generation.py).

Object rows are not kept at all (``COMMITS``, like any slot without a sequence, reads a token that
differs at every look, and its bump costs nothing): every write anywhere changes that slot, a check
is a round trip, and a primary-key lookup of the row costs the same round trip; bucket rows and CORS
texts, which change rarely and are read on most requests, are worth a check. (The key service's
PostgreSQL store keeps its own change counter, ``kms_account.changes``, bumped inside its writes:
they are rare, and it needs no ``ChangeFeed``.)

Why not a counter row updated inside the writer's transaction: the row lock would queue every
writer of the slot behind the one before it until its COMMIT (a few ms with fsync), one at a time.
Why not LISTEN/NOTIFY alone: a notification reaches the listener some time after the commit, and a
client that wrote on A and reads on B at once would be served B's stale cache; a round trip per
check is what strong read-after-write costs. What it costs is in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sealbox.storage.meta.generation import BUCKETS

# The kept slots' sequences; any other slot (COMMITS) is never kept (see the module docstring).
SEQUENCES = {BUCKETS: "sealbox_change_buckets"}
# (made by PostgreSQL migration 3, storage/meta/pg_migrations.py: a new one needs a new migration)

Connect = Callable[[], AbstractContextManager[Any]]  # e.g. psycopg_pool.ConnectionPool.connection


class PgChangeFeed:
    host_local = False

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._never = itertools.count(1)  # slots not kept (COMMITS, KMS): a fresh token at every look

    def current(self, slot: int) -> bytes:
        if slot not in SEQUENCES:
            return next(self._never).to_bytes(8, "big")  # racing threads never get one twice either
        with self._connect() as conn:
            row = conn.execute(f"SELECT last_value, is_called FROM {SEQUENCES[slot]}").fetchone()
        value = int(row[0]) if row[1] else 0
        return value.to_bytes(8, "big", signed=True)

    def bump(self, slot: int) -> None:
        if slot not in SEQUENCES:
            return
        with self._connect() as conn:
            conn.execute("SELECT nextval(%s)", (SEQUENCES[slot],))

    def close(self) -> None:
        pass  # the connections are the store's
