"""C library functions Python's os and mmap modules lack (sync_file_range, madvise and mincore on
an address, mallopt, prctl), called through ctypes, which releases the GIL for the duration of each
call."""

from __future__ import annotations

import ctypes
import os
import resource
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)  # the C library this process already runs on
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4  # <linux/prctl.h>


def function(name: str, argtypes: tuple[Any, ...], restype: Any = ctypes.c_int) -> Any | None:
    """The C library's ``name``, typed, or None where this C library has no such function."""
    found = getattr(_libc, name, None)
    if found is not None:
        found.argtypes = argtypes
        found.restype = restype
    return found


def _prctl() -> Any | None:
    return function("prctl", (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong))


def forbid_core_dumps() -> None:
    """Keep this process's memory (master keys, data keys, secrets) out of core files and debuggers.

    Called before any key is loaded, by every process that loads keys (the server's supervisor and
    workers, the CLI). Two independent locks, because each covers a case the other misses:

    - ``RLIMIT_CORE`` 0, soft and hard: the kernel writes no core file for a crash, and the
      process cannot raise the limit again (short of CAP_SYS_RESOURCE).
    - ``prctl(PR_SET_DUMPABLE, 0)`` (Linux): no core dump at all, even where the limit does not
      apply (the kernel hands a core to a ``core_pattern`` pipe — systemd-coredump, apport —
      whatever the limit, leaving it to the helper to honour; root may raise another process's
      limit with prlimit), and no ``ptrace`` attach, ``/proc/<pid>/mem`` or
      ``/proc/<pid>/environ`` (SEALBOX_MASTER_KEYS) for other processes of the same user: the
      process's /proc files become root's. Inherited across fork.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    prctl = _prctl()
    if prctl is None:
        return  # not Linux: the limit is what there is
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_DUMPABLE, 0): {os.strerror(err)}")


def dumpable() -> bool | None:
    """Whether this process may be core-dumped or traced (PR_GET_DUMPABLE); None off Linux."""
    prctl = _prctl()
    return None if prctl is None else bool(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
