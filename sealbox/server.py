"""Process model: the parent binds the listening sockets, forks workers, and supervises them.

Every worker runs uvicorn (httptools + uvloop) on the inherited sockets and serves the same data
directory; SQLite in WAL mode and immutable blob files make that safe. A worker that dies is
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

from sealbox.config import Settings

log = logging.getLogger("sealbox.server")


@dataclass(frozen=True)
class Listener:
    name: str  # "s3", "s3-tls", "console"
    sock: socket.socket
    tls: bool


def _socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def bind(host: str, port: int) -> socket.socket:
    """Reserve the address in the parent (bound, not listening: it receives no connections).

    Each worker then listens on a socket of its own bound to the same address (SO_REUSEPORT), so
    the kernel spreads new connections over the workers. With one shared listening socket, a few
    long-lived keep-alive connections tend to land on one worker and leave the other cores idle.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _socket(family)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def worker_socket(reserved: socket.socket) -> socket.socket:
    """This worker's listening socket on the address the parent reserved."""
    sock = _socket(reserved.family)
    sock.bind(reserved.getsockname())
    sock.listen(1024)
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
    """Several uvicorn servers share one loop; the worker, not each server, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


def run_worker(settings: Settings, socks: list[Listener]) -> None:
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
            servers.append((_Server(_config(shared[key], listener, settings)), listener))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s, _ in servers])
        await asyncio.gather(*(s.serve(sockets=[worker_socket(lst.sock)]) for s, lst in servers))

    uvloop.run(main())


def supervise(settings: Settings, socks: list[Listener]) -> None:
    """Fork ``effective_workers`` workers and keep that many alive until told to stop."""
    count = settings.effective_workers
    if count == 1:
        run_worker(settings, socks)
        return
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                run_worker(settings, socks)
            finally:
                os._exit(0)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if stopping or started is None:
            continue
        log.error("worker %d exited (status %d); starting another", pid, status)
        if time.monotonic() - started < 1.0:
            time.sleep(1.0)  # a worker that dies at once would otherwise spin the supervisor
        spawn()
    sys.stdout.flush()
