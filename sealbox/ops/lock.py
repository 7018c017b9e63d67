"""The serve lock: ``<data dir>/run/serve.lock``, held with ``flock`` for as long as the supervisor or
any of its workers lives (the workers inherit the descriptor).

- A SQLite server holds it *exclusively* and writes its PID into it: a second ``sealbox serve`` on
  the same directory (SQLite or PostgreSQL) refuses to start and names it. SQLite's caches are kept
  coherent by a memory-mapped file only one host's processes see (storage/meta/generation.py), and
  its WAL must not be shared over a network file system, so one SQLite server per directory it is.
- A gateway on PostgreSQL (``--meta-url postgresql://…``) holds it *shared*: any number of them
  serve one data directory (on a shared file system, from several hosts: Linux NFSv4 and CephFS
  carry ``flock`` to the server), while a SQLite server on the same directory is refused, and
  refuses to start while any gateway holds it. A shared lock has many holders: the file then
  holds no PID (a stale one left by a SQLite server that died is cleared).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DataDirInUse(RuntimeError):
    pass


def lock_path(data_dir: Path) -> Path:
    return data_dir / "run" / "serve.lock"


def holder_of(data_dir: Path) -> int | None:
    """The PID of the SQLite server of ``data_dir``; -1 when gateways on PostgreSQL serve it; None
    when nothing does."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def hold(data_dir: Path, *, shared: bool = False) -> int:
    """Take the lock for this process (and the workers it forks); the descriptor stays open on purpose.
    ``shared``: this is one of several gateways on PostgreSQL."""
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        if text.isdigit():
            who = f"PID {text}" + (" (a server on SQLite: gateways on PostgreSQL cannot share it)" if shared else "")
        else:
            who = "gateways on PostgreSQL (a server on SQLite needs the directory to itself)"
        raise DataDirInUse(f"the data directory {data_dir} is already served by {who}"
                           f" (lock {path}); stop it first, or use another --data-dir") from None
    os.ftruncate(fd, 0)  # held: no exclusive holder exists, any PID in the file is stale
    if not shared:
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.set_inheritable(fd, True)  # workers keep it held if the supervisor dies first
    return fd
