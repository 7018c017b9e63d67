"""C library functions Python's os and mmap modules lack (sync_file_range, madvise and mincore on
an address, mallopt), called through ctypes, which releases the GIL for the duration of each call."""

from __future__ import annotations

import ctypes
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)  # the C library this process already runs on


def function(name: str, argtypes: tuple[Any, ...], restype: Any = ctypes.c_int) -> Any | None:
    """The C library's ``name``, typed, or None where this C library has no such function."""
    found = getattr(_libc, name, None)
    if found is not None:
        found.argtypes = argtypes
        found.restype = restype
    return found
