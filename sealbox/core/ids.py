"""Random identifiers (request ids, blob ids, version ids, object uids).

os.urandom costs a system call each time, and a PUT needs several ids; this draws them from a
per-process buffer refilled 4 KiB at a time from os.urandom. The buffer is dropped in a forked
child so two workers never hand out the same bytes. Cryptographic keys, nonces and salts do not
come from here: sealbox.crypto draws those from os.urandom directly.
"""

from __future__ import annotations

import base64
import os
import threading

_POOL = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def _reset() -> None:
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_reset)


def random_bytes(n: int) -> bytes:
    global _buffer, _offset
    with _lock:
        if _offset + n > len(_buffer):
            _buffer, _offset = os.urandom(max(_POOL, n)), 0
        out = _buffer[_offset:_offset + n]
        _offset += n
    return out


def hex_id(nbytes: int) -> str:
    return random_bytes(nbytes).hex()


def urlsafe_id(nbytes: int) -> str:
    return base64.urlsafe_b64encode(random_bytes(nbytes)).rstrip(b"=").decode()
