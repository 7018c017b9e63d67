"""Process model: the parent opens the listening sockets, forks workers, and supervises them.

Every worker runs uvicorn (httptools + uvloop) on the inherited sockets and serves the same data
directory; SQLite in WAL mode and immutable blob files make that safe. Workers take connections
from the shared sockets in turn, by open-connection count (sealbox.accept). A worker that dies is
replaced; SIGTERM/SIGINT stop all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from sealbox.accept import BalancedAcceptor, Board
from sealbox.config import Settings

log = logging.getLogger("sealbox.server")


@dataclass(frozen=True)
class Listener:
    name: str  # "s3", "s3-tls", "console"
    sock: socket.socket
    tls: bool


def bind(host: str, port: int) -> socket.socket:
    """Open a listening socket in the parent; the workers inherit it and share it (sealbox.accept
    spreads its connections over them). Connections that arrive before the workers run wait in
    its backlog rather than being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def listeners(settings: Settings) -> list[Listener]:
    tls_main = settings.tls_cert is not None and settings.tls_port is None
    result = [Listener("s3", bind(settings.host, settings.port), tls_main)]
    if settings.tls_port is not None:
        result.append(Listener("s3-tls", bind(settings.host, settings.tls_port), True))
    if settings.console_port:
        result.append(Listener("console", bind(settings.host, settings.console_port), settings.tls_cert is not None))
    return result


def bound_settings(settings: Settings, socks: list[Listener]) -> Settings:
    """Settings with the ports actually bound (differs from the request when a port was 0)."""
    ports = {lst.name: int(lst.sock.getsockname()[1]) for lst in socks}
    return dataclasses.replace(settings, port=ports["s3"], tls_port=ports.get("s3-tls", settings.tls_port),
                               console_port=ports.get("console", settings.console_port))


class _Server(uvicorn.Server):
    """Several uvicorn servers share one loop; the worker, not each server, owns the signals; and
    connections come from a ``BalancedAcceptor`` on the shared socket instead of asyncio's server."""

    def __init__(self, config: uvicorn.Config, board: Board, slot: int) -> None:
        super().__init__(config)
        self._board = board
        self._slot = slot

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own startup for pre-opened sockets, with asyncio's create_server replaced.
        assert sockets is not None
        await self.lifespan.startup()
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state)

        loop = asyncio.get_running_loop()
        self.servers = [BalancedAcceptor(loop, sock, create_protocol, config.ssl, self._board,  # type: ignore[list-item]
                                         self._slot) for sock in sockets]
        self.started = True


def _app_for(listener: Listener, settings: Settings) -> Callable[..., Any]:
    from sealbox.app import create_app

    if listener.name == "console":
        from sealbox.console.app import create_console_app

        return create_console_app(settings)
    return create_app(settings)


def _config(app: Callable[..., Any], listener: Listener, settings: Settings) -> uvicorn.Config:
    tls: dict[str, Any] = {}
    if listener.tls:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    from sealbox.http.protocol import guarded_protocol

    # httptools, with a limit on the size of a request head and on the time it may take to arrive.
    return uvicorn.Config(app, http=guarded_protocol(settings.request_timeout), loop="uvloop", lifespan="off",
                          access_log=False, server_header=False, date_header=True, log_level=settings.log_level,
                          timeout_keep_alive=30, h11_max_incomplete_event_size=64 * 1024,
                          # No X-Forwarded-For rewriting: aws:SourceIp must be the real peer (and it
                          # saves a middleware layer per request).
                          proxy_headers=False, **tls)


def tune_allocator() -> None:
    """Keep ~1 MiB body buffers in the heap instead of a fresh mmap/munmap (and page faults) each.

    glibc serves allocations above its mmap threshold with mmap; the streaming paths allocate and
    free several 1 MiB buffers per request, which then cost system calls and zeroed pages every
    time. A fixed 8 MiB threshold, a 32 MiB trim threshold and few arenas keep them reusable while
    bounding what a worker retains. A no-op where the C library has no mallopt (not glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    mallopt(m_mmap_threshold, 8 * 1024 * 1024)
    mallopt(m_trim_threshold, 32 * 1024 * 1024)
    mallopt(m_arena_max, 4)


async def _announce_when(ready: Callable[[], bool], workers: int) -> None:
    while not ready():
        await asyncio.sleep(0.02)
    _announce(workers)


def _announce(workers: int) -> None:
    """The line scripts wait for: every worker accepts connections now (so they are spread evenly)."""
    print(f"sealbox: ready ({workers} worker{'s' if workers != 1 else ''})", flush=True)


def run_worker(settings: Settings, socks: list[Listener], boards: dict[str, Board], slot: int,
               announce: bool = False) -> None:
    import uvloop

    tune_allocator()
    # AES-GCM in `cryptography` holds the GIL while it runs; a worker thread looping over segments
    # would otherwise keep the event loop waiting up to the default 5 ms switch interval.
    sys.setswitchinterval(0.0005)

    async def main() -> None:
        shared: dict[str, Any] = {}
        servers: list[tuple[_Server, Listener]] = []
        for listener in socks:
            key = "console" if listener.name == "console" else "s3"
            if key not in shared:
                shared[key] = _app_for(listener, settings)
            servers.append((_Server(_config(shared[key], listener, settings), boards[listener.name], slot), listener))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s, _ in servers])
        if announce:
            loop.create_task(_announce_when(lambda: all(s.started for s, _ in servers), 1))
        await asyncio.gather(*(s.serve(sockets=[lst.sock]) for s, lst in servers))

    uvloop.run(main())


def supervise(settings: Settings, socks: list[Listener]) -> None:
    """Fork ``effective_workers`` workers and keep that many alive until told to stop."""
    count = settings.effective_workers
    # One board of open-connection counts per listener, shared with every worker (sealbox.accept).
    boards = {listener.name: Board(count) for listener in socks}
    if count == 1:
        run_worker(settings, socks, boards, 0, announce=True)
        return
    children: dict[int, tuple[float, int]] = {}  # pid -> (started, slot on the boards)
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                run_worker(settings, socks, boards, slot)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", os.getpid())  # os._exit below would lose the traceback
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = (time.monotonic(), slot)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(count):
        spawn(slot)
    announced = False
    while children:
        try:
            if announced:
                pid, status = os.wait()
            else:  # poll until every worker accepts (also after a worker that died at start-up is replaced)
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    if all(board.all_running() for board in boards.values()):
                        _announce(count)
                        announced = True
                    else:
                        time.sleep(0.02)
                    continue
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        entry = children.pop(pid, None)
        if stopping or entry is None:
            continue
        started, slot = entry
        for board in boards.values():
            board.release(slot)  # its connections died with it
        log.error("worker %d exited (status %d); starting another", pid, status)
        if time.monotonic() - started < 1.0:
            time.sleep(1.0)  # a worker that dies at once would otherwise spin the supervisor
        spawn(slot)
    sys.stdout.flush()
