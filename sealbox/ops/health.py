"""``/_sealbox/…``: health checks and metrics, on the S3 port and on the console port.

No bucket can be named ``_sealbox`` (bucket names hold no ``_``), so these paths never shadow S3.

- ``GET /_sealbox/health/live``: 200 while the process serves requests (no other check).
- ``GET /_sealbox/health/ready``: 200 when the metadata store answers a query, the data directory
  takes a file, and the keyring holds an active master key; else 503 naming what failed. Both are
  unauthenticated and answer a small JSON document (``{"status": "ok", "checks": {...}}``).
- ``GET /_sealbox/metrics``: the Prometheus text format (sealbox.ops.metrics). Open to loopback
  clients; from elsewhere only with ``Authorization: Bearer <--metrics-token>`` or when the operator
  opened it (``--metrics-public``): request counts by bucket-agnostic operation are no secret, but
  they are no one else's business either.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sealbox.config import Settings
from sealbox.http.connection import Exchange

PREFIX = "/_sealbox/"
_JSON = "application/json"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False  # a Unix socket or an unknown peer: not provably local


def check_meta(db_path: Path, meta_url: str | None = None) -> str | None:
    if meta_url:
        return _check_postgres(meta_url)
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2.0)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"metadata store: {exc}"
    return None


def _check_postgres(url: str) -> str | None:
    """One statement on the worker's pool (a new connection when the pooled ones died with a restart)."""
    from sealbox.storage.meta.base import StoreUnavailable
    from sealbox.storage.meta.pgconn import PgDatabase

    db = PgDatabase.shared(url)
    try:
        db.reader.execute("SELECT 1")
    except StoreUnavailable as exc:
        return f"metadata store: {exc}"
    finally:
        db.close()
    return None


def check_writable(data_dir: Path) -> str | None:
    probe = data_dir / "tmp" / f".ready-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"data directory: {exc.strerror or exc}"
    return None


class OpsEndpoints:
    """Answers ``/_sealbox/*`` for one listener. ``keyring_ok`` says whether master keys are loaded."""

    def __init__(self, settings: Settings, keyring_ok: Callable[[], str | None]) -> None:
        self.settings = settings
        self.keyring_ok = keyring_ok

    def ready_checks(self) -> dict[str, str]:
        problems = {"metadata": check_meta(self.settings.db_path, self.settings.meta_url),
                    "data_dir": check_writable(self.settings.data_dir),
                    "keyring": self.keyring_ok()}
        return {name: problem or "ok" for name, problem in problems.items()}

    def metrics_allowed(self, headers: dict[str, str], client_ip: str) -> bool:
        if self.settings.metrics_public or _is_loopback(client_ip):
            return True
        token = self.settings.metrics_token
        given = headers.get("authorization", "")
        return bool(token) and given.startswith("Bearer ") and hmac.compare_digest(
            given[7:].strip().encode(), str(token).encode())

    async def answer_exchange(self, exchange: Exchange) -> None:
        await self.answer(exchange)

    async def answer(self, exchange: Exchange) -> tuple[int, str | None]:
        """Answer the request; returns (status, error code) for the access log."""
        path = exchange.raw_path
        if exchange.method not in ("GET", "HEAD"):
            return self._send(exchange, 405, {"allow": "GET, HEAD"}, _JSON, b'{"status":"method not allowed"}\n')
        if path == "/_sealbox/health/live":
            return self._send(exchange, 200, {}, _JSON, b'{"status":"ok"}\n')
        if path == "/_sealbox/health/ready":
            checks = await asyncio.to_thread(self.ready_checks)
            ok = all(value == "ok" for value in checks.values())
            body = json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}).encode() + b"\n"
            return self._send(exchange, 200 if ok else 503, {}, _JSON, body)
        if path == "/_sealbox/metrics":
            if not self.metrics_allowed(exchange.headers, exchange.client_ip):
                return self._send(exchange, 403, {"www-authenticate": 'Bearer realm="sealbox metrics"'}, _JSON,
                                  b'{"status":"forbidden: metrics are open to loopback clients, or with'
                                  b' --metrics-token"}\n')
            from sealbox.ops.metrics import metrics, render

            metrics().flush()  # on the loop, where the sums are added to
            body, content_type = await asyncio.to_thread(render)
            return self._send(exchange, 200, {}, content_type, body)
        return self._send(exchange, 404, {}, _JSON, b'{"status":"not found"}\n')

    @staticmethod
    def _send(exchange: Exchange, status: int, headers: dict[str, str], content_type: str,
              body: bytes) -> tuple[int, str | None]:
        exchange.start(status, [*headers.items(), ("content-type", content_type), ("cache-control", "no-store"),
                                ("content-length", str(len(body))), ("server", "sealbox")], body)
        return status, None
