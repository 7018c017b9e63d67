"""Process model: the parent opens the listening sockets, forks workers, and supervises them.

Every worker runs an event loop (uvloop) serving HTTP (sealbox.http.connection) on the inherited
sockets, and all serve the same data directory; SQLite in WAL mode and immutable blob files make
that safe. Workers take connections from the shared sockets in turn, by open-connection count
(sealbox.accept). A worker that dies is replaced; SIGTERM/SIGINT stop all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import signal
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from typing import Any

from sealbox.accept import BalancedAcceptor, Board
from sealbox.config import Settings
from sealbox.http.connection import ConnectionSet, HttpConnection

log = logging.getLogger("sealbox.server")
SHUTDOWN_GRACE = 10.0  # seconds requests in progress may take to finish when a worker is stopped


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


def _kind(listener: Listener) -> str:
    return "console" if listener.name == "console" else "s3"


def _tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


def tune_allocator() -> None:
    """Keep ~1 MiB body buffers in the heap instead of a fresh mmap/munmap (and page faults) each.

    glibc serves allocations above its mmap threshold with mmap; the streaming paths allocate and
    free several 1 MiB buffers per request, which then cost system calls and zeroed pages every
    time. A fixed 8 MiB threshold, a 32 MiB trim threshold and few arenas keep them reusable while
    bounding what a worker retains. A no-op where the C library has no mallopt (not glibc).
    """
    import ctypes

    from sealbox.core import libc

    mallopt = libc.function("mallopt", (ctypes.c_int, ctypes.c_int))
    if mallopt is None:
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    mallopt(m_mmap_threshold, 8 * 1024 * 1024)
    mallopt(m_trim_threshold, 32 * 1024 * 1024)
    mallopt(m_arena_max, 4)


def _announce(workers: int) -> None:
    """The line scripts wait for: every worker accepts connections now (so they are spread evenly)."""
    print(f"sealbox: ready ({workers} worker{'s' if workers != 1 else ''})", flush=True)


def run_worker(settings: Settings, socks: list[Listener], boards: dict[str, Board], slot: int,
               announce: bool = False) -> None:
    import uvloop

    from sealbox.app import build_handlers
    from sealbox.core.libc import forbid_core_dumps

    # Before any key is loaded (build_handlers opens the keyring): no core file, and no ptrace or
    # /proc/<pid>/mem reading by other processes of the same user, may ever hold the master keys.
    # The supervisor did this too, and fork inherits both; a worker does it itself all the same.
    forbid_core_dumps()
    tune_allocator()
    # AES-GCM in `cryptography` holds the GIL while it runs; a worker thread looping over segments
    # would otherwise keep the event loop waiting up to the default 5 ms switch interval.
    sys.setswitchinterval(0.0005)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # One set of services for every listener of this worker (sealbox.app.build_handlers).
        handlers = build_handlers(settings, {_kind(listener) for listener in socks})
        if "console" in handlers:
            from sealbox.console.app import ConsoleApp

            console = handlers["console"]
            assert isinstance(console, ConsoleApp)
            console.start_background()  # resumes bulk jobs whose gateway died, unviewed
        _start_lifecycle(settings)
        connections = ConnectionSet(settings.max_connections, settings.max_body_memory_mib * 1024 * 1024)
        from sealbox.ops.wiring import worker_hooks

        stop_ops = worker_hooks(loop, connections)  # SIGHUP reopens the access log; connection gauge
        acceptors = []
        for listener in socks:
            factory = functools.partial(HttpConnection, handlers[_kind(listener)], secure=listener.tls,
                                        timeout=settings.request_timeout, connections=connections)
            tls = _tls_context(settings) if listener.tls else None
            acceptors.append(BalancedAcceptor(loop, listener.sock, factory, tls, boards[listener.name], slot))
        if announce:
            _announce(1)
        await stop.wait()
        for acceptor in acceptors:
            acceptor.close()
        stop_ops()
        await connections.shutdown(SHUTDOWN_GRACE)

    uvloop.run(main())


def _start_lifecycle(settings: Settings) -> None:
    """The lifecycle worker (issue 17): a thread per worker; a run-once lock lets one pass run at a time in the deployment. Its
    store opens SSE rows' sealed metadata (their tags decide Tag filters, issue 16)."""
    from sealbox.ops.metrics import TaskProgress, metrics
    from sealbox.service.keys import key_source
    from sealbox.service.lifecycle_worker import start_in_worker
    from sealbox.service.metadata import MetadataSealer
    from sealbox.service import sse_c
    from sealbox.service.sealing import Sealer
    from sealbox.storage.data.local import LocalBlobStore
    from sealbox.service import freed
    from sealbox.storage.locks import run_once
    from sealbox.storage.meta.stores import open_meta_store

    sealer = Sealer(key_source(settings))
    meta = open_meta_store(settings.meta_url, settings.db_path, MetadataSealer(sealer))
    sse_c.attach(meta, sealer)  # SSE-C rows' metadata opens with the server share
    raw = LocalBlobStore(settings.data_dir)
    shared = meta.shared
    locks = run_once(settings.data_dir, settings.meta_url)
    start_in_worker(meta, freed.for_store(raw, meta, shared), locks, settings.lifecycle_day_seconds,
                    TaskProgress(metrics(), "lifecycle"),
                    sweep=freed.periodic_sweep(meta, raw, locks, settings.freed_grace) if shared else None)


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
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker's loop handles it
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

    def reopen_logs(signum: int, _frame: Any) -> None:  # log rotation: every worker reopens its file
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reopen_logs)
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
        from sealbox.ops.metrics import worker_exited

        worker_exited(pid)  # its in-flight and connection gauges no longer count
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
