"""The BlobStore protocol: where the stored bytes of object extents live.

The service layer (objects, copy, multipart, the read/write pipeline, scrub, gc) sees blobs only
through this interface, never through file paths, so another backend (a shared file system for
several gateways, an existing object store as the data tier) can slot in beside
``storage.data.local.LocalBlobStore``. Every backend passes ``tests/contract/test_blobstore.py``.

A blob is written once and never changed:

- ``new_writer()`` starts a blob; its bytes become visible to ``open`` only after ``commit()``
  (durable first: acknowledged means on stable storage), and ``abort()`` leaves nothing behind.
  A writer asked to ``inline`` may keep a small body in memory instead of storing it
  (``inline_data`` after ``commit()``): the metadata store then holds those bytes, in the same
  transaction as the version row.
- ``open()`` returns a handle for exact ranged reads. A handle stays readable after the blob is
  deleted (a GET that began before an overwrite finishes with the bytes it started with).
- ``delete()`` forgets blobs (a missing one is not an error: deletes race with gc).
- ``blob_ids()``, ``stat()`` and ``temp_blobs()`` let gc and scrub find what nothing references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from sealbox.core.types import Buffer

__all__ = ["BlobHandle", "BlobInfo", "BlobNotFound", "BlobStore", "BlobWriter", "Buffer", "BytesHandle",
           "NotResident", "ShortBlob", "TempBlob"]


class BlobNotFound(FileNotFoundError):
    """The blob does not exist (never written, or deleted since its metadata was read)."""


class ShortBlob(Exception):
    """The stored blob holds fewer bytes than a read asked for: it was truncated behind our back."""


class NotResident(Exception):
    """Part of a range would have to wait for the disk; nothing was read (``resident_only`` reads)."""


@dataclass(frozen=True)
class BlobInfo:
    blob_id: str
    size: int  # stored bytes
    mtime: float  # epoch seconds of the last write (gc's grace period is measured from it)
    location: str  # where an operator finds it (a path), for reports


@dataclass(frozen=True)
class TempBlob:
    """A write in progress, or the remains of one an interrupted process left behind."""

    name: str
    size: int
    mtime: float
    location: str


class BlobHandle(Protocol):
    """An open blob. Not shared between threads while a read is in progress."""

    @property
    def size(self) -> int:
        """Stored bytes, as the backend holds them now (compared with the metadata's expectation)."""
        ...

    def read(self, offset: int, length: int, *, resident_only: bool = False) -> Buffer:
        """Exactly ``length`` stored bytes from ``offset`` (blocking; raises ShortBlob if fewer exist).

        ``resident_only`` is for the event loop's own thread: the read must not wait for a disk;
        it raises NotResident (having read nothing) unless the bytes are in memory already.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> BlobHandle: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class BlobWriter(Protocol):
    """A blob being written: ``write`` pieces in order, then ``commit()`` or ``abort()``."""

    blob_id: str
    written: int  # stored bytes written so far
    inline_data: bytes | None  # set by commit() when the bytes stay out of the store

    @property
    def inline(self) -> bool:
        """Whether commit() will keep the bytes written so far for the metadata store."""
        ...

    def write(self, data: Buffer) -> None: ...

    def commit(self) -> None:
        """Make the blob durable and visible (blocking), or keep it inline; raises on failure."""
        ...

    def abort(self) -> None:
        """Remove whatever was written; safe after a failed commit."""
        ...


class BlobStore(Protocol):
    def new_writer(self, inline: bool = False) -> BlobWriter:
        """A writer for a new blob with a fresh random id."""
        ...

    def open(self, blob_id: str) -> BlobHandle:
        """Open for ranged reads; raises BlobNotFound if it is gone."""
        ...

    def read_whole(self, blob_id: str, expected: int) -> bytes:
        """A small blob's bytes at once (one system call for files). Returns up to ``expected + 1``
        bytes, so a grown blob shows up as a wrong size just like a truncated one; the caller
        compares. Raises BlobNotFound if it is gone."""
        ...

    def stat(self, blob_id: str) -> BlobInfo | None:
        """Size and age of a committed blob, or None if it does not exist."""
        ...

    def delete(self, blob_ids: Iterable[str]) -> None:
        """Forget committed blobs; already missing ones are skipped."""
        ...

    def blob_ids(self) -> Iterator[str]:
        """Every committed blob (for gc and scrub; the listing may race with writes)."""
        ...

    def temp_blobs(self) -> Iterator[TempBlob]:
        """Writes not (yet) committed: in progress, or left by an interrupted process."""
        ...

    def remove_temp(self, name: str) -> None:
        """Remove an uncommitted write's remains (gc of an interrupted write)."""
        ...

    def location(self, blob_id: str) -> str:
        """Where an operator would look for this blob (a path), for reports and logs."""
        ...


class BytesHandle:
    """A BlobHandle over bytes already in memory (an inline extent's row), for code that reads
    stored extents one way whatever holds them (scrub)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read(self, offset: int, length: int, *, resident_only: bool = False) -> Buffer:
        data = self._data[offset: offset + length]
        if len(data) != length or offset < 0:
            raise ShortBlob(f"wanted {length} bytes at {offset}, {len(self._data)} stored")
        return data

    def close(self) -> None:
        pass

    def __enter__(self) -> BytesHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
