"""A real PostgreSQL server for the tests (issue 19): Debian's ``postgresql`` package, ``initdb`` into a
temporary directory, run as an unprivileged user, listening on 127.0.0.1 (a free port) and on a Unix
socket in that directory; stopped by its PID at the end of the session.

``shared_server()`` starts one server per pytest process on first use (``tests/conftest.py`` stops it
when the session ends); ``database(name)`` gives each test module (or test) its own database, made
from a template so that it costs a file copy, not a schema migration. fsync and the other durability
settings are left at PostgreSQL's defaults: the tests see the commit costs a deployment pays.

``scripts/install-test-deps.d/postgresql.sh`` installs the package on a fresh machine.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

SUPERUSER = "sealbox"  # the cluster's superuser role (initdb -U), trusted on loopback and the socket
_START_TIMEOUT = 60.0  # seconds for initdb + first start on a loaded 2-core machine


def binaries() -> Path:
    """The newest installed server's bin directory (Debian keeps them under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/install-test-deps.d/postgresql.sh"
                           " (Debian's postgresql package)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in a temporary directory; ``stop``/``start`` keep its data (the fault tests)."""

    def __init__(self) -> None:
        self.bin = binaries()
        # initdb refuses to run as root: the package's "postgres" user, else nobody.
        self.user = "postgres" if _user_exists("postgres") else "nobody"
        pw = pwd.getpwnam(self.user)
        self._uid, self._gid = pw.pw_uid, pw.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="sealbox-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.socket_dir.mkdir()
        self.log_path = self.root / "postgres.log"
        for path in (self.root, self.socket_dir):
            os.chown(path, self._uid, self._gid)
        os.chmod(self.root, 0o755)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._made: set[str] = set()
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])  # --no-sync: initdb's own files only; the server fsyncs as usual
        self.start()

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, user=self._uid, group=self._gid, extra_groups=[], capture_output=True,
                              timeout=_START_TIMEOUT, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout.decode()}{done.stderr.decode()}")

    # -- the server process ------------------------------------------------------------------
    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.socket_dir),
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "shared_buffers=64MB"]
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, user=self._uid, group=self._gid, extra_groups=[], stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres did not start within {_START_TIMEOUT:.0f} s: {self.log()}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self, mode: str = "fast") -> None:
        """Stop by PID: "fast" (SIGINT: roll back open transactions, checkpoint) or "immediate" (SIGQUIT:
        no checkpoint, crash recovery at the next start)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- databases ---------------------------------------------------------------------------
    def url(self, db: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def database(self, name: str, *, migrated: bool = True) -> str:
        """A new database ``name`` (dropped first if it exists), its URL. ``migrated``: a copy of a
        template that holds sealbox's schema already (a file copy, ~0.1 s, instead of a migration)."""
        import psycopg

        template = f' TEMPLATE "{self._template()}"' if migrated else ""
        with self._lock, psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"{template}')
            self._made.add(name)
        return self.url(name)

    def _template(self) -> str:
        """A database migrated to sealbox's current PostgreSQL schema, made once (no connection stays
        open to it: CREATE DATABASE … TEMPLATE needs it idle)."""
        import psycopg

        from sealbox.storage.meta.pgconn import PgDatabase
        from sealbox.storage.meta.postgres import migrate_postgres

        name = "sealbox_template"
        with self._lock:
            if name in self._made:
                return name
            with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            db = PgDatabase(self.url(name))
            try:
                migrate_postgres(db)
            finally:
                db.close()
            self._made.add(name)
        return name

    def database_for(self, directory: Path) -> str:
        """The database of a test's temporary directory: made on first use, the same one after
        (a test that opens a second store on the same directory opens the same database)."""
        name = "t_" + hashlib.sha256(str(directory).encode()).hexdigest()[:20]
        if name in self._made:
            return self.url(name)
        return self.database(name)


_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded here: the child between fork and exec imports nothing


def _die_with_parent() -> None:
    """In the child, after it became the unprivileged user: a fast shutdown (SIGINT) if the test process
    dies without stopping it (killed, or a crash), so no server outlives its tests."""
    _LIBC.prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG = 1


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


_shared: PgServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> PgServer:
    """The session's one server, started on first use (stopped by ``stop_shared``, from conftest)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PgServer()
        return _shared


def stop_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None
