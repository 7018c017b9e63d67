"""Reading blob files through the page cache: exact mapped reads, residency checks, populate.

Moved here from the read pipeline so that it sits behind the BlobStore protocol: only the local
file backend knows that its blobs are files the kernel caches. ``LocalBlobHandle.read`` uses it.

Why map at all: decryption then reads the page cache directly, where ``pread`` would first copy
every byte into a new buffer (~15 % of a large SSE GET's server CPU, measured with perf).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import mmap
import os

from sealbox.core import libc
from sealbox.storage.data.base import NotResident, ShortBlob

MAP_THRESHOLD = 256 * 1024  # smaller reads: one pread costs less than a mapping
_MADV_POPULATE_READ = 22  # Linux >= 5.14; Python 3.11's mmap module does not name it
_can_populate = True
# mmap.madvise() holds the GIL while the kernel reads the pages from the disk (measured: a 125 ms
# stall of the event loop for 256 MiB not in the page cache), so populating through it in a worker
# thread would still stop the loop. libc's madvise through ctypes releases the GIL.
_madvise = libc.function("madvise", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int))
_mincore = libc.function("mincore", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p))


def can_populate() -> bool:
    """Whether mapped reads are possible here (False once the kernel refused MADV_POPULATE_READ)."""
    return _can_populate


def _address(mapped: mmap.mmap) -> int:
    exported = (ctypes.c_char * len(mapped)).from_buffer(mapped)  # needs a writable (copy) mapping
    address = ctypes.addressof(exported)
    del exported  # a buffer export would keep the mapping from being closed
    return address


def _populate(address: int, size: int) -> int:
    """Fault in every page of the mapping at ``address`` (GIL released); 0, or the errno of madvise."""
    if _madvise is None:
        return errno.EINVAL
    if _madvise(address, size, _MADV_POPULATE_READ) == 0:
        return 0
    return ctypes.get_errno()


def _resident(address: int, size: int) -> bool:
    """Whether every page of the mapping at ``address`` is in the page cache now (mincore; False
    when that cannot be told)."""
    if _mincore is None:
        return False
    pages = -(-size // mmap.PAGESIZE)
    vector = ctypes.create_string_buffer(pages)
    if _mincore(address, size, vector) != 0:
        return False
    mask = _resident_mask(pages)  # bit 0 of each byte says "resident"; the other bits are reserved
    return int.from_bytes(vector.raw, "little") & mask == mask


@functools.cache
def _resident_mask(pages: int) -> int:
    return int.from_bytes(b"\x01" * pages, "little")


def map_exact(fd: int, offset: int, length: int, resident_only: bool = False) -> memoryview | None:
    """Stored bytes [offset, offset+length) as a view of a fresh mapping of the file ``fd``.

    The mapping covers this buffer only and goes away with the last view of it, so memory stays as
    flat as with ``pread``. It is a private (copy-on-write) mapping only so that ctypes can take its
    address; nothing ever writes to it, so it shares the page cache's pages. Its pages are populated
    here, without the GIL (in the reader's thread, or on the event loop when they are all in the
    page cache): a page that cannot be read fails now, as an OSError, instead of as a SIGBUS in the
    event loop's thread later. None on a kernel that cannot populate (before Linux 5.14) or a file
    system that cannot map: the caller reads with ``pread``, which never blocks the loop either.

    ``resident_only`` is for the event loop's own thread: if any page is not in the page cache it
    raises NotResident instead of waiting for the disk (a page evicted between the check and the
    populate would make the loop wait for that one read). Raises ShortBlob past the end of the file.
    """
    global _can_populate
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        mapped = mmap.mmap(fd, offset + length - start, access=mmap.ACCESS_COPY, offset=start)
    except ValueError:  # the file is shorter than the range (mmap checks the size)
        raise ShortBlob(f"short read: wanted {length} bytes at {offset}") from None
    except OSError:  # a file system that cannot map files: read it
        return None
    address = _address(mapped)
    if resident_only and not _resident(address, len(mapped)):
        mapped.close()
        raise NotResident
    failed = _populate(address, len(mapped))
    if failed:
        mapped.close()
        if failed in (errno.EFAULT, errno.EIO):  # a page that cannot be read: as pread would fail
            raise OSError(failed, os.strerror(failed))
        if failed == errno.EINVAL:  # this kernel cannot populate: never map again
            _can_populate = False
        return None  # anything else (EINTR, EAGAIN, ENOMEM): read this buffer with pread
    return memoryview(mapped)[offset - start:]


def read_exact(fd: int, offset: int, length: int) -> bytes:
    data = os.pread(fd, length, offset)  # one system call; no shared file position
    if len(data) != length:
        raise ShortBlob(f"short read: wanted {length} bytes at {offset}, got {len(data)}")
    return data


def read_range(fd: int, offset: int, length: int, resident_only: bool) -> bytes | memoryview:
    """Exactly [offset, offset+length) of the file: mapped when that pays (large, or on the event
    loop, where a thread hand-off costs more than a mapping), else one ``pread``."""
    if _can_populate and (length >= MAP_THRESHOLD or resident_only):
        mapped = map_exact(fd, offset, length, resident_only)
        if mapped is not None:
            return mapped
    if resident_only:  # a pread cannot promise not to wait for the disk
        raise NotResident
    return read_exact(fd, offset, length)
