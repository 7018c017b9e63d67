"""The cluster case of ``make bench`` (issue 19): two sealbox gateways on one PostgreSQL and one data
directory on this machine, beside the single-node SQLite server of the same run.

The PostgreSQL server is the tests' (tests/pg_support.py: Debian's package, initdb into the bench's
temp dir, durability settings at their defaults). Each gateway runs one worker, so the pair uses as
many worker processes as the single server's default ``--workers 2``; PostgreSQL's own processes come
on top, on the same two cores. Concurrent connections go to the gateways in turn (c1: all to the
first), as a load balancer would spread them; requests are signed for the first gateway's host and
carry it as their Host header, as a client of the balancer's one name does (the built-in raw client;
with --client aiohttp the second gateway refuses the signature).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import HOST, ManagedProcess, _spawn, free_port
from sigv4_client import Connection, RawConnection, make_connection

REPO = Path(__file__).resolve().parent.parent
SIZES_KIB = (4, 64 * 1024)  # the 4 KiB and 64 MiB
SSE = "AES256"


@dataclass
class Gateways:
    """Duck-types ManagedProcess for the case runner: the first gateway's port and process, CPU and
    memory summed over both gateways and PostgreSQL."""

    name: str
    members: list[ManagedProcess]
    postgres: Any  # tests.pg_support.PgServer

    @property
    def port(self) -> int:
        return self.members[0].port

    @property
    def proc(self) -> Any:
        return next((m.proc for m in self.members if m.proc.poll() is not None), self.members[0].proc)

    @property
    def ports(self) -> list[int]:
        return [m.port for m in self.members]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(f"[{m.name}]\n{m.log_tail(lines)}" for m in self.members)

    def wait_ready(self, timeout: float = 30.0) -> None:
        for m in self.members:
            m.wait_ready(timeout)

    def _pg(self) -> ManagedProcess | None:
        proc = self.postgres.proc if self.postgres is not None else None
        return ManagedProcess("postgres", proc, 0, self.postgres.log_path) if proc is not None else None

    def cpu_seconds(self) -> float:
        pg = self._pg()
        return sum(m.cpu_seconds() for m in self.members) + (pg.cpu_seconds() if pg else 0.0)

    def rss(self) -> int:
        pg = self._pg()
        return sum(m.rss() for m in self.members) + (pg.rss() if pg else 0)

    @property
    def pid(self) -> int:
        return self.members[0].pid

    def stop(self, grace: float = 5.0) -> None:
        for m in self.members:
            m.stop(grace)
        if self.postgres is not None:
            self.postgres.close()
            self.postgres = None


def available() -> str | None:
    """None when the cluster case can run, else why not."""
    sys.path.insert(0, str(REPO))
    try:
        from tests import pg_support

        pg_support.binaries()
        import psycopg  # noqa: F401
    except (ImportError, RuntimeError) as exc:
        return str(exc)
    return None


def start_gateways(binary: str, workdir: Path, access_key: str, secret_key: str, n: int = 2) -> Gateways:
    sys.path.insert(0, str(REPO))
    from tests import pg_support

    postgres = pg_support.PgServer()
    group = Gateways("cluster", [], postgres)
    try:
        url = postgres.database("bench")
        data_dir = workdir / "cluster-data"
        data_dir.mkdir()
        env = {**os.environ, "SEALBOX_ACCESS_KEY": access_key, "SEALBOX_SECRET_KEY": secret_key}
        for i in range(n):  # one after the other: the first makes the key file the others read
            port = free_port()
            cmd = [binary, "serve", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir),
                   "--workers", "1", "--meta-url", url, "--console-port", "0"]
            member = _spawn(f"gateway-{'ab'[i]}", cmd, port, workdir, env)
            group.members.append(member)
            member.wait_ready()
    except BaseException:
        group.stop()
        raise
    return group


def connector(kind: str, ports: list[int], host: str, timeout: float) -> Callable[[], Connection]:
    """Connections to the gateways in turn (the first to the first gateway), each sending the Host
    header the requests are signed for, as a balancer passes the client's on."""
    turn = itertools.cycle(ports)

    def connect() -> Connection:
        conn = make_connection(kind, HOST, next(turn), timeout=timeout)
        if isinstance(conn, RawConnection):
            conn.host_header = host
        return conn

    return connect


def ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Cluster beside single-node SQLite, case by case (same run, same SSE)."""
    single = {(r["op"], r["size"], r["conc"], r["sse"]): r for r in rows if r["target"] == "sealbox"}
    lines = []
    for r in rows:
        if r["target"] != "cluster":
            continue
        base = single.get((r["op"], r["size"], r["conc"], r["sse"]))
        if base is None or not base["ops_per_s"] or r["errors"] or base["errors"]:
            continue
        lines.append(f"cluster(2 gateways, PostgreSQL)/single(SQLite) {r['op']} {r['size_label']} c{r['conc']}"
                     f" sse={r['sse'] or 'none'}: {r['ops_per_s']:.1f} / {base['ops_per_s']:.1f} op/s"
                     f" = {r['ops_per_s'] / base['ops_per_s']:.2f}; p50 {r['p50_ms']} / {base['p50_ms']} ms")
    return lines
