"""Test support: start the real sealbox process, sign raw requests, make a TLS certificate."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
SEALBOX = Path(sys.executable).parent / "sealbox"
ACCESS_KEY = "SBTESTROOTACCESSKEY1"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmn"
REGION = "us-east-1"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    tls_port: int | None = None
    cert: Path | None = None
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_endpoint(self) -> str:
        return f"https://localhost:{self.tls_port}"

    def client(self, tls: bool = False, **config: object) -> S3Client:
        """With ``extra["spread"]`` (several gateways, tests/cluster): plain-HTTP requests go to each in turn."""
        client = self._client(tls, **config)
        gateways = self.extra.get("spread")
        if gateways and not tls:
            from tests.cluster.support import spread

            return spread(client, gateways)  # type: ignore[arg-type]
        return client

    def _client(self, tls: bool = False, **config: object) -> S3Client:
        return boto3.client(
            "s3", endpoint_url=self.tls_endpoint if tls else self.endpoint, region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            verify=str(self.cert) if tls else None,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),  # type: ignore[arg-type]
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


def wait_ready(proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> dict[str, int]:
    """Wait for the start-up banner and return the ports it reports ("s3", "s3-tls", "console")."""
    deadline = time.monotonic() + timeout
    patterns = {"s3": r"S3 endpoint https?://[^:]+:(\d+)", "s3-tls": r"S3 TLS endpoint https://[^:]+:(\d+)",
                "console": r"web console https?://[^:]+:(\d+)"}
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if proc.poll() is not None:
            raise RuntimeError(f"sealbox exited with {proc.returncode}:\n{text}")
        ports = {name: int(m.group(1)) for name, rx in patterns.items() if (m := re.search(rx, text))}
        # "ready": every worker accepts (connections opened earlier would all go to the first one).
        if "s3" in ports and "sealbox: ready" in text:
            for port in ports.values():
                _wait_port(port, proc, log_path, deadline)
            return ports
        time.sleep(0.05)
    raise RuntimeError(f"sealbox did not start:\n{log_path.read_text(errors='replace')}")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log_path: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sealbox exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sealbox did not listen on {port}:\n{log_path.read_text(errors='replace')}")


def meta_backend() -> str:
    """The metadata store the servers of this run use unless a test says: $SEALBOX_TEST_META
    ("postgres": every server on the session's PostgreSQL, tests/pg_support.py), else "sqlite"."""
    return os.environ.get("SEALBOX_TEST_META", "sqlite")


def start_server(data_dir: Path, *args: str, workers: int = 1, tls: bool = False,
                 env: dict[str, str] | None = None, port: int | None = None, meta: str | None = None) -> Server:
    """Start ``sealbox serve`` on ports the OS picks (no races between parallel test runs).
    ``meta``: "postgres" puts its metadata in a new database on the session's PostgreSQL server
    (``--meta-url``), "sqlite" in the data directory; default ``meta_backend()``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(SEALBOX), "serve", "--data-dir", str(data_dir), "--port", str(port or 0), "--workers", str(workers),
            "--log-level", "warning", *args]
    # A data directory served before keeps its store (serve reads the URL it recorded there).
    if (meta or meta_backend()) == "postgres" and "--meta-url" not in args and not (data_dir / "metadata-store").exists():
        from tests import pg_support

        argv += ["--meta-url", pg_support.shared_server().database(f"srv_{uuid.uuid4().hex[:12]}")]
    cert = None
    if tls:
        cert, key = make_cert(data_dir.parent / "tls")
        argv += ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", "0"]
    log_path = data_dir.parent / f"server-{uuid.uuid4().hex[:8]}.log"
    # The console (default port 9001) is off unless a test asks for it with --console-port N.
    full_env = {**os.environ, "SEALBOX_ACCESS_KEY": ACCESS_KEY, "SEALBOX_SECRET_KEY": SECRET_KEY,
                "SEALBOX_CONSOLE_PORT": "0", **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
    try:
        ports = wait_ready(proc, log_path)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    server = Server(proc, ports["s3"], data_dir, log_path, ports.get("s3-tls"), cert)
    server.extra["ports"] = ports
    return server


@contextmanager
def running_server(data_dir: Path, *args: str, **kwargs: object) -> Iterator[Server]:
    server = start_server(data_dir, *args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous test code, on a thread of its own: a test
    that ran before (Playwright's sync API) may have left an event loop running in this thread,
    and asyncio.run() refuses to start inside one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def sse_args(encrypted: bool) -> dict[str, Any]:
    """Keyword arguments of a boto3 write that asks for SSE-S3, or for nothing."""
    return {"ServerSideEncryption": "AES256"} if encrypted else {}


def unique_bucket(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def signed_headers(server: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                   payload_hash: str | None = None, when: dt.datetime | None = None) -> dict[str, str]:
    """Headers of a SigV4-signed request (botocore's signer), optionally signed at another time."""
    from unittest import mock

    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers or {}))
    auth = S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", REGION)
    if payload_hash is not None:
        auth.payload = lambda request: payload_hash  # type: ignore[method-assign]
    with mock.patch("botocore.auth.get_current_datetime", return_value=when or dt.datetime.now(dt.UTC)):
        auth.add_auth(req)
    return dict(req.prepare().headers)


def signed_request(server: Server, method: str, path: str, *, body: bytes = b"",
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                   payload_hash: str | None = None, secret: str | None = None,
                   access_key: str | None = None, timeout: float = 30) -> requests.Response:
    """A raw SigV4-signed request (botocore's signer), for edge cases SDKs won't produce.

    ``payload_hash`` replaces the signed x-amz-content-sha256 value (e.g. UNSIGNED-PAYLOAD or a lie).
    """
    from unittest import mock

    url = server.endpoint + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}), params=params or {})
    auth = S3SigV4Auth(Credentials(access_key or server.access_key, secret or server.secret_key), "s3", REGION)
    if payload_hash is not None:
        auth.payload = lambda request: payload_hash  # type: ignore[method-assign]
    with mock.patch("botocore.auth.get_current_datetime", return_value=dt.datetime.now(dt.UTC)):
        auth.add_auth(req)
    prepared = req.prepare()
    return requests.request(method, prepared.url, data=body, headers=dict(prepared.headers), timeout=timeout)


def xml_code(response: requests.Response) -> str | None:
    import re

    m = re.search(r"<Code>([^<]*)</Code>", response.text)
    return m.group(1) if m else None


def held_requests(server: Server, count: int, request: bytes) -> tuple[list[socket.socket], list[int]]:
    """Open ``count`` keep-alive connections at once, send ``request`` on each and return the
    connections (still open) with each response's status. Held together, they are spread over all
    workers (sealbox.accept), so one call asks every worker."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(count)]
    statuses = []
    try:
        for s in socks:
            s.sendall(request)
        for s in socks:
            head = s.recv(65536)
            assert head.startswith(b"HTTP/1.1 "), head[:100]
            statuses.append(int(head[9:12]))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks, statuses


def connections_per_worker(server: Server) -> list[int]:
    """Established connections to the S3 port that each worker process holds."""
    import psutil

    counts = []
    for worker in psutil.Process(server.proc.pid).children():
        counts.append(sum(1 for c in worker.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED
                          and c.laddr and c.laddr.port == server.port))
    return counts
