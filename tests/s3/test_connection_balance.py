"""Workers share the listening socket and take connections by open-connection count (sealbox.accept):
keep-alive connections opened in a burst end up split evenly, where the kernel's SO_REUSEPORT hash
or a single accepting worker would leave one core with most of them."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from tests.support import connections_per_worker, held_requests, running_server

CONNECTIONS = 32
ANONYMOUS_HEAD = b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_a_burst_of_connections_is_split_evenly(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", workers=2) as server:
        for _ in range(3):  # a random split passes one round with odds ~0.4; three rounds ~0.07
            socks, _ = held_requests(server, CONNECTIONS, ANONYMOUS_HEAD)
            try:
                counts = connections_per_worker(server)
                assert sum(counts) == CONNECTIONS and len(counts) == 2, counts
                assert max(counts) - min(counts) <= 2, counts
            finally:
                for s in socks:
                    s.close()
            time.sleep(0.3)  # the workers see the closes before the next burst


def test_connections_keep_coming_when_a_worker_dies(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", workers=2) as server:
        parent = psutil.Process(server.proc.pid)
        victim = parent.children()[0]
        victim.kill()
        victim.wait(timeout=10)
        # While the supervisor replaces it, the other worker takes every connection.
        socks, statuses = held_requests(server, 8, ANONYMOUS_HEAD)
        for s in socks:
            s.close()
        assert len(statuses) == 8
        deadline = time.monotonic() + 15
        while len(parent.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(parent.children()) == 2
        time.sleep(0.5)  # the new worker is listening
        socks, _ = held_requests(server, 16, ANONYMOUS_HEAD)
        try:
            counts = connections_per_worker(server)
            assert sum(counts) == 16 and min(counts) >= 6, counts
        finally:
            for s in socks:
                s.close()

