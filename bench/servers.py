"""Start, watch and stop the servers the benchmark talks to (sealbox, nginx, moto), all on 127.0.0.1.

Every server is a child process of the benchmark. ``stop()`` ends it by PID (and the PIDs of its own
children, collected before the parent is told to stop), never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _answers_http(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


@dataclass
class ManagedProcess:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            # sealbox prints "sealbox: ready" once every worker accepts (before that, the first worker
            # up would get every connection of the first case); the others need only answer.
            ready_line = self.name != "sealbox" or "sealbox: ready" in self.log_path.read_text(errors="replace")
            if ready_line and _answers_http(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer on {HOST}:{self.port} in {timeout:.0f}s:\n{self.log_tail()}"
        )

    def rss(self) -> int:
        """Resident memory summed over the process and all its descendants."""
        total = 0
        for p in _tree(self.pid):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def cpu_seconds(self) -> float:
        """user+system CPU time of the process tree (live processes only)."""
        total = 0.0
        for p in _tree(self.pid):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        children = _tree(self.pid)[1:]
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(grace)
        _, alive = psutil.wait_procs(children, timeout=grace)
        for child in alive:
            try:
                child.kill()
            except psutil.Error:
                pass


def _spawn(
    name: str, cmd: list[str], port: int, workdir: Path, env: dict[str, str] | None = None
) -> ManagedProcess:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            start_new_session=True,  # a terminal Ctrl-C reaches only the benchmark, which stops them by PID
        )
    return ManagedProcess(name, proc, port, log_path)


def start_sealbox(
    binary: str, workdir: Path, access_key: str, secret_key: str, workers: int
) -> ManagedProcess:
    data_dir = workdir / "sealbox-data"
    data_dir.mkdir()
    port = free_port()
    env = {**os.environ, "SEALBOX_ACCESS_KEY": access_key, "SEALBOX_SECRET_KEY": secret_key}
    cmd = [binary, "serve", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir)]
    # SSE-C cases run over loopback HTTP; no console: 9001 may be taken
    cmd += ["--workers", str(workers), "--allow-sse-c-over-http", "--console-port", "0"]
    return _spawn("sealbox", cmd, port, workdir, env)


def find_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        raise RuntimeError("nginx not found: run `bash scripts/install-bench-deps.sh` first")
    return found


NGINX_CONF = """daemon off;
master_process on;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {host}:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(workdir: Path, root: Path) -> ManagedProcess:
    prefix = workdir / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, host=HOST, port=port, root=root))
    cmd = [find_nginx(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "nginx-error.log")]
    return _spawn("nginx", cmd, port, workdir)


def start_moto(workdir: Path) -> ManagedProcess:
    binary = shutil.which("moto_server")
    if not binary:
        raise RuntimeError("moto_server not found on PATH (pip install 'moto[server]')")
    port = free_port()
    return _spawn("moto", [binary, "-H", HOST, "-p", str(port)], port, workdir)


@dataclass
class RssSampler:
    """Samples the RSS of each watched process tree every ``interval`` seconds; keeps the peak."""

    interval: float = 0.05
    peaks: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    _watched: list[ManagedProcess] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, server: ManagedProcess) -> None:
        self._watched.append(server)
        self.peaks.setdefault(server.name, 0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for server in list(self._watched):
                if server.proc.poll() is None:
                    self.peaks[server.name] = max(self.peaks[server.name], server.rss())
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
