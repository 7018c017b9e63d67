"""Accepting connections evenly across worker processes that share one listening socket.

S3 clients keep their connections open (keep-alive) and send request after request on them, so
which worker accepts a connection decides which core serves it for a long time. Left to the
kernel, the split is uneven: per-worker SO_REUSEPORT sockets hash connections to workers (16
connections commonly land 11/5 or 13/3), and with one shared socket the first worker to wake
accepts a whole burst. Either way one core is saturated while the other idles.

So every worker watches the one shared listening socket, but takes a connection only while it has
no more open connections than the least loaded running worker plus one (``Board``, counts in memory
shared by all workers), and only one per wake-up; a worker over its share leaves the connection to
the others and looks again shortly. A connection never waits long: after ``_PATIENCE`` seconds of
readiness nobody acted on, any worker takes it (a worker may be busy or gone).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import mmap
import select
import socket
import ssl
import struct
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sealbox.accept")

_SLOT = struct.Struct("=i")
_IDLE = -1  # a slot whose worker is not running: not counted as "least loaded"
_RECHECK = 0.002  # seconds before a worker over its share looks at the socket again
_PATIENCE = 0.05  # seconds a waiting connection may be left to the other workers
_BACKOFF = 0.1  # seconds without accepting after running out of file descriptors


class Board:
    """Open-connection counts of every worker, in anonymous shared memory created before the fork."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._map = mmap.mmap(-1, _SLOT.size * workers)  # MAP_SHARED: children see the same pages
        for slot in range(workers):
            self.set(slot, _IDLE)

    def set(self, slot: int, value: int) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, value)

    def get(self, slot: int) -> int:
        return int(_SLOT.unpack_from(self._map, slot * _SLOT.size)[0])

    def add(self, slot: int, delta: int) -> None:
        # Only the slot's own worker writes it (single-threaded event loop), so no lock is needed.
        self.set(slot, max(0, self.get(slot)) + delta)

    def all_running(self) -> bool:
        """Every worker has started accepting (each sets its slot when its acceptor starts)."""
        return all(self.get(slot) != _IDLE for slot in range(self.workers))

    def release(self, slot: int) -> None:
        """The slot's worker is gone (the supervisor says so): it no longer counts."""
        self.set(slot, _IDLE)

    def fair_share(self, slot: int) -> bool:
        """Whether ``slot`` has at most one connection more than the least loaded running worker."""
        counts = [c for c in (self.get(s) for s in range(self.workers)) if c != _IDLE]
        mine = max(0, self.get(slot))
        return not counts or mine <= min(counts) + 1


class BalancedAcceptor:
    """Accepts from a shared listening socket into ``protocol_factory`` protocols, on this worker's
    share (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], ssl_context: ssl.SSLContext | None,
                 board: Board, slot: int) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._ssl = ssl_context
        self._board = board
        self._slot = slot
        self._fd = sock.fileno()
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        sock.setblocking(False)
        board.set(slot, 0)
        loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        if not self._board.fair_share(self._slot) and now - self._waiting_since < _PATIENCE:
            self._pause(_RECHECK)  # another worker has fewer connections: let it take this one
            return
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            self._waiting_since = None  # another worker took it
            return
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                log.warning("cannot accept a connection (%s); pausing %.1fs", exc.strerror, _BACKOFF)
                self._pause(_BACKOFF)
            return  # ECONNABORTED and the like: that connection is gone already
        self._waiting_since = None
        self._board.add(self._slot, 1)
        task = self._loop.create_task(self._serve(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio's servers do
        try:
            await self._loop.connect_accepted_socket(self._counted, conn, ssl=self._ssl)
        except Exception as exc:  # noqa: BLE001 - a failed TLS handshake or a vanished peer
            log.debug("connection dropped before it started: %r", exc)
            conn.close()
            if not self._closed:
                self._board.add(self._slot, -1)

    def _counted(self) -> asyncio.Protocol:
        protocol: Any = self._factory()
        protocol.on_connection_lost = self._lost  # called by sealbox.http.connection's connection_lost
        return protocol  # type: ignore[no-any-return]

    def _lost(self) -> None:
        if not self._closed:
            self._board.add(self._slot, -1)

    def _pause(self, seconds: float) -> None:
        self._loop.remove_reader(self._fd)
        self._timer = self._loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self._timer = None
        if self._closed:
            return
        if not select.select([self._fd], [], [], 0)[0]:
            self._waiting_since = None  # what was waiting has been taken: a new wait starts afresh
        self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        """Stop accepting (open connections are shut down by the server, as with asyncio's)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._fd)
        self._board.release(self._slot)
