"""One server per data directory: ``<data dir>/run/serve.lock``, held with ``flock`` for as long as
the supervisor or any of its workers lives (the workers inherit the descriptor), and holding the PID
of the supervisor. A second ``sealbox serve`` on the same directory refuses to start and names it;
two servers would each believe their caches (and their metrics directory) are theirs alone."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DataDirInUse(RuntimeError):
    pass


def lock_path(data_dir: Path) -> Path:
    return data_dir / "run" / "serve.lock"


def holder_of(data_dir: Path) -> int | None:
    """The PID serving ``data_dir``, or None when no server holds it."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def hold(data_dir: Path) -> int:
    """Take the lock for this process (and the workers it forks); the descriptor stays open on purpose."""
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"PID {text}" if text.isdigit() else "another process"
        raise DataDirInUse(f"the data directory {data_dir} is already served by {who}"
                           f" (lock {path}); stop it first, or use another --data-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.set_inheritable(fd, True)  # workers keep it held if the supervisor dies first
    return fd
